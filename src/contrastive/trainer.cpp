// ContrastiveTrainer: the training loop, validation, early stopping, checkpoints, logs.

#include "spatialembed/contrastive/trainer.hpp"

#include <ATen/Context.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "contrastive/data_parallel.hpp"
#include "contrastive/network.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/contrastive/loss.hpp"
#include "spatialembed/nn/activation_arena.hpp"

namespace spatialembed {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

void PairedData::validate() const {
  SPATIALEMBED_CHECK(n >= 1, InvalidArgument, "PairedData: no pairs (n = 0)");
  SPATIALEMBED_CHECK(expression != nullptr && n_genes >= 1, InvalidArgument,
                     "PairedData: expression (n x n_genes float32) is required, got {} with n_genes = {}",
                     expression ? "an array" : "null", n_genes);
  SPATIALEMBED_CHECK(tiles != nullptr || features != nullptr, InvalidArgument,
                     "PairedData: give tiles (n x height x width x 3 uint8) or features (n x feature_dim float32)");
  SPATIALEMBED_CHECK(tiles == nullptr || (height >= 1 && width >= 1), InvalidArgument,
                     "PairedData: tiles must be at least 1 x 1 pixels, got {} x {}", height, width);
  SPATIALEMBED_CHECK(features == nullptr || feature_dim >= 1, InvalidArgument,
                     "PairedData: feature_dim must be >= 1 with features");
  SPATIALEMBED_CHECK(group.empty() || group.size() == n, InvalidArgument,
                     "PairedData: group must have one entry per pair ({}), got {}", n, group.size());
  for (std::size_t i = 0; i < n * n_genes; ++i)
    SPATIALEMBED_CHECK(std::isfinite(expression[i]), InvalidArgument,
                       "PairedData: expression of pair {} gene {} is {} (expected finite log-normalised values)",
                       i / n_genes, i % n_genes, expression[i]);
  if (features)
    for (std::size_t i = 0; i < n * feature_dim; ++i)
      SPATIALEMBED_CHECK(std::isfinite(features[i]), InvalidArgument, "PairedData: feature {} of pair {} is {}",
                         i % feature_dim, i / feature_dim, features[i]);
}

namespace {

// Streams of Rng(seed, stream) for the trainer's randomness (the model's initialisation uses
// a LibTorch generator seeded with the seed itself).
constexpr std::uint64_t kShuffleStream = 1ULL << 60, kDropoutStream = 2ULL << 60, kAugmentStream = 3ULL << 60;

std::uint64_t fnv1a(const void* data, std::size_t bytes, std::uint64_t h = 1469598103934665603ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

// One random flip / rotation, then colour jitter, of an H × W × 3 tile, from Rng(seed, stream
// of (epoch, pair)). The flip / rotation draws come first, so runs without jitter are as before.
const std::uint8_t* augment(const std::uint8_t* tile, std::size_t H, std::size_t W, bool flips, bool rotations,
                            const ColorJitterOptions& jitter, Rng& rng, std::vector<std::uint8_t>& out) {
  const bool hflip = flips && rng.uniform() < 0.5;
  const bool vflip = flips && rng.uniform() < 0.5;
  const unsigned quarter = rotations ? static_cast<unsigned>(rng.below(4)) : 0u;
  const bool jittering = jitter.enabled();
  if (!hflip && !vflip && quarter == 0 && !jittering) return tile;
  out.resize(H * W * 3);
  // Output pixel (r, c) reads source (sr, sc): rotate counter-clockwise by `quarter` quarter
  // turns (numpy.rot90 on a square tile), then flip.
  for (std::size_t r = 0; r < H; ++r)
    for (std::size_t c = 0; c < W; ++c) {
      std::size_t rr = vflip ? H - 1 - r : r, cc = hflip ? W - 1 - c : c;
      for (unsigned q = 0; q < quarter; ++q) {  // rot90: out[r][c] = in[c][S-1-r]
        const std::size_t t = rr;
        rr = cc;
        cc = W - 1 - t;
      }
      std::memcpy(&out[(r * W + c) * 3], tile + (rr * W + cc) * 3, 3);
    }
  if (jittering) color_jitter(out.data(), H, W, draw_color_jitter(jitter, rng));
  return out.data();
}

// Prepares batches 0, 1, 2, … of a run on `workers` threads, at most `prefetch` ahead of the
// one the trainer asks for; batch j is `make(j)`, so its content does not depend on which
// thread made it or when. Exceptions reach the caller in `get`.
class BatchLoader {
 public:
  BatchLoader(std::size_t workers, std::size_t prefetch, std::size_t count,
              std::function<torch::Tensor(std::size_t)> make)
      : prefetch_(prefetch), count_(count), make_(std::move(make)) {
    for (std::size_t w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
  }
  ~BatchLoader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Batch j (asked for in increasing order).
  torch::Tensor get(std::size_t j) {
    std::unique_lock<std::mutex> lock(mutex_);
    consumed_ = j;
    wake_.notify_all();
    ready_cv_.wait(lock, [&] { return ready_.count(j) > 0; });
    Item item = std::move(ready_[j]);
    ready_.erase(j);
    consumed_ = j + 1;
    wake_.notify_all();
    if (item.error) std::rethrow_exception(item.error);
    return item.tensor;
  }

 private:
  struct Item {
    torch::Tensor tensor;
    std::exception_ptr error;
  };
  void work() {
    for (;;) {
      std::size_t j;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || (next_ < count_ && next_ < consumed_ + prefetch_); });
        if (stop_) return;
        j = next_++;
      }
      Item item;
      try {
        item.tensor = make_(j);
      } catch (...) {
        item.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_[j] = std::move(item);
      }
      ready_cv_.notify_all();
    }
  }
  std::size_t prefetch_, count_;
  std::function<torch::Tensor(std::size_t)> make_;
  std::mutex mutex_;
  std::condition_variable wake_, ready_cv_;
  std::map<std::size_t, Item> ready_;
  std::size_t next_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

double lr_at(const ContrastiveOptions& o, std::size_t step, std::size_t total) {
  if (o.warmup_steps > 0 && step < o.warmup_steps)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  if (o.schedule == LrSchedule::constant) return o.lr;
  if (total <= o.warmup_steps) return o.lr;
  const double e = static_cast<double>(step - o.warmup_steps), E = static_cast<double>(total - o.warmup_steps);
  return o.min_lr + 0.5 * (1.0 + std::cos(M_PI * e / E)) * (o.lr - o.min_lr);
}

// What a checkpoint remembers of the run besides the model and the optimiser.
struct RunState {
  std::size_t step = 0;
  double epoch_loss_sum = 0;
  std::vector<double> epoch_loss, validation_loss;
  double best_validation = NAN;
  std::size_t best_epoch = 0, bad_epochs = 0;
  bool stopped_early = false;
};

}  // namespace

ContrastiveTrainer::ContrastiveTrainer(ContrastiveOptions options) : options_(std::move(options)) {
  options_.validate();
}
ContrastiveTrainer::~ContrastiveTrainer() = default;
ContrastiveTrainer::ContrastiveTrainer(ContrastiveTrainer&&) noexcept = default;
ContrastiveTrainer& ContrastiveTrainer::operator=(ContrastiveTrainer&&) noexcept = default;

const ContrastiveOptions& ContrastiveTrainer::options() const { return options_; }
bool ContrastiveTrainer::fitted() const { return model_.has_value(); }
const ContrastiveModel& ContrastiveTrainer::model() const {
  SPATIALEMBED_CHECK(model_.has_value(), Error, "ContrastiveTrainer: call fit first");
  return *model_;
}
ContrastiveModel& ContrastiveTrainer::model() {
  SPATIALEMBED_CHECK(model_.has_value(), Error, "ContrastiveTrainer: call fit first");
  return *model_;
}

ContrastiveFitResult ContrastiveTrainer::fit(const PairedData& data) {
  const ContrastiveOptions& o = options_;
  o.validate();
  data.validate();
  const bool use_features = o.backbone == "features";
  SPATIALEMBED_CHECK(!use_features || data.features, InvalidArgument,
                     "ContrastiveTrainer.fit: backbone \"features\" needs PairedData.features");
  SPATIALEMBED_CHECK(use_features || data.tiles, InvalidArgument,
                     "ContrastiveTrainer.fit: backbone \"{}\" needs PairedData.tiles (features are for backbone "
                     "\"features\")",
                     o.backbone);
  SPATIALEMBED_CHECK(!o.rotations || data.height == data.width, InvalidArgument,
                     "ContrastiveOptions.rotations needs square tiles, got {} x {}", data.height, data.width);

  // Training and validation pairs.
  std::vector<std::int64_t> train, validation;
  for (std::size_t i = 0; i < data.n; ++i) {
    const std::int32_t g = data.group.empty() ? 0 : data.group[i];
    const bool held_out = std::find(o.validation_groups.begin(), o.validation_groups.end(), g) !=
                          o.validation_groups.end();
    (held_out ? validation : train).push_back(static_cast<std::int64_t>(i));
  }
  SPATIALEMBED_CHECK(o.validation_groups.empty() || !validation.empty(), InvalidArgument,
                     "ContrastiveOptions.validation_groups [{}] holds no pair of the data",
                     fmt::join(o.validation_groups, ", "));
  SPATIALEMBED_CHECK(!train.empty(), InvalidArgument,
                     "ContrastiveOptions.validation_groups [{}] holds every pair: nothing is left to train on",
                     fmt::join(o.validation_groups, ", "));
  // Several processes (torchrun): batch_size pairs per rank, the loss over the global batch.
  detail::DataParallel dp(o, o.device != "cpu");
  SPATIALEMBED_CHECK(o.batch_size <= dp.shard(train).size(), InvalidArgument,
                     "ContrastiveOptions.batch_size {} is larger than the {} training pairs{}", o.batch_size,
                     dp.shard(train).size(), dp.active() ? fmt::format(" of each of the {} ranks", dp.world_size()) : "");

  detail::TorchThreads threads(dp.num_threads(o.num_threads));
  // Activation and gradient memory kept from step to step instead of mapped and faulted in
  // again (the arena is LibTorch's CPU allocator during fit only; its cache goes with fit).
  ActivationArena arena;
  ActivationArena::Scope arena_scope(arena);
  // A backbone that trains, deterministically: convolutions without oneDNN (whose weight
  // gradients are summed in thread-count-dependent blocks).
  struct MkldnnGuard {
    bool previous = at::globalContext().userEnabledMkldnn();
    explicit MkldnnGuard(bool enable) { at::globalContext().setUserEnabledMkldnn(enable); }
    ~MkldnnGuard() { at::globalContext().setUserEnabledMkldnn(previous); }
  } mkldnn(!(o.deterministic && o.train_backbone != TrainBackbone::none) && at::globalContext().userEnabledMkldnn());
  ContrastiveModel model(detail::make_model(o, data.n_genes, use_features ? data.feature_dim : 0));
  ContrastiveModel::Impl& m = model.impl();
  const auto n = static_cast<std::int64_t>(data.n), G = static_cast<std::int64_t>(data.n_genes);
  const auto expression = torch::from_blob(const_cast<float*>(data.expression), {n, G}, torch::kFloat32);

  ContrastiveFitResult result;
  result.train_pairs = train.size();
  result.validation_pairs = validation.size();

  // Image features: given, cached once per tile, or computed per step.
  const bool augmenting = o.flips || o.rotations || o.color_jitter().enabled();
  torch::Tensor features;
  if (use_features) {
    features = torch::from_blob(const_cast<float*>(data.features), {n, static_cast<std::int64_t>(data.feature_dim)},
                                torch::kFloat32);
    result.features_cached = true;
  } else if (o.cache_features && o.train_backbone == TrainBackbone::none && !augmenting && data.features) {
    // The frozen backbone's features, computed by the caller (e.g. image_features, cached on disk).
    SPATIALEMBED_CHECK(data.feature_dim == model.feature_dim(), InvalidArgument,
                       "ContrastiveTrainer.fit: PairedData.features has {} columns, the {} backbone gives {}",
                       data.feature_dim, o.backbone, model.feature_dim());
    features = torch::from_blob(const_cast<float*>(data.features), {n, static_cast<std::int64_t>(data.feature_dim)},
                                torch::kFloat32);
    result.features_cached = true;
  } else if (o.cache_features && o.train_backbone == TrainBackbone::none && !augmenting) {
    const auto t0 = Clock::now();
    const std::size_t tile_bytes = data.height * data.width * 3;
    features = dp.sharded_features(data.n, [&](std::size_t begin, std::size_t count) {
      return m.features_of(data.tiles + begin * tile_bytes, count, data.height, data.width);
    });
    result.feature_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    result.features_cached = true;
  }
  const bool backbone_trains = o.train_backbone != TrainBackbone::none;
  const ColorJitterOptions jitter = o.color_jitter();
  // Tiles → network input (CPU), augmented in training; `threads` -1 = options.num_threads.
  auto prepare = [&](const std::vector<std::int64_t>& idx, std::size_t epoch, bool train_mode, int threads) {
    std::function<const std::uint8_t*(std::size_t, const std::uint8_t*, std::vector<std::uint8_t>&)> transform;
    if (train_mode && augmenting)
      transform = [&, epoch](std::size_t k, const std::uint8_t* tile, std::vector<std::uint8_t>& scratch) {
        Rng rng(o.seed, kAugmentStream + epoch * data.n + static_cast<std::size_t>(idx[k]));
        return augment(tile, data.height, data.width, o.flips, o.rotations, jitter, rng, scratch);
      };
    return m.prepare_tiles(data.tiles, idx, data.height, data.width, transform, threads);
  };
  auto forward = [&](const torch::Tensor& batch, bool train_mode) {
    if (train_mode && backbone_trains) return m.backbone_forward(batch);
    torch::NoGradGuard no_grad;
    return m.backbone_forward(batch);
  };
  auto image_input = [&](const std::vector<std::int64_t>& idx, std::size_t epoch, bool train_mode) {
    if (features.defined())
      return features.index_select(0, torch::tensor(idx, torch::kInt64)).to(m.device);
    return forward(prepare(idx, epoch, train_mode, -1), train_mode);
  };
  auto batch_loss = [&](const torch::Tensor& image_features, const std::vector<std::int64_t>& idx, Rng* rng) {
    auto img = m.image_head->forward(image_features, rng);
    auto gene = m.gene_head->forward(expression.index_select(0, torch::tensor(idx, torch::kInt64)).to(m.device), rng);
    return dp.loss(img, gene, m.logit_scale);
  };
  auto validation_loss = [&]() {
    torch::NoGradGuard no_grad;
    m.set_training(false);
    double sum = 0;
    std::size_t count = 0;
    // Every rank evaluates every validation pair, in batches of the global batch size.
    const std::size_t validation_batch = o.batch_size * static_cast<std::size_t>(dp.world_size());
    for (std::size_t begin = 0; begin < validation.size(); begin += validation_batch) {
      const std::size_t end = std::min(validation.size(), begin + validation_batch);
      std::vector<std::int64_t> idx(validation.begin() + static_cast<std::ptrdiff_t>(begin),
                                    validation.begin() + static_cast<std::ptrdiff_t>(end));
      auto img = m.image_head->forward(image_input(idx, 0, false), nullptr);
      auto gene = m.gene_head->forward(expression.index_select(0, torch::tensor(idx, torch::kInt64)).to(m.device), nullptr);
      const auto loss = o.loss == ContrastiveLoss::clip ? clip_loss(img, gene, m.logit_scale)
                                                        : bleep_loss(img, gene, o.temperature);
      sum += loss.item<double>() * static_cast<double>(idx.size());
      count += idx.size();
    }
    return sum / static_cast<double>(count);
  };

  // AdamW: decay on weight matrices and kernels, none on biases, norms and logit_scale.
  std::vector<torch::Tensor> decay, no_decay, all_params;
  for (auto& item : m.trainable_parameters()) {
    (item.second.dim() >= 2 ? decay : no_decay).push_back(item.second);
    all_params.push_back(item.second);
  }
  auto group_options = [&](double weight_decay) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(o.lr);
    opts->betas(std::make_tuple(o.betas[0], o.betas[1])).eps(o.eps).weight_decay(weight_decay);
    return opts;
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, group_options(o.weight_decay));
  groups.emplace_back(no_decay, group_options(0.0));
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(o.lr));

  const std::size_t steps_per_epoch = dp.shard(train).size() / o.batch_size;
  const std::size_t total_steps = steps_per_epoch * o.epochs;
  std::uint64_t data_hash = fnv1a(data.expression, data.n * data.n_genes * sizeof(float));
  data_hash = fnv1a(data.group.data(), data.group.size() * sizeof(std::int32_t), data_hash);
  json training;
  training["train_pairs"] = train.size();
  training["validation_pairs"] = validation.size();
  training["batch_size"] = o.batch_size;
  training["seed"] = o.seed;
  if (dp.active()) training["world_size"] = dp.world_size();
  training["data_hash"] = data_hash;

  RunState run;
  std::vector<torch::Tensor> best_state;  // saved_state() of the best epoch
  auto state_tensors = [&]() {
    std::vector<torch::Tensor> out;
    for (auto& item : m.saved_state()) out.push_back(item.second.detach().clone());
    return out;
  };

  if (!o.resume.empty()) {
    torch::serialize::InputArchive archive;
    detail::open_archive(archive, o.resume);
    m.read_state(archive, o.resume);
    c10::IValue value;
    SPATIALEMBED_CHECK(archive.try_read("training", value) && value.isString(), FormatError,
                       "{} is a model file, not a training checkpoint (no training state)", o.resume);
    const json saved = json::parse(value.toStringRef());
    const int saved_world = saved.value("world_size", 1);
    SPATIALEMBED_CHECK(saved_world == dp.world_size(), FormatError,
                       "{} was written by a run of {} processes, this run has {} (resume with as many)", o.resume,
                       saved_world, dp.world_size());
    for (const char* key : {"train_pairs", "validation_pairs", "batch_size", "seed", "data_hash"})
      SPATIALEMBED_CHECK(saved.at(key) == training.at(key), FormatError,
                         "{} was written for another training run: its {} is {}, this run's {} (same data, "
                         "validation_groups, batch_size and seed are needed to resume)",
                         o.resume, key, saved.at(key).dump(), training.at(key).dump());
    const json& r = saved.at("run");
    run.step = r.at("step").get<std::size_t>();
    run.epoch_loss_sum = r.at("epoch_loss_sum").get<double>();
    run.epoch_loss = r.at("epoch_loss").get<std::vector<double>>();
    run.validation_loss = r.at("validation_loss").get<std::vector<double>>();
    run.best_validation = r.at("best_validation").is_null() ? NAN : r.at("best_validation").get<double>();
    run.best_epoch = r.at("best_epoch").get<std::size_t>();
    run.bad_epochs = r.at("bad_epochs").get<std::size_t>();
    run.stopped_early = r.at("stopped_early").get<bool>();
    torch::serialize::InputArchive opt_archive;
    archive.read("optimizer", opt_archive);
    optimizer.load(opt_archive);
    torch::serialize::InputArchive best_archive;
    if (archive.try_read("best", best_archive)) {
      const auto state = m.saved_state();
      best_state.resize(state.size());
      for (std::size_t i = 0; i < state.size(); ++i) best_archive.read("t" + std::to_string(i), best_state[i]);
    }
  }

  // Every rank starts from rank 0's parameters and buffers (as DistributedDataParallel does).
  if (dp.active()) {
    std::vector<torch::Tensor> state;
    for (auto& item : m.saved_state()) state.push_back(item.second);
    dp.broadcast(state);
  }

  auto write_checkpoint = [&]() {
    if (o.checkpoint.empty() || !dp.main()) return;  // rank 0 writes, every rank reads
    torch::serialize::OutputArchive archive;
    m.write(archive);
    json saved = training;
    json& r = saved["run"];
    r["step"] = run.step;
    r["epoch_loss_sum"] = run.epoch_loss_sum;
    r["epoch_loss"] = run.epoch_loss;
    r["validation_loss"] = run.validation_loss;
    r["best_validation"] = std::isnan(run.best_validation) ? json(nullptr) : json(run.best_validation);
    r["best_epoch"] = run.best_epoch;
    r["bad_epochs"] = run.bad_epochs;
    r["stopped_early"] = run.stopped_early;
    archive.write("training", c10::IValue(saved.dump()));
    torch::serialize::OutputArchive opt_archive;
    optimizer.save(opt_archive);
    archive.write("optimizer", opt_archive);
    if (!best_state.empty()) {
      torch::serialize::OutputArchive best_archive;
      for (std::size_t i = 0; i < best_state.size(); ++i) best_archive.write("t" + std::to_string(i), best_state[i]);
      archive.write("best", best_archive);
    }
    // Write beside, then rename: a crash never leaves a half-written checkpoint.
    const std::string tmp = o.checkpoint + ".tmp";
    try {
      archive.save_to(tmp);
    } catch (const c10::Error& e) {
      throw IOError(fmt::format("cannot write checkpoint {}: {}", tmp, e.what_without_backtrace()));
    }
    std::error_code ec;
    fs::rename(tmp, o.checkpoint, ec);
    SPATIALEMBED_CHECK(!ec, IOError, "cannot rename {} to {}: {}", tmp, o.checkpoint, ec.message());
  };

  std::ofstream csv;
  if (!o.log_csv.empty() && dp.main()) {
    std::error_code ec;
    const bool append = !o.resume.empty() && fs::exists(o.log_csv, ec);
    csv.open(o.log_csv, append ? std::ios::app : std::ios::trunc);
    SPATIALEMBED_CHECK(csv.good(), IOError, "cannot write the log {}", o.log_csv);
    if (!append) csv << "step,epoch,loss,logit_scale,lr,samples_per_second,validation_loss\n";
    csv.precision(9);
  }

  auto epoch_order = [&](std::size_t epoch) {
    std::vector<std::int64_t> order = train;
    Rng shuffle_rng(o.seed, kShuffleStream + epoch);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle_rng.below(i)]);
    return dp.shard(order);  // this rank's pairs (DistributedSampler's rule)
  };
  auto batch_of = [&](const std::vector<std::int64_t>& order, std::size_t b) {
    return std::vector<std::int64_t>(order.begin() + static_cast<std::ptrdiff_t>(b * o.batch_size),
                                     order.begin() + static_cast<std::ptrdiff_t>((b + 1) * o.batch_size));
  };

  // Tiles through the network every step: the loader prepares the next batches on its threads
  // (one thread per batch), batch j being step start_step + j of the run.
  const std::size_t start_step = run.step;
  std::unique_ptr<BatchLoader> loader;
  if (!features.defined() && o.loader_threads > 0 && start_step < total_steps)
    loader = std::make_unique<BatchLoader>(o.loader_threads, o.prefetch_batches, total_steps - start_step,
                                           [&](std::size_t j) {
                                             const std::size_t s = start_step + j, e = s / steps_per_epoch;
                                             return prepare(batch_of(epoch_order(e), s % steps_per_epoch), e, true, 1);
                                           });

  const auto train_start = Clock::now();
  std::size_t steps_here = 0;
  const std::size_t first_epoch = run.step / steps_per_epoch;
  for (std::size_t epoch = first_epoch; epoch < o.epochs && !run.stopped_early; ++epoch) {
    const std::vector<std::int64_t> order = epoch_order(epoch);
    for (std::size_t b = run.step - epoch * steps_per_epoch; b < steps_per_epoch; ++b) {
      const auto t0 = Clock::now();
      std::vector<std::int64_t> idx = batch_of(order, b);
      m.set_training(true);
      Rng dropout_rng(o.seed, kDropoutStream + run.step * static_cast<std::uint64_t>(dp.world_size()) +
                                  static_cast<std::uint64_t>(dp.rank()));
      auto image = loader ? forward(loader->get(run.step - start_step), true) : image_input(idx, epoch, true);
      auto loss = batch_loss(image, idx, &dropout_rng);
      optimizer.zero_grad();
      loss.backward();
      dp.average_gradients(all_params);
      if (o.grad_clip > 0) detail::clip_gradients(all_params, o.grad_clip);
      const double lr = lr_at(o, run.step, total_steps);
      for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      optimizer.step();
      if (o.loss == ContrastiveLoss::clip) {
        torch::NoGradGuard no_grad;
        m.logit_scale.clamp_(0.0, o.logit_scale_max);
      }
      ++run.step;
      ++steps_here;
      ContrastiveStep info;
      info.step = run.step;
      info.total_steps = total_steps;
      info.epoch = epoch;
      info.loss = dp.mean(loss.item<double>());  // the global batch's loss
      info.logit_scale = o.loss == ContrastiveLoss::clip ? m.logit_scale.item<double>() : 0.0;
      info.lr = lr;
      run.epoch_loss_sum += info.loss;
      const bool epoch_end = b + 1 == steps_per_epoch;
      if (epoch_end) {
        run.epoch_loss.push_back(run.epoch_loss_sum / static_cast<double>(steps_per_epoch));
        run.epoch_loss_sum = 0;
        if (!validation.empty()) {
          info.validation_loss = validation_loss();
          run.validation_loss.push_back(info.validation_loss);
          if (std::isnan(run.best_validation) || info.validation_loss < run.best_validation) {
            run.best_validation = info.validation_loss;
            run.best_epoch = epoch;
            run.bad_epochs = 0;
            if (o.restore_best) best_state = state_tensors();
          } else if (o.patience > 0 && ++run.bad_epochs >= o.patience) {
            run.stopped_early = true;
          }
        }
      }
      info.samples_per_second =
          static_cast<double>(o.batch_size * static_cast<std::size_t>(dp.world_size())) /
          std::max(1e-9, std::chrono::duration<double>(Clock::now() - t0).count());
      if (csv.is_open()) {
        csv << info.step << ',' << info.epoch << ',' << info.loss << ',' << info.logit_scale << ',' << info.lr << ','
            << info.samples_per_second << ',';
        if (!std::isnan(info.validation_loss)) csv << info.validation_loss;
        csv << '\n';
        if (epoch_end) csv.flush();
      }
      const bool go_on = dp.all(!o.callback || o.callback(info));  // one rank stopping stops all
      if (epoch_end || !go_on || (o.checkpoint_every > 0 && run.step % o.checkpoint_every == 0)) write_checkpoint();
      if (!go_on) {
        if (csv.is_open()) csv.flush();
        throw Cancelled(fmt::format("ContrastiveTrainer: cancelled after step {} of {}{}", run.step, total_steps,
                                    o.checkpoint.empty() ? "" : " (checkpoint " + o.checkpoint + ")"));
      }
      if (run.stopped_early) break;
    }
  }
  result.train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();
  result.samples_per_second =
      steps_here ? static_cast<double>(steps_here * o.batch_size * static_cast<std::size_t>(dp.world_size())) /
                       std::max(1e-9, result.train_seconds)
                 : 0.0;
  result.world_size = static_cast<std::size_t>(dp.world_size());
  result.rank = static_cast<std::size_t>(dp.rank());
  result.gather_seconds = dp.gather_seconds();
  result.reduce_seconds = dp.reduce_seconds();

  if (o.restore_best && !best_state.empty()) {
    torch::NoGradGuard no_grad;
    const auto state = m.saved_state();
    for (std::size_t i = 0; i < state.size(); ++i) state[i].second.copy_(best_state[i]);
  }
  m.set_training(false);
  result.steps = run.step;
  result.epochs = run.epoch_loss.size();
  result.final_loss = run.epoch_loss.empty() ? NAN : run.epoch_loss.back();
  result.best_validation_loss = run.best_validation;
  result.best_epoch = run.best_epoch;
  result.stopped_early = run.stopped_early;
  result.epoch_loss = run.epoch_loss;
  result.validation_loss = run.validation_loss;
  model_.reset();
  model_.emplace(std::move(model));
  return result;
}

}  // namespace spatialembed
