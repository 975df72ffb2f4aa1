#pragma once
// A TorchScript module (torch.jit.save) used as a backbone: N×3×H×W → N×D.

#include <torch/types.h>

#include <functional>
#include <string>

namespace spatialembed::detail {

/// Loads `path` onto `device` in `dtype`, eval mode. The returned function runs the module's
/// forward on a batch and checks that the result is one N×D tensor. Throws IOError when the
/// file is missing, FormatError when it is not a TorchScript archive.
std::function<torch::Tensor(const torch::Tensor&)> load_torchscript(const std::string& path, torch::Device device,
                                                                    torch::Dtype dtype);

}  // namespace spatialembed::detail
