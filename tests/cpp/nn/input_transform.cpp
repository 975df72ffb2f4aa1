#include "spatialembed/nn/input_transform.hpp"

#include <catch2/catch.hpp>

#include <vector>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;

TEST_CASE("resize_bilinear: half-pixel centres, edge clamping, identity", "[nn][resize]") {
  // 1-D: [0, 10] (width 2) to width 4: source x = (i + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25
  // -> clamped 0, 0.25, 0.75, 1 -> 0, 2.5, 7.5, 10 (PyTorch align_corners=False gives the same).
  const std::vector<float> row{0.0f, 10.0f};
  std::vector<float> out(4);
  resize_bilinear(row.data(), 1, 2, out.data(), 1, 4);
  CHECK(out == std::vector<float>{0.0f, 2.5f, 7.5f, 10.0f});
  // 2-D 2×2 to 3×3: centre = mean of the four corners, edges clamp.
  const std::vector<float> square{0.0f, 4.0f, 8.0f, 12.0f};
  std::vector<float> big(9);
  resize_bilinear(square.data(), 2, 2, big.data(), 3, 3);
  CHECK(big[4] == Approx(6.0f));
  CHECK(big[0] == Approx(0.0f));
  CHECK(big[8] == Approx(12.0f));
  CHECK(big[1] == Approx(2.0f));  // row 0 (clamped to source row 0), x = 0.5
  // Same size = copy; downscale 4 -> 2 averages pairs (x = 0.5, 2.5).
  std::vector<float> same(4);
  resize_bilinear(square.data(), 2, 2, same.data(), 2, 2);
  CHECK(same == square);
  const std::vector<float> four{0.0f, 1.0f, 2.0f, 3.0f};
  std::vector<float> two(2);
  resize_bilinear(four.data(), 1, 4, two.data(), 1, 2);
  CHECK(two == std::vector<float>{0.5f, 2.5f});
  CHECK_THROWS_AS(resize_bilinear(four.data(), 0, 4, two.data(), 1, 2), InvalidArgument);
}

TEST_CASE("normalisations: caffe (BGR minus means), tf ([-1, 1]), torch (mean/std), none", "[nn][resize]") {
  const std::uint8_t pixel[3] = {255, 128, 0};  // one RGB pixel, "resized" to 1×1
  float out[3];
  InputNormalization n;
  n.mode = Normalization::caffe;
  rgb_to_network_input(pixel, 1, 1, 1, n, out);
  CHECK(out[0] == Approx(0.0f - 103.939f));    // B
  CHECK(out[1] == Approx(128.0f - 116.779f));  // G
  CHECK(out[2] == Approx(255.0f - 123.68f));   // R
  n.mode = Normalization::tf;
  rgb_to_network_input(pixel, 1, 1, 1, n, out);
  CHECK(out[0] == Approx(1.0f));
  CHECK(out[1] == Approx(128.0f / 127.5f - 1.0f));
  CHECK(out[2] == Approx(-1.0f));
  n.mode = Normalization::torch;
  rgb_to_network_input(pixel, 1, 1, 1, n, out);
  CHECK(out[0] == Approx((1.0f - 0.485f) / 0.229f));
  CHECK(out[2] == Approx((0.0f - 0.406f) / 0.225f));
  n.mode = Normalization::none;
  rgb_to_network_input(pixel, 1, 1, 1, n, out);
  CHECK(out[1] == Approx(128.0f / 255.0f));
  // A grey value g on [0, 1] becomes the RGB pixel (255g, 255g, 255g).
  const float grey = 0.5f;
  n.mode = Normalization::caffe;
  grey_to_network_input(&grey, 1, 1, 1, n, out);
  CHECK(out[0] == Approx(127.5f - 103.939f));
  CHECK(out[2] == Approx(127.5f - 123.68f));
  CHECK(parse_normalization("tf") == Normalization::tf);
  CHECK_THROWS_AS(parse_normalization("imagenet"), InvalidArgument);
  n.std[1] = 0.0f;
  CHECK_THROWS_AS(n.validate(), InvalidArgument);
}
