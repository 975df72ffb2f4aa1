#include "nn/torchscript_backbone.hpp"

#include <torch/script.h>

#include <filesystem>
#include <memory>

#include "spatialembed/common/error.hpp"

namespace spatialembed::detail {

std::function<torch::Tensor(const torch::Tensor&)> load_torchscript(const std::string& path, torch::Device device,
                                                                    torch::Dtype dtype) {
  std::error_code ec;
  SPATIALEMBED_CHECK(std::filesystem::is_regular_file(path, ec), IOError, "TorchScript file {} not found", path);
  auto module = std::make_shared<torch::jit::Module>();
  try {
    *module = torch::jit::load(path, device);
  } catch (const c10::Error& e) {
    throw FormatError(fmt::format("{}: not a TorchScript module file (torch.jit.save): {}", path, e.what_without_backtrace()));
  }
  module->eval();
  module->to(dtype);
  return [module, path](const torch::Tensor& x) {
    torch::IValue out;
    try {
      out = module->forward({x});
    } catch (const c10::Error& e) {
      throw InvalidArgument(fmt::format("{}: forward failed on input {}: {}", path, fmt::join(x.sizes(), " x "),
                                        e.what_without_backtrace()));
    }
    SPATIALEMBED_CHECK(out.isTensor(), FormatError, "{}: forward must return one tensor N x D, got {}", path,
                       out.tagKind());
    auto y = out.toTensor();
    SPATIALEMBED_CHECK(y.dim() == 2 && y.size(0) == x.size(0), FormatError,
                       "{}: forward must return N x D = {} x D, got {}", path, x.size(0), fmt::join(y.sizes(), " x "));
    return y;
  };
}

}  // namespace spatialembed::detail
