// Bindings of contrastive/: options, model, trainer, losses and retrieval evaluation. The
// Python API lives in python/spatialembed/contrastive.py. Only LibTorch-free headers are
// included, so this file compiles fast.

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/contrastive/evaluation.hpp"
#include "spatialembed/contrastive/trainer.hpp"

namespace spatialembed::bindings {

namespace {

py::array_t<float> rows(std::vector<float>&& values, std::size_t n, std::size_t d) {
  return to_numpy(std::move(values)).attr("reshape")(py::make_tuple(static_cast<py::ssize_t>(n),
                                                                     static_cast<py::ssize_t>(d)));
}

std::pair<std::size_t, std::size_t> shape2(const CArray<float>& x, const char* name) {
  SPATIALEMBED_CHECK(x.ndim() == 2, InvalidArgument, "{} must be 2-D (n, d), got {} dimension(s)", name, x.ndim());
  return {static_cast<std::size_t>(x.shape(0)), static_cast<std::size_t>(x.shape(1))};
}

void check_tiles(const CArray<std::uint8_t>& tiles) {
  SPATIALEMBED_CHECK(tiles.ndim() == 4 && tiles.shape(3) == 3, InvalidArgument,
                     "tiles must be uint8 (n, height, width, 3), got {} dimension(s)", tiles.ndim());
}

// The step callback: with the GIL, Ctrl-C stops; a callable returning False stops.
// The callable is held through a shared_ptr whose deleter takes the GIL, so the trainer may
// copy and destroy the std::function without it.
ContrastiveCallback python_callback(const py::object& callback) {
  std::shared_ptr<py::object> held(new py::object(callback), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
  return [held](const ContrastiveStep& step) {
    py::gil_scoped_acquire gil;
    if (interrupted()) return false;
    if (held->is_none()) return true;
    const py::object keep_going = (*held)(step);
    return keep_going.is_none() || keep_going.cast<bool>();
  };
}

}  // namespace

void bind_contrastive(py::module_& m) {
  py::class_<ContrastiveOptions>(m, "ContrastiveOptions",
                                 "Options of the contrastive image-gene model and trainer (contrastive/options.hpp)")
      .def(py::init<>())
      .def_readwrite("backbone", &ContrastiveOptions::backbone,
                     "\"resnet50\", \"xception\", \"torchscript\" or \"features\" (feature matrix as image input)")
      .def_readwrite("weights", &ContrastiveOptions::weights,
                     "backbone weights path (\"\" = resnet50's default) or \"random\"")
      .def_readwrite("input_size", &ContrastiveOptions::input_size, "network input side, pixels; 0 = the backbone's")
      .def_readwrite("normalization", &ContrastiveOptions::normalization,
                     "\"\" = the backbone's; \"caffe\", \"tf\", \"torch\", \"none\"")
      .def_property(
          "mean", [](const ContrastiveOptions& o) { return o.normalization_constants.mean; },
          [](ContrastiveOptions& o, std::array<float, 3> v) { o.normalization_constants.mean = v; },
          "RGB mean on [0, 1] of the \"torch\" normalisation")
      .def_property(
          "std", [](const ContrastiveOptions& o) { return o.normalization_constants.std; },
          [](ContrastiveOptions& o, std::array<float, 3> v) { o.normalization_constants.std = v; },
          "RGB std on [0, 1] of the \"torch\" normalisation")
      .def_property(
          "train_backbone", [](const ContrastiveOptions& o) { return to_string(o.train_backbone); },
          [](ContrastiveOptions& o, const std::string& v) { o.train_backbone = parse_train_backbone(v); },
          "\"none\", \"last_stage\" or \"all\"")
      .def_readwrite("cache_features", &ContrastiveOptions::cache_features,
                     "frozen backbone without augmentation: features computed once per tile")
      .def_readwrite("feature_batch_size", &ContrastiveOptions::feature_batch_size,
                     "tiles per backbone pass when caching or encoding; >= 1")
      .def_readwrite("latent_dim", &ContrastiveOptions::latent_dim, "embedding width; 1-65536")
      .def_property(
          "gene_encoder", [](const ContrastiveOptions& o) { return to_string(o.gene_encoder); },
          [](ContrastiveOptions& o, const std::string& v) { o.gene_encoder = parse_gene_encoder(v); },
          "\"linear\", \"projection_head\" or \"mlp\"")
      .def_readwrite("mlp_hidden", &ContrastiveOptions::mlp_hidden, "hidden widths of the mlp gene encoder")
      .def_readwrite("dropout", &ContrastiveOptions::dropout, "dropout probability; [0, 1)")
      .def_property(
          "loss", [](const ContrastiveOptions& o) { return to_string(o.loss); },
          [](ContrastiveOptions& o, const std::string& v) { o.loss = parse_contrastive_loss(v); }, "\"clip\" or \"bleep\"")
      .def_readwrite("logit_scale_init", &ContrastiveOptions::logit_scale_init, "initial ln(s): ln(1/0.07)")
      .def_readwrite("logit_scale_max", &ContrastiveOptions::logit_scale_max, "clamp of ln(s): ln 100")
      .def_readwrite("learn_logit_scale", &ContrastiveOptions::learn_logit_scale, "clip: ln(s) trains")
      .def_readwrite("temperature", &ContrastiveOptions::temperature, "bleep temperature; > 0")
      .def_readwrite("lr", &ContrastiveOptions::lr, "peak learning rate; > 0")
      .def_readwrite("betas", &ContrastiveOptions::betas, "Adam (beta1, beta2)")
      .def_readwrite("eps", &ContrastiveOptions::eps, "Adam epsilon; > 0")
      .def_readwrite("weight_decay", &ContrastiveOptions::weight_decay,
                     "AdamW decoupled weight decay of weight matrices / kernels; >= 0")
      .def_readwrite("warmup_steps", &ContrastiveOptions::warmup_steps, "linear warm-up, steps")
      .def_property(
          "schedule", [](const ContrastiveOptions& o) { return to_string(o.schedule); },
          [](ContrastiveOptions& o, const std::string& v) { o.schedule = parse_lr_schedule(v); },
          "\"cosine\" or \"constant\"")
      .def_readwrite("min_lr", &ContrastiveOptions::min_lr, "cosine floor")
      .def_readwrite("grad_clip", &ContrastiveOptions::grad_clip, "max global gradient L2 norm; 0 = off")
      .def_readwrite("batch_size", &ContrastiveOptions::batch_size, "pairs per step; >= 2")
      .def_readwrite("epochs", &ContrastiveOptions::epochs, "passes over the training pairs; >= 1")
      .def_readwrite("seed", &ContrastiveOptions::seed)
      .def_readwrite("num_threads", &ContrastiveOptions::num_threads, "0 = all cores")
      .def_readwrite("device", &ContrastiveOptions::device, "\"cpu\", \"cuda\" or \"cuda:N\"")
      .def_readwrite("deterministic", &ContrastiveOptions::deterministic,
                     "CPU results independent of num_threads (slower backbone training)")
      .def_readwrite("flips", &ContrastiveOptions::flips, "random horizontal / vertical flips")
      .def_readwrite("rotations", &ContrastiveOptions::rotations, "random 90-degree rotations (square tiles)")
      .def_readwrite("jitter_brightness", &ContrastiveOptions::jitter_brightness,
                     "colour jitter: brightness factor in [max(0, 1 - b), 1 + b]; >= 0 (0 = off)")
      .def_readwrite("jitter_contrast", &ContrastiveOptions::jitter_contrast,
                     "colour jitter: contrast factor in [max(0, 1 - c), 1 + c]; >= 0 (0 = off)")
      .def_readwrite("jitter_saturation", &ContrastiveOptions::jitter_saturation,
                     "colour jitter: saturation factor in [max(0, 1 - s), 1 + s]; >= 0 (0 = off)")
      .def_readwrite("jitter_hue", &ContrastiveOptions::jitter_hue,
                     "colour jitter: hue shift in [-h, h] of a turn; [0, 0.5] (0 = off)")
      .def_readwrite("loader_threads", &ContrastiveOptions::loader_threads,
                     "threads preparing the next batches of tiles; 0 = on the calling thread; 0-64")
      .def_readwrite("prefetch_batches", &ContrastiveOptions::prefetch_batches,
                     "batches prepared ahead by the loader; 1-64")
      .def_readwrite("validation_groups", &ContrastiveOptions::validation_groups, "groups held out for validation")
      .def_readwrite("patience", &ContrastiveOptions::patience, "early stopping patience, epochs; 0 = never")
      .def_readwrite("restore_best", &ContrastiveOptions::restore_best, "end with the best validation epoch")
      .def_readwrite("checkpoint", &ContrastiveOptions::checkpoint, "checkpoint file; \"\" = none")
      .def_readwrite("checkpoint_every", &ContrastiveOptions::checkpoint_every, "also every this many steps")
      .def_readwrite("resume", &ContrastiveOptions::resume, "checkpoint to resume from")
      .def_readwrite("log_csv", &ContrastiveOptions::log_csv, "per-step CSV log; \"\" = none")
      .def_readwrite("distributed", &ContrastiveOptions::distributed,
                     "data parallelism (DistributedOptions; torchrun's environment by default)")
      .def("validate", &ContrastiveOptions::validate);

  py::class_<ContrastiveStep>(m, "ContrastiveStep", "What the trainer reports after each step")
      .def_readonly("step", &ContrastiveStep::step)
      .def_readonly("total_steps", &ContrastiveStep::total_steps)
      .def_readonly("epoch", &ContrastiveStep::epoch)
      .def_readonly("loss", &ContrastiveStep::loss)
      .def_readonly("logit_scale", &ContrastiveStep::logit_scale)
      .def_readonly("lr", &ContrastiveStep::lr)
      .def_readonly("samples_per_second", &ContrastiveStep::samples_per_second)
      .def_readonly("validation_loss", &ContrastiveStep::validation_loss);

  py::class_<ContrastiveFitResult>(m, "ContrastiveFitResult", "What ContrastiveTrainer.fit did")
      .def_readonly("steps", &ContrastiveFitResult::steps)
      .def_readonly("epochs", &ContrastiveFitResult::epochs)
      .def_readonly("train_pairs", &ContrastiveFitResult::train_pairs)
      .def_readonly("validation_pairs", &ContrastiveFitResult::validation_pairs)
      .def_readonly("final_loss", &ContrastiveFitResult::final_loss)
      .def_readonly("best_validation_loss", &ContrastiveFitResult::best_validation_loss)
      .def_readonly("best_epoch", &ContrastiveFitResult::best_epoch)
      .def_readonly("stopped_early", &ContrastiveFitResult::stopped_early)
      .def_readonly("features_cached", &ContrastiveFitResult::features_cached)
      .def_readonly("feature_seconds", &ContrastiveFitResult::feature_seconds)
      .def_readonly("train_seconds", &ContrastiveFitResult::train_seconds)
      .def_readonly("samples_per_second", &ContrastiveFitResult::samples_per_second)
      .def_readonly("epoch_loss", &ContrastiveFitResult::epoch_loss)
      .def_readonly("validation_loss", &ContrastiveFitResult::validation_loss)
      .def_readonly("world_size", &ContrastiveFitResult::world_size)
      .def_readonly("rank", &ContrastiveFitResult::rank)
      .def_readonly("gather_seconds", &ContrastiveFitResult::gather_seconds)
      .def_readonly("reduce_seconds", &ContrastiveFitResult::reduce_seconds);

  py::class_<ContrastiveModel>(m, "ContrastiveModel", "A trained contrastive image-gene model")
      .def(py::init([](const ContrastiveOptions& options, std::size_t n_genes, std::size_t feature_dim) {
             py::gil_scoped_release release;
             return ContrastiveModel(options, n_genes, feature_dim);
           }),
           py::arg("options"), py::arg("n_genes"), py::arg("feature_dim") = 0,
           "A new (untrained) model: the backbone with its weights, the heads from options.seed")
      .def_static(
          "load",
          [](const std::string& path, const std::string& device, int num_threads) {
            py::gil_scoped_release release;
            return ContrastiveModel::load(path, device, num_threads);
          },
          py::arg("path"), py::arg("device") = "cpu", py::arg("num_threads") = 0)
      .def(
          "save",
          [](const ContrastiveModel& model, const std::string& path) {
            py::gil_scoped_release release;
            model.save(path);
          },
          py::arg("path"))
      .def_property_readonly("options", &ContrastiveModel::options)
      .def_property_readonly("n_genes", &ContrastiveModel::n_genes)
      .def_property_readonly("latent_dim", &ContrastiveModel::latent_dim)
      .def_property_readonly("feature_dim", &ContrastiveModel::feature_dim)
      .def_property_readonly("input_size", &ContrastiveModel::input_size)
      .def_property_readonly("logit_scale", &ContrastiveModel::logit_scale)
      .def_property_readonly("architecture", &ContrastiveModel::architecture)
      .def("parameter_count", &ContrastiveModel::parameter_count, py::arg("trainable_only") = false)
      .def(
          "image_features",
          [](const ContrastiveModel& model, const CArray<std::uint8_t>& tiles) {
            check_tiles(tiles);
            const auto n = static_cast<std::size_t>(tiles.shape(0));
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = model.image_features(tiles.data(), n, static_cast<std::size_t>(tiles.shape(1)),
                                         static_cast<std::size_t>(tiles.shape(2)));
            }
            return rows(std::move(out), n, model.feature_dim());
          },
          py::arg("tiles"))
      .def(
          "encode_images",
          [](const ContrastiveModel& model, const CArray<std::uint8_t>& tiles, bool normalize) {
            check_tiles(tiles);
            const auto n = static_cast<std::size_t>(tiles.shape(0));
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = model.encode_images(tiles.data(), n, static_cast<std::size_t>(tiles.shape(1)),
                                        static_cast<std::size_t>(tiles.shape(2)), normalize);
            }
            return rows(std::move(out), n, model.latent_dim());
          },
          py::arg("tiles"), py::arg("normalize") = true)
      .def(
          "encode_features",
          [](const ContrastiveModel& model, const CArray<float>& features, bool normalize) {
            const auto [n, d] = shape2(features, "features");
            SPATIALEMBED_CHECK(d == model.feature_dim(), InvalidArgument, "features must have {} columns, got {}",
                               model.feature_dim(), d);
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = model.encode_features(features.data(), n, normalize);
            }
            return rows(std::move(out), n, model.latent_dim());
          },
          py::arg("features"), py::arg("normalize") = true)
      .def(
          "encode_genes",
          [](const ContrastiveModel& model, const CArray<float>& expression, bool normalize) {
            const auto [n, g] = shape2(expression, "expression");
            SPATIALEMBED_CHECK(g == model.n_genes(), InvalidArgument,
                               "expression must have the model's {} genes as columns, got {}", model.n_genes(), g);
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = model.encode_genes(expression.data(), n, normalize);
            }
            return rows(std::move(out), n, model.latent_dim());
          },
          py::arg("expression"), py::arg("normalize") = true);

  py::class_<ContrastiveTrainer>(m, "ContrastiveTrainer", "Trains a ContrastiveModel")
      .def(py::init<ContrastiveOptions>(), py::arg("options"))
      .def_property_readonly("options", &ContrastiveTrainer::options)
      .def_property_readonly("fitted", &ContrastiveTrainer::fitted)
      .def_property_readonly("model", py::overload_cast<>(&ContrastiveTrainer::model, py::const_),
                             py::return_value_policy::reference_internal)
      .def(
          "fit",
          [](ContrastiveTrainer& trainer, const CArray<float>& expression, const std::optional<CArray<std::uint8_t>>& tiles,
             const std::optional<CArray<float>>& features, const std::optional<CArray<std::int32_t>>& group,
             const py::object& callback) {
            const auto [n, g] = shape2(expression, "expression");
            PairedData data;
            data.n = n;
            data.expression = expression.data();
            data.n_genes = g;
            if (tiles) {
              check_tiles(*tiles);
              SPATIALEMBED_CHECK(static_cast<std::size_t>(tiles->shape(0)) == n, InvalidArgument,
                                 "tiles has {} rows, expression {}", tiles->shape(0), n);
              data.tiles = tiles->data();
              data.height = static_cast<std::size_t>(tiles->shape(1));
              data.width = static_cast<std::size_t>(tiles->shape(2));
            }
            if (features) {
              const auto [fn, fd] = shape2(*features, "features");
              SPATIALEMBED_CHECK(fn == n, InvalidArgument, "features has {} rows, expression {}", fn, n);
              data.features = features->data();
              data.feature_dim = fd;
            }
            if (group) data.group.assign(group->data(), group->data() + group->size());
            // The callback and Ctrl-C go through a copy of the options.
            ContrastiveOptions options = trainer.options();
            options.callback = python_callback(callback);
            ContrastiveTrainer run(options);
            ContrastiveFitResult result;
            {
              py::gil_scoped_release release;
              result = run.fit(data);
            }
            trainer = std::move(run);
            return result;
          },
          py::arg("expression"), py::arg("tiles") = py::none(), py::arg("features") = py::none(),
          py::arg("group") = py::none(), py::arg("callback") = py::none());

  m.def(
      "color_jitter",
      [](const CArray<std::uint8_t>& tile, double brightness, double contrast, double saturation, double hue,
         std::vector<int> order) {
        SPATIALEMBED_CHECK(tile.ndim() == 3 && tile.shape(2) == 3, InvalidArgument,
                           "tile must be uint8 (height, width, 3), got {} dimension(s)", tile.ndim());
        SPATIALEMBED_CHECK(order.size() <= 4, InvalidArgument, "order lists at most the 4 adjustments, got {}",
                           order.size());
        ColorJitterFactors f;
        f.brightness = brightness;
        f.contrast = contrast;
        f.saturation = saturation;
        f.hue = hue;
        std::array<bool, 4> used{};
        for (std::size_t i = 0; i < order.size(); ++i) {
          SPATIALEMBED_CHECK(order[i] >= 0 && order[i] < 4 && !used[static_cast<std::size_t>(order[i])],
                             InvalidArgument, "order must hold distinct adjustments 0-3, got {}", order[i]);
          used[static_cast<std::size_t>(order[i])] = true;
          f.order[i] = order[i];
        }
        for (std::size_t i = order.size(), next = 0; i < 4; ++i) {  // the unused ones, switched off
          while (used[next]) ++next;
          f.order[i] = static_cast<int>(next);
          used[next] = true;
        }
        f.use_brightness = std::find(order.begin(), order.end(), 0) != order.end();
        f.use_contrast = std::find(order.begin(), order.end(), 1) != order.end();
        f.use_saturation = std::find(order.begin(), order.end(), 2) != order.end();
        f.use_hue = std::find(order.begin(), order.end(), 3) != order.end();
        std::vector<std::uint8_t> out(tile.data(), tile.data() + tile.size());
        color_jitter(out.data(), static_cast<std::size_t>(tile.shape(0)), static_cast<std::size_t>(tile.shape(1)), f);
        return to_numpy(std::move(out)).attr("reshape")(py::make_tuple(tile.shape(0), tile.shape(1), 3));
      },
      py::arg("tile"), py::arg("brightness") = 1.0, py::arg("contrast") = 1.0, py::arg("saturation") = 1.0,
      py::arg("hue") = 0.0, py::arg("order") = std::vector<int>{0, 1, 2, 3},
      "One colour jitter of a (height, width, 3) uint8 tile with given factors: the adjustments listed in `order` "
      "(0 brightness, 1 contrast, 2 saturation, 3 hue), in that order, as torchvision's functional adjust_* on uint8");
  m.def(
      "clip_loss",
      [](const CArray<float>& image, const CArray<float>& gene, double logit_scale) {
        const auto [n, d] = shape2(image, "image");
        const auto [gn, gd] = shape2(gene, "gene");
        SPATIALEMBED_CHECK(n == gn && d == gd, InvalidArgument, "image ({} x {}) and gene ({} x {}) must match", n, d, gn,
                           gd);
        return clip_loss(image.data(), gene.data(), n, d, logit_scale);
      },
      py::arg("image"), py::arg("gene"), py::arg("logit_scale"));
  m.def(
      "bleep_loss",
      [](const CArray<float>& image, const CArray<float>& gene, double temperature) {
        const auto [n, d] = shape2(image, "image");
        const auto [gn, gd] = shape2(gene, "gene");
        SPATIALEMBED_CHECK(n == gn && d == gd, InvalidArgument, "image ({} x {}) and gene ({} x {}) must match", n, d, gn,
                           gd);
        return bleep_loss(image.data(), gene.data(), n, d, temperature);
      },
      py::arg("image"), py::arg("gene"), py::arg("temperature") = 1.0);

  m.def(
      "predict_expression",
      [](const CArray<float>& query, const CArray<float>& reference, const CArray<float>& reference_expression,
         std::size_t k, const std::string& aggregation, int num_threads) {
        const auto [nq, d] = shape2(query, "query");
        const auto [nr, dr] = shape2(reference, "reference");
        const auto [ne, g] = shape2(reference_expression, "reference_expression");
        SPATIALEMBED_CHECK(d == dr, InvalidArgument, "query and reference widths differ: {} and {}", d, dr);
        SPATIALEMBED_CHECK(ne == nr, InvalidArgument, "reference_expression has {} rows, reference {}", ne, nr);
        RetrievalOptions o;
        o.k = k;
        o.aggregation = parse_retrieval_aggregation(aggregation);
        o.num_threads = num_threads;
        std::vector<float> out;
        {
          py::gil_scoped_release release;
          out = predict_expression(query.data(), nq, reference.data(), nr, d, reference_expression.data(), g, o);
        }
        return rows(std::move(out), nq, g);
      },
      py::arg("query"), py::arg("reference"), py::arg("reference_expression"), py::arg("k") = 50,
      py::arg("aggregation") = "mean", py::arg("num_threads") = 0);
  m.def(
      "nearest_by_cosine",
      [](const CArray<float>& query, const CArray<float>& reference, std::size_t k, int num_threads) {
        const auto [nq, d] = shape2(query, "query");
        const auto [nr, dr] = shape2(reference, "reference");
        SPATIALEMBED_CHECK(d == dr, InvalidArgument, "query and reference widths differ: {} and {}", d, dr);
        std::vector<std::uint32_t> out;
        {
          py::gil_scoped_release release;
          out = nearest_by_cosine(query.data(), nq, reference.data(), nr, d, k, num_threads);
        }
        return to_numpy(std::move(out)).attr("reshape")(py::make_tuple(nq, k));
      },
      py::arg("query"), py::arg("reference"), py::arg("k"), py::arg("num_threads") = 0);
  m.def(
      "pearson_per_gene",
      [](const CArray<float>& predicted, const CArray<float>& measured) {
        const auto [n, g] = shape2(predicted, "predicted");
        const auto [mn, mg] = shape2(measured, "measured");
        SPATIALEMBED_CHECK(n == mn && g == mg, InvalidArgument, "predicted ({} x {}) and measured ({} x {}) must match",
                           n, g, mn, mg);
        return to_numpy(pearson_per_gene(predicted.data(), measured.data(), n, g));
      },
      py::arg("predicted"), py::arg("measured"));
  m.def(
      "highest_mean_genes",
      [](const CArray<float>& expression, std::size_t count) {
        const auto [n, g] = shape2(expression, "expression");
        return to_numpy(highest_mean_genes(expression.data(), n, g, count));
      },
      py::arg("expression"), py::arg("count"));
}

}  // namespace spatialembed::bindings
