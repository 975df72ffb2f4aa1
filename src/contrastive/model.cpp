// ContrastiveModel: backbone + projections + gene encoder, their initialisation and files.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/nn/functional/activation.h>
#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "contrastive/network.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/nn/embedder.hpp"
#include "spatialembed/nn/keras_weights.hpp"
#include "spatialembed/nn/resnet50.hpp"
#include "spatialembed/nn/xception.hpp"
#include "spatialembed/nn/activation_arena.hpp"

namespace spatialembed {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace detail {

namespace {
constexpr const char* kFormat = "spatialembed.contrastive.v1";

// Weights and biases of a Linear as PyTorch initialises them (kaiming_uniform with a = √5 and
// the bias bound, both ±1/√fan_in), from `gen`.
void init_linear(torch::nn::LinearImpl& layer, at::Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(layer.weight.size(1)));
  layer.weight.uniform_(-bound, bound, gen);
  if (layer.bias.defined()) layer.bias.uniform_(-bound, bound, gen);
}

// Keras's defaults for a network built from scratch: glorot-uniform kernels, zero biases,
// BatchNorm γ = 1, β = 0 (moving statistics 0 and 1 as constructed).
void init_keras_random(KerasBackboneImpl& net, at::Generator& gen) {
  for (auto& item : net.named_parameters(true)) {
    auto& p = item.value();
    const std::string& name = item.key();
    if (p.dim() >= 2) {
      const double receptive = p.dim() > 2 ? static_cast<double>(p[0][0].numel()) : 1.0;
      const double fan_in = static_cast<double>(p.size(1)) * receptive, fan_out = static_cast<double>(p.size(0)) * receptive;
      // A depthwise kernel (in × 1 × k × k) maps one channel to one: Keras counts fan_in = fan_out = k·k.
      const bool depthwise = name.find("depthwise") != std::string::npos;
      const double limit = depthwise ? std::sqrt(6.0 / (2 * receptive)) : std::sqrt(6.0 / (fan_in + fan_out));
      p.uniform_(-limit, limit, gen);
    } else if (name.size() > 6 && name.compare(name.size() - 6, 6, "weight") == 0) {
      p.fill_(1.0);  // BatchNorm γ
    } else {
      p.zero_();
    }
  }
}

bool in_last_stage(const std::string& backbone, const std::string& name) {
  auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  if (backbone == "resnet50") return starts("res5") || starts("bn5");
  return starts("block13") || starts("block14") || starts("conv2d_7.") || starts("batch_normalization_7.");
}

bool is_classifier(const std::string& name) { return name.rfind("fc1000.", 0) == 0 || name.rfind("predictions.", 0) == 0; }

}  // namespace

torch::Tensor dropout(const torch::Tensor& x, double p, Rng* rng) {
  if (!rng || p <= 0) return x;
  const auto n = static_cast<std::size_t>(x.numel());
  std::vector<float> mask(n);
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  for (auto& m : mask) m = rng->uniform() >= p ? keep : 0.0f;
  auto m = torch::from_blob(mask.data(), x.sizes(), torch::kFloat32).to(x.device(), x.scalar_type(), false, true);
  return x * m;
}

LayerNormImpl::LayerNormImpl(std::int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
  bias = register_parameter("bias", torch::zeros({dim}));
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  auto centred = x - x.mean({-1}, true);
  auto var = (centred * centred).mean({-1}, true);
  return centred * torch::rsqrt(var + eps) * weight + bias;
}

double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm) {
  double sum = 0;
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (!g.defined()) continue;
    if (g.device().is_cpu() && g.scalar_type() == torch::kFloat32 && g.is_contiguous()) {
      const float* v = g.data_ptr<float>();
      for (std::int64_t i = 0, n = g.numel(); i < n; ++i) sum += static_cast<double>(v[i]) * v[i];
    } else {
      sum += g.to(torch::kFloat64).pow(2).sum().item<double>();
    }
  }
  const double norm = std::sqrt(sum), coef = max_norm / (norm + 1e-6);
  if (coef < 1) {
    torch::NoGradGuard no_grad;
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  }
  return norm;
}

EncoderImpl::EncoderImpl(GeneEncoder kind_, std::int64_t in, std::int64_t out, const std::vector<std::size_t>& hidden,
                         double dropout_)
    : kind(kind_), p(dropout_) {
  switch (kind) {
    case GeneEncoder::linear:
      projection = register_module("linear", torch::nn::Linear(in, out));
      break;
    case GeneEncoder::projection_head:
      projection = register_module("projection", torch::nn::Linear(in, out));
      fc = register_module("fc", torch::nn::Linear(out, out));
      layer_norm = register_module("layer_norm", LayerNorm(out));
      break;
    case GeneEncoder::mlp: {
      std::int64_t width = in;
      for (std::size_t i = 0; i <= hidden.size(); ++i) {
        const std::int64_t next = i < hidden.size() ? static_cast<std::int64_t>(hidden[i]) : out;
        layers.push_back(register_module("layer" + std::to_string(i), torch::nn::Linear(width, next)));
        width = next;
      }
      break;
    }
  }
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& x, Rng* rng) {
  switch (kind) {
    case GeneEncoder::linear:
      return projection(x);
    case GeneEncoder::projection_head: {
      auto projected = projection(x);
      auto y = fc(torch::gelu(projected));
      y = dropout(y, p, rng) + projected;
      return layer_norm(y);
    }
    case GeneEncoder::mlp: {
      auto y = x;
      for (std::size_t i = 0; i + 1 < layers.size(); ++i) y = dropout(torch::gelu(layers[i](y)), p, rng);
      return layers.back()(y);
    }
  }
  return x;
}

torch::Device parse_device(const std::string& device, const char* field) {
  if (device == "cpu") return torch::Device(torch::kCPU);
  SPATIALEMBED_CHECK(torch::cuda::is_available(), InvalidArgument,
                     "{} \"{}\": this LibTorch build has no CUDA support or no GPU is visible; use \"cpu\"", field,
                     device);
  torch::Device d(torch::kCPU);
  try {
    d = torch::Device(device);
  } catch (const c10::Error& e) {
    throw InvalidArgument(fmt::format("{} \"{}\" is not a device: {}", field, device, e.what_without_backtrace()));
  }
  SPATIALEMBED_CHECK(d.index() < static_cast<int>(torch::cuda::device_count()), InvalidArgument,
                     "{} \"{}\": only {} CUDA device(s) visible", field, device, torch::cuda::device_count());
  return d;
}

std::unique_ptr<ContrastiveModel::Impl> make_model(const ContrastiveOptions& o, std::size_t n_genes,
                                                   std::size_t feature_dim) {
  o.validate();
  SPATIALEMBED_CHECK(n_genes >= 1, InvalidArgument, "ContrastiveModel: n_genes must be >= 1, got 0");
  auto m = std::make_unique<ContrastiveModel::Impl>();
  m->options = o;
  m->n_genes = n_genes;
  m->device = parse_device(o.device, "ContrastiveOptions.device");
  TorchThreads threads(o.num_threads);
  torch::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);

  Normalization mode = Normalization::none;
  if (o.backbone == "features") {
    SPATIALEMBED_CHECK(feature_dim >= 1, InvalidArgument,
                       "ContrastiveModel: backbone \"features\" needs the feature width (PairedData.feature_dim), got 0");
    m->feature_dim = feature_dim;
  } else if (o.backbone == "torchscript") {
    std::error_code ec;
    SPATIALEMBED_CHECK(fs::is_regular_file(o.weights, ec), IOError, "TorchScript file {} not found", o.weights);
    auto module = std::make_shared<torch::jit::Module>();
    try {
      *module = torch::jit::load(o.weights, torch::kCPU);
    } catch (const c10::Error& e) {
      throw FormatError(
          fmt::format("{}: not a TorchScript module file (torch.jit.save): {}", o.weights, e.what_without_backtrace()));
    }
    module->eval();
    module->to(m->device, torch::kFloat32);
    const bool trains = o.train_backbone == TrainBackbone::all;
    for (const auto& item : module->named_parameters(true)) {
      item.value.set_requires_grad(trains);
      m->script_parameters.emplace_back(item.name, item.value);
    }
    const std::string path = o.weights;
    m->script = [module, path](const torch::Tensor& x) {
      torch::IValue out;
      try {
        out = module->forward({x});
      } catch (const c10::Error& e) {
        throw InvalidArgument(fmt::format("{}: forward failed on input {}: {}", path, fmt::join(x.sizes(), " x "),
                                          e.what_without_backtrace()));
      }
      SPATIALEMBED_CHECK(out.isTensor(), FormatError, "{}: forward must return one tensor N x D", path);
      auto y = out.toTensor();
      SPATIALEMBED_CHECK(y.dim() == 2 && y.size(0) == x.size(0), FormatError,
                         "{}: forward must return N x D = {} x D, got {}", path, x.size(0), fmt::join(y.sizes(), " x "));
      return y;
    };
    m->input_size = o.input_size;
    mode = Normalization::torch;
    const auto S = static_cast<std::int64_t>(m->input_size);
    m->feature_dim = static_cast<std::size_t>(
        m->script(torch::zeros({1, 3, S, S}, torch::TensorOptions().device(m->device))).size(1));
  } else {
    if (o.backbone == "resnet50") {
      m->keras = ResNet50().ptr();
      mode = Normalization::caffe;
    } else {
      m->keras = Xception().ptr();
      mode = Normalization::tf;
    }
    if (o.weights == "random") {
      init_keras_random(*m->keras, gen);
    } else {
      const std::string weights = o.weights.empty() ? default_weights_path(o.backbone) : o.weights;
      std::error_code ec;
      SPATIALEMBED_CHECK(!weights.empty(), InvalidArgument,
                         "ContrastiveOptions.weights: {} has no default weights; pass a Keras .h5 file or \"random\"",
                         o.backbone);
      SPATIALEMBED_CHECK(fs::exists(weights, ec), IOError,
                         "{} weights not found at {}. Run scripts/fetch_weights.sh (ResNet-50 into $SPATIALEMBED_CACHE, "
                         "default ~/.cache/spatialembed), pass the path of a TF.js model folder or a Keras .h5 file, or "
                         "\"random\"",
                         o.backbone, weights);
      m->keras->load_keras_weights(read_keras_weights(weights), false);
    }
    m->keras->to(m->device, torch::kFloat32);
    m->keras->eval();
    for (auto& item : m->keras->named_parameters(true)) {
      const bool trains = !is_classifier(item.key()) &&
                          (o.train_backbone == TrainBackbone::all ||
                           (o.train_backbone == TrainBackbone::last_stage && in_last_stage(o.backbone, item.key())));
      item.value().set_requires_grad(trains);
    }
    m->input_size = o.input_size ? o.input_size : static_cast<std::size_t>(m->keras->input_size());
    m->feature_dim = static_cast<std::size_t>(m->keras->feature_dim());
  }
  m->normalization = o.normalization_constants;
  m->normalization.mode = o.normalization.empty() ? mode : parse_normalization(o.normalization);

  const auto F = static_cast<std::int64_t>(m->feature_dim), L = static_cast<std::int64_t>(o.latent_dim);
  const GeneEncoder image_kind =
      o.gene_encoder == GeneEncoder::projection_head ? GeneEncoder::projection_head : GeneEncoder::linear;
  m->image_head = Encoder(image_kind, F, L, std::vector<std::size_t>{}, o.dropout);
  m->gene_head = Encoder(o.gene_encoder, static_cast<std::int64_t>(n_genes), L, o.mlp_hidden, o.dropout);
  for (auto* head : {&m->image_head, &m->gene_head}) {
    for (auto& module : (*head)->modules(false))
      if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(module.get())) init_linear(*linear, gen);
    (*head)->to(m->device);
  }
  m->logit_scale = torch::full({}, o.logit_scale_init, torch::TensorOptions().dtype(torch::kFloat32))
                       .to(m->device)
                       .set_requires_grad(o.loss == ContrastiveLoss::clip && o.learn_logit_scale);
  m->set_training(false);
  return m;
}

void open_archive(torch::serialize::InputArchive& archive, const std::string& path) {
  std::error_code ec;
  SPATIALEMBED_CHECK(fs::is_regular_file(path, ec), IOError, "contrastive model file {} not found", path);
  try {
    archive.load_from(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw FormatError(fmt::format("{}: not a spatialembed contrastive model or checkpoint: {}", path,
                                  e.what_without_backtrace()));
  }
  c10::IValue format;
  SPATIALEMBED_CHECK(archive.try_read("format", format) && format.isString() && format.toStringRef() == kFormat,
                     FormatError, "{}: not a spatialembed contrastive model or checkpoint (no \"{}\" format tag)", path,
                     kFormat);
}

void read_config(torch::serialize::InputArchive& archive, const std::string& source, ContrastiveOptions& o,
                 std::size_t& n_genes, std::size_t& feature_dim) {
  c10::IValue value;
  SPATIALEMBED_CHECK(archive.try_read("config", value) && value.isString(), FormatError, "{}: no model config", source);
  try {
    const json j = json::parse(value.toStringRef());
    o = ContrastiveOptions{};
    o.backbone = j.at("backbone").get<std::string>();
    o.weights = j.at("weights").get<std::string>();
    o.input_size = j.at("input_size").get<std::size_t>();
    o.normalization = j.at("normalization").get<std::string>();
    o.normalization_constants.mode = parse_normalization(j.at("normalization_mode").get<std::string>());
    o.normalization_constants.mean = j.at("mean").get<std::array<float, 3>>();
    o.normalization_constants.std = j.at("std").get<std::array<float, 3>>();
    o.train_backbone = parse_train_backbone(j.at("train_backbone").get<std::string>());
    o.latent_dim = j.at("latent_dim").get<std::size_t>();
    o.gene_encoder = parse_gene_encoder(j.at("gene_encoder").get<std::string>());
    o.mlp_hidden = j.at("mlp_hidden").get<std::vector<std::size_t>>();
    o.dropout = j.at("dropout").get<double>();
    o.loss = parse_contrastive_loss(j.at("loss").get<std::string>());
    o.logit_scale_init = j.at("logit_scale_init").get<double>();
    o.logit_scale_max = j.at("logit_scale_max").get<double>();
    o.learn_logit_scale = j.at("learn_logit_scale").get<bool>();
    o.temperature = j.at("temperature").get<double>();
    o.seed = j.at("seed").get<std::uint64_t>();
    n_genes = j.at("n_genes").get<std::size_t>();
    feature_dim = j.at("feature_dim").get<std::size_t>();
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: bad model config: {}", source, e.what()));
  } catch (const InvalidArgument& e) {
    throw FormatError(fmt::format("{}: bad model config: {}", source, e.what()));
  }
}

}  // namespace detail

// ---------------------------------------------------------------- Impl

torch::Tensor ContrastiveModel::Impl::backbone_forward(const torch::Tensor& x) const {
  SPATIALEMBED_CHECK(has_network(), InvalidArgument, "backbone \"features\" has no image network; pass features");
  auto input = x.to(device, torch::kFloat32);
  auto net = [&](const torch::Tensor& batch) { return keras ? keras->features(batch) : script(batch); };
  const bool backbone_trains = options.train_backbone != TrainBackbone::none && at::GradMode::is_enabled();
  if (!options.deterministic || !device.is_cpu() || backbone_trains || input.size(0) <= 1) return net(input);
  // One image per task: each runs single-threaded inside LibTorch's parallel region, so its
  // features do not depend on how many threads share the batch.
  const std::int64_t n = input.size(0);
  std::vector<torch::Tensor> rows(static_cast<std::size_t>(n));
  at::parallel_for(0, n, 1, [&](std::int64_t begin, std::int64_t end) {
    torch::NoGradGuard no_grad;
    for (std::int64_t i = begin; i < end; ++i) rows[static_cast<std::size_t>(i)] = net(input.narrow(0, i, 1));
  });
  return torch::cat(rows);
}

torch::Tensor ContrastiveModel::Impl::prepare_tiles(
    const std::uint8_t* tiles, const std::vector<std::int64_t>& indices, std::size_t height, std::size_t width,
    const std::function<const std::uint8_t*(std::size_t, const std::uint8_t*, std::vector<std::uint8_t>&)>& transform,
    int num_threads) const {
  const auto S = static_cast<std::int64_t>(input_size);
  const std::size_t plane = 3 * input_size * input_size, tile = height * width * 3;
  auto batch = torch::empty({static_cast<std::int64_t>(indices.size()), 3, S, S}, torch::kFloat32);
  float* out = batch.data_ptr<float>();
  parallel_for(
      indices.size(), num_threads < 0 ? options.num_threads : num_threads,
      [&](std::size_t k) {
        const std::uint8_t* src = tiles + static_cast<std::size_t>(indices[k]) * tile;
        std::vector<std::uint8_t> scratch;
        if (transform) src = transform(k, src, scratch);
        rgb_to_network_input(src, height, width, input_size, normalization, out + k * plane);
      },
      1);
  return batch;
}

torch::Tensor ContrastiveModel::Impl::features_of(const std::uint8_t* tiles, std::size_t n, std::size_t height,
                                                  std::size_t width) const {
  SPATIALEMBED_CHECK(height > 0 && width > 0, InvalidArgument, "tiles must be at least 1 x 1, got {} x {}", height,
                     width);
  SPATIALEMBED_CHECK(n == 0 || tiles, InvalidArgument, "tiles is null");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (std::size_t begin = 0; begin < n; begin += options.feature_batch_size) {
    const std::size_t count = std::min(options.feature_batch_size, n - begin);
    std::vector<std::int64_t> idx(count);
    for (std::size_t k = 0; k < count; ++k) idx[k] = static_cast<std::int64_t>(begin + k);
    parts.push_back(backbone_forward(prepare_tiles(tiles, idx, height, width, nullptr)).to(torch::kCPU));
  }
  if (parts.empty()) return torch::empty({0, static_cast<std::int64_t>(feature_dim)}, torch::kFloat32);
  return torch::cat(parts);
}

detail::NamedTensors ContrastiveModel::Impl::trainable_parameters() const {
  detail::NamedTensors out;
  if (keras)
    for (auto& item : keras->named_parameters(true))
      if (item.value().requires_grad()) out.emplace_back("backbone." + item.key(), item.value());
  for (auto& item : script_parameters)
    if (item.second.requires_grad()) out.emplace_back("backbone." + item.first, item.second);
  for (auto& item : image_head->named_parameters(true)) out.emplace_back("image_head." + item.key(), item.value());
  for (auto& item : gene_head->named_parameters(true)) out.emplace_back("gene_head." + item.key(), item.value());
  if (logit_scale.requires_grad()) out.emplace_back("logit_scale", logit_scale);
  return out;
}

detail::NamedTensors ContrastiveModel::Impl::saved_state() const {
  detail::NamedTensors out;
  if (options.train_backbone != TrainBackbone::none) {
    if (keras) {
      for (auto& item : keras->named_parameters(true))
        if (!detail::is_classifier(item.key())) out.emplace_back("backbone." + item.key(), item.value());
      for (auto& item : keras->named_buffers(true)) out.emplace_back("backbone." + item.key(), item.value());
    }
    for (auto& item : script_parameters) out.emplace_back("backbone." + item.first, item.second);
  }
  for (auto& item : image_head->named_parameters(true)) out.emplace_back("image_head." + item.key(), item.value());
  for (auto& item : gene_head->named_parameters(true)) out.emplace_back("gene_head." + item.key(), item.value());
  out.emplace_back("logit_scale", logit_scale);
  return out;
}

void ContrastiveModel::Impl::set_training(bool on) {
  image_head->train(on);
  gene_head->train(on);
  if (keras) keras->eval();
}

std::string ContrastiveModel::Impl::architecture() const {
  const auto& o = options;
  return fmt::format(
      "backbone {} (input {} px, {} features, train_backbone {}), gene_encoder {}{}, latent_dim {}, n_genes {}, "
      "loss {}",
      o.backbone, input_size, feature_dim, to_string(o.train_backbone), to_string(o.gene_encoder),
      o.gene_encoder == GeneEncoder::mlp ? fmt::format(" [{}]", fmt::join(o.mlp_hidden, ", ")) : std::string(),
      o.latent_dim, n_genes, to_string(o.loss));
}

std::string ContrastiveModel::Impl::config_json() const {
  const auto& o = options;
  json j;
  j["backbone"] = o.backbone;
  j["weights"] = o.weights;
  j["input_size"] = o.input_size;
  j["normalization"] = o.normalization;
  j["normalization_mode"] = to_string(o.normalization_constants.mode);
  j["mean"] = o.normalization_constants.mean;
  j["std"] = o.normalization_constants.std;
  j["train_backbone"] = to_string(o.train_backbone);
  j["latent_dim"] = o.latent_dim;
  j["gene_encoder"] = to_string(o.gene_encoder);
  j["mlp_hidden"] = o.mlp_hidden;
  j["dropout"] = o.dropout;
  j["loss"] = to_string(o.loss);
  j["logit_scale_init"] = o.logit_scale_init;
  j["logit_scale_max"] = o.logit_scale_max;
  j["learn_logit_scale"] = o.learn_logit_scale;
  j["temperature"] = o.temperature;
  j["seed"] = o.seed;
  j["n_genes"] = n_genes;
  j["feature_dim"] = feature_dim;
  j["architecture"] = architecture();
  return j.dump();
}

void ContrastiveModel::Impl::write(torch::serialize::OutputArchive& archive) const {
  archive.write("format", c10::IValue(std::string(detail::kFormat)));
  archive.write("config", c10::IValue(config_json()));
  const auto state = saved_state();
  std::string names;
  torch::serialize::OutputArchive tensors;
  for (std::size_t i = 0; i < state.size(); ++i) {
    names += state[i].first + "\n";
    tensors.write("t" + std::to_string(i), state[i].second.detach().to(torch::kCPU));
  }
  archive.write("state_names", c10::IValue(names));
  archive.write("state", tensors);
}

void ContrastiveModel::Impl::read_state(torch::serialize::InputArchive& archive, const std::string& source) {
  ContrastiveOptions saved;
  std::size_t genes = 0, features = 0;
  detail::read_config(archive, source, saved, genes, features);
  // The architecture line of the file against this model's.
  c10::IValue value;
  archive.read("config", value);
  std::string theirs;
  try {
    theirs = json::parse(value.toStringRef()).at("architecture").get<std::string>();
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: bad model config: {}", source, e.what()));
  }
  SPATIALEMBED_CHECK(theirs == architecture(), FormatError,
                     "{} holds another architecture:\n  file:  {}\n  model: {}", source, theirs, architecture());
  const auto state = saved_state();
  SPATIALEMBED_CHECK(archive.try_read("state_names", value) && value.isString(), FormatError, "{}: no state names",
                     source);
  std::string expected;
  for (const auto& item : state) expected += item.first + "\n";
  SPATIALEMBED_CHECK(value.toStringRef() == expected, FormatError, "{}: its tensors differ from this model's", source);
  torch::serialize::InputArchive tensors;
  archive.read("state", tensors);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < state.size(); ++i) {
    torch::Tensor t;
    tensors.read("t" + std::to_string(i), t);
    SPATIALEMBED_CHECK(t.sizes() == state[i].second.sizes(), FormatError, "{}: {} has shape {}, the model {}", source,
                       state[i].first, fmt::join(t.sizes(), " x "), fmt::join(state[i].second.sizes(), " x "));
    state[i].second.copy_(t);
  }
}

// ---------------------------------------------------------------- ContrastiveModel

ContrastiveModel::ContrastiveModel(const ContrastiveOptions& options, std::size_t n_genes, std::size_t feature_dim)
    : impl_(detail::make_model(options, n_genes, feature_dim)) {}
ContrastiveModel::ContrastiveModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ContrastiveModel::~ContrastiveModel() = default;
ContrastiveModel::ContrastiveModel(ContrastiveModel&&) noexcept = default;
ContrastiveModel& ContrastiveModel::operator=(ContrastiveModel&&) noexcept = default;

ContrastiveModel ContrastiveModel::load(const std::string& path, const std::string& device, int num_threads) {
  torch::serialize::InputArchive archive;
  detail::open_archive(archive, path);
  ContrastiveOptions options;
  std::size_t n_genes = 0, feature_dim = 0;
  detail::read_config(archive, path, options, n_genes, feature_dim);
  options.device = device;
  options.num_threads = num_threads;
  ContrastiveModel model(detail::make_model(options, n_genes, feature_dim));
  model.impl_->read_state(archive, path);
  return model;
}

void ContrastiveModel::save(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  impl_->write(archive);
  try {
    archive.save_to(path);
  } catch (const c10::Error& e) {
    throw IOError(fmt::format("cannot write contrastive model {}: {}", path, e.what_without_backtrace()));
  }
}

const ContrastiveOptions& ContrastiveModel::options() const { return impl_->options; }
std::size_t ContrastiveModel::n_genes() const { return impl_->n_genes; }
std::size_t ContrastiveModel::latent_dim() const { return impl_->options.latent_dim; }
std::size_t ContrastiveModel::feature_dim() const { return impl_->feature_dim; }
std::size_t ContrastiveModel::input_size() const { return impl_->input_size; }
double ContrastiveModel::logit_scale() const { return impl_->logit_scale.item<double>(); }
std::string ContrastiveModel::architecture() const { return impl_->architecture(); }

std::size_t ContrastiveModel::parameter_count(bool trainable_only) const {
  std::size_t count = 0;
  if (trainable_only) {
    for (const auto& item : impl_->trainable_parameters()) count += static_cast<std::size_t>(item.second.numel());
    return count;
  }
  if (impl_->keras)
    for (auto& item : impl_->keras->named_parameters(true))
      if (!detail::is_classifier(item.key())) count += static_cast<std::size_t>(item.value().numel());
  for (const auto& item : impl_->script_parameters) count += static_cast<std::size_t>(item.second.numel());
  for (auto& p : impl_->image_head->parameters()) count += static_cast<std::size_t>(p.numel());
  for (auto& p : impl_->gene_head->parameters()) count += static_cast<std::size_t>(p.numel());
  return count + 1;
}

namespace {
std::vector<float> to_rows(torch::Tensor y, bool normalize) {
  if (normalize) y = y / y.norm(2, {1}, true).clamp_min(1e-12);
  y = y.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

void check_finite(const float* values, std::size_t n, std::size_t d, const char* what, const char* column) {
  for (std::size_t i = 0; i < n * d; ++i)
    SPATIALEMBED_CHECK(std::isfinite(values[i]), InvalidArgument, "{}: row {} {} {} is {}", what, i / d, column, i % d,
                       values[i]);
}
}  // namespace

std::vector<float> ContrastiveModel::image_features(const std::uint8_t* tiles, std::size_t n, std::size_t height,
                                                    std::size_t width) const {
  SPATIALEMBED_CHECK(impl_->has_network(), InvalidArgument,
                     "ContrastiveModel.image_features: backbone \"features\" has no image network");
  detail::TorchThreads threads(impl_->options.num_threads);
  ActivationArena arena;  // activation memory reused from batch to batch within the call
  ActivationArena::Scope arena_scope(arena);
  return to_rows(impl_->features_of(tiles, n, height, width), false);
}

std::vector<float> ContrastiveModel::encode_images(const std::uint8_t* tiles, std::size_t n, std::size_t height,
                                                   std::size_t width, bool normalize) const {
  SPATIALEMBED_CHECK(impl_->has_network(), InvalidArgument,
                     "ContrastiveModel.encode_images: backbone \"features\" has no image network; use encode_features");
  detail::TorchThreads threads(impl_->options.num_threads);
  ActivationArena arena;  // activation memory reused from batch to batch within the call
  ActivationArena::Scope arena_scope(arena);
  torch::NoGradGuard no_grad;
  auto features = impl_->features_of(tiles, n, height, width);
  return to_rows(impl_->image_head->forward(features.to(impl_->device)), normalize);
}

std::vector<float> ContrastiveModel::encode_features(const float* features, std::size_t n, bool normalize) const {
  SPATIALEMBED_CHECK(n == 0 || features, InvalidArgument, "ContrastiveModel.encode_features: features is null");
  check_finite(features, n, impl_->feature_dim, "ContrastiveModel.encode_features", "feature");
  detail::TorchThreads threads(impl_->options.num_threads);
  torch::NoGradGuard no_grad;
  auto x = torch::from_blob(const_cast<float*>(features),
                            {static_cast<std::int64_t>(n), static_cast<std::int64_t>(impl_->feature_dim)},
                            torch::kFloat32);
  return to_rows(impl_->image_head->forward(x.to(impl_->device)), normalize);
}

std::vector<float> ContrastiveModel::encode_genes(const float* expression, std::size_t n, bool normalize) const {
  SPATIALEMBED_CHECK(n == 0 || expression, InvalidArgument, "ContrastiveModel.encode_genes: expression is null");
  check_finite(expression, n, impl_->n_genes, "ContrastiveModel.encode_genes: expression", "gene");
  detail::TorchThreads threads(impl_->options.num_threads);
  torch::NoGradGuard no_grad;
  auto x = torch::from_blob(const_cast<float*>(expression),
                            {static_cast<std::int64_t>(n), static_cast<std::int64_t>(impl_->n_genes)}, torch::kFloat32);
  return to_rows(impl_->gene_head->forward(x.to(impl_->device)), normalize);
}

}  // namespace spatialembed
