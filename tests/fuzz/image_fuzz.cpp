// libFuzzer target: the image decoders (JPEG, PNG, TIFF) on arbitrary file contents. Any
// input must end in decoded rectangles or a spatialembed::Error — never a crash, a hang, an
// out-of-bounds access or undefined behaviour (built with ASan + UBSan by `run.sh image`).
// Rectangles are read only from images of at most 4096² claimed pixels: decoding a huge
// claimed size legitimately takes memory and time (there is no decompression-bomb limit).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spatialembed;
  // The decoders read files: the input goes to one scratch file per fuzzing process.
  static const std::string path = "/tmp/spatialembed_image_fuzz_" + std::to_string(::getpid());
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  try {
    const ImageFile image(path);
    const std::int64_t w = image.width(), h = image.height();
    if (w <= 4096 && h <= 4096) {
      image.read_region(-3, -3, std::min<std::int64_t>(w, 40) + 6, std::min<std::int64_t>(h, 40) + 6);
      image.read_regions({{w - 20, h / 2, 25, 30}, {w / 3, h / 3, 7, 5}}, 0, 2);
    }
  } catch (const Error&) {
  }
  return 0;
}
