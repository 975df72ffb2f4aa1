// EmbedderPooling's names, in the core library: EmbedderOptions is bound in spatialembed._core
// (its header needs no LibTorch), so its enums must parse without the nn layer.

#include <fmt/format.h>

#include <string>

#include "spatialembed/common/error.hpp"
#include "spatialembed/nn/embedder.hpp"

namespace spatialembed {

EmbedderPooling parse_embedder_pooling(const std::string& name) {
  if (name == "avg") return EmbedderPooling::avg;
  if (name == "spatial_pyramid") return EmbedderPooling::spatial_pyramid;
  if (name == "multi_layer") return EmbedderPooling::multi_layer;
  throw InvalidArgument(
      fmt::format("EmbedderOptions.pooling must be \"avg\", \"spatial_pyramid\" or \"multi_layer\", got \"{}\"", name));
}

const char* to_string(EmbedderPooling pooling) {
  switch (pooling) {
    case EmbedderPooling::spatial_pyramid: return "spatial_pyramid";
    case EmbedderPooling::multi_layer: return "multi_layer";
    default: return "avg";
  }
}

}  // namespace spatialembed
