// ActivationArena: LibTorch's CPU allocator only within a scope, tensors that outlive it stay
// valid, blocks are reused, and the Embedder computes the same with and without it.

#include "spatialembed/nn/activation_arena.hpp"

#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <thread>

#include "nn/nn_test_util.hpp"
#include "spatialembed/nn/embedder.hpp"

using namespace spatialembed;
using namespace spatialembed::test;

namespace {

// A 320 x 320 crop from the centre of each photo: n tiles of one size, HWC uint8.
std::vector<std::uint8_t> photo_tiles(const std::vector<const char*>& files, std::size_t side) {
  std::vector<std::uint8_t> tiles;
  for (const char* file : files) {
    const auto image = read_jpeg(photo(file));
    REQUIRE(image.height >= side);
    REQUIRE(image.width >= side);
    const std::size_t top = (image.height - side) / 2, left = (image.width - side) / 2;
    for (std::size_t r = 0; r < side; ++r) {
      const std::uint8_t* row = image.pixels.data() + ((top + r) * image.width + left) * 3;
      tiles.insert(tiles.end(), row, row + side * 3);
    }
  }
  return tiles;
}

}  // namespace

TEST_CASE("ActivationArena is the CPU allocator only inside a scope", "[nn][arena]") {
  c10::Allocator* const before = c10::GetCPUAllocator();
  const auto owners = ActivationArena::stats().owners;
  torch::Tensor outlives;
  const std::int64_t n = 1 << 20;  // 4 MiB of float32: an arena block
  {
    ActivationArena arena;
    CHECK(ActivationArena::stats().owners == owners + 1);
    {
      ActivationArena::Scope scope(arena);
      REQUIRE(scope.active());
      c10::Allocator* const inside = c10::GetCPUAllocator();
      CHECK(inside != before);
      {
        ActivationArena::Scope nested(arena);  // nesting keeps the arena installed
        CHECK(nested.active());
      }
      CHECK(c10::GetCPUAllocator() == inside);
      const auto in_use = ActivationArena::stats().bytes_in_use;
      outlives = torch::arange(n, torch::kFloat32);
      CHECK(ActivationArena::stats().bytes_in_use >= in_use + n * sizeof(float));
      // Small tensors stay with the previous allocator.
      const auto small = torch::ones({16});
      CHECK(ActivationArena::stats().bytes_in_use >= in_use + n * sizeof(float));

      // A freed block is handed out again for the next tensor of that size.
      const auto hits = ActivationArena::stats().hits;
      void* address = nullptr;
      {
        const auto a = torch::empty({n}, torch::kFloat32);
        address = a.data_ptr();
      }
      const auto b = torch::empty({n}, torch::kFloat32);
      CHECK(b.data_ptr() == address);
      CHECK(ActivationArena::stats().hits == hits + 1);
    }
    CHECK(c10::GetCPUAllocator() == before);  // put back when the last scope ends
    // Outside a scope new tensors do not come from the arena.
    const auto in_use = ActivationArena::stats().bytes_in_use;
    const auto plain = torch::zeros({n}, torch::kFloat32);
    CHECK(ActivationArena::stats().bytes_in_use == in_use);
  }
  // The owner is gone: nothing is cached any more, and the tensor made in the scope is intact.
  const auto after = ActivationArena::stats();
  CHECK(after.owners == owners);
  CHECK(after.bytes_cached == 0);
  CHECK(after.bytes_in_use >= n * sizeof(float));
  outlives.mul_(2);
  const float* p = outlives.data_ptr<float>();
  for (std::int64_t i = 0; i < n; i += 4099) REQUIRE(p[i] == static_cast<float>(2 * i));
  const auto in_use = after.bytes_in_use;
  outlives = torch::Tensor();  // freed to the system, not cached
  CHECK(ActivationArena::stats().bytes_in_use == in_use - n * sizeof(float));
  CHECK(ActivationArena::stats().bytes_cached == 0);
}

TEST_CASE("ActivationArena: tensors from other threads during a scope", "[nn][arena]") {
  // LibTorch's allocator is process-wide: intra-op threads (and any other thread) allocate from
  // the arena while a scope lives, and may free after it ended.
  ActivationArena arena;
  std::vector<torch::Tensor> made(4);
  {
    ActivationArena::Scope scope(arena);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < made.size(); ++t)
      threads.emplace_back([&, t] {
        for (int k = 0; k < 50; ++k) made[t] = torch::full({300 + k, 301}, static_cast<float>(t + k));
      });
    for (auto& thread : threads) thread.join();
  }
  for (std::size_t t = 0; t < made.size(); ++t) {
    CHECK(made[t].size(0) == 349);
    CHECK(made[t].min().item<float>() == static_cast<float>(t + 49));
    CHECK(made[t].max().item<float>() == static_cast<float>(t + 49));
  }
}

namespace {

// One pass of a network shaped like Xception (batch 1, float32 NCHW): stages at four
// resolutions, each a chain of layers whose output replaces its input, alternating between two
// channel counts (separable convolutions in pairs), a workspace per layer and a residual branch
// alive across the stage: 24 sizes in all. Returns the number of allocations that go to the
// arena (all >= 64 KiB).
std::size_t xception_like_pass() {
  struct Stage {
    std::int64_t side, channels;
  };
  std::size_t allocations = 0;
  for (const Stage stage : {Stage{147, 64}, Stage{74, 128}, Stage{37, 256}, Stage{19, 728}}) {
    auto residual = torch::empty({stage.channels, stage.side, stage.side});
    auto x = torch::empty({stage.channels / 2, stage.side, stage.side});
    allocations += 2;
    for (std::int64_t layer = 0; layer < 6; ++layer) {
      const std::int64_t c = stage.channels + 8 * (layer % 2);
      const auto workspace = torch::empty({c * stage.side * 4});
      x = torch::empty({c, stage.side, stage.side});  // frees the layer's input
      allocations += 2;
    }
  }
  return allocations;
}

}  // namespace

TEST_CASE("ActivationArena: size classes, a second pass of many sizes hits every time, the cap", "[nn][arena]") {
  REQUIRE(ActivationArena::stats().bytes_cached == 0);  // no other arena owner left blocks
  ActivationArena arena;
  ActivationArena::Scope scope(arena);
  REQUIRE(scope.active());
  const auto footprint_within_cap = [] {
    const auto s = ActivationArena::stats();
    INFO("in use " << s.bytes_in_use << ", cached " << s.bytes_cached << ", peak " << s.peak_bytes_in_use);
    CHECK(s.bytes_in_use + s.bytes_cached <= s.peak_bytes_in_use * 5 / 2);
  };

  SECTION("a request takes a block of exactly its size class") {
    // 1,000,000 and 990,000 bytes are both 31 x 32 KiB (1/16 of 512 KiB) = 1,015,808 bytes.
    const auto in_use = ActivationArena::stats().bytes_in_use;
    void* address = nullptr;
    {
      const auto a = torch::empty({1000000}, torch::kUInt8);
      CHECK(ActivationArena::stats().bytes_in_use == in_use + 1015808);
      address = a.data_ptr();
    }
    auto before = ActivationArena::stats();
    {
      const auto b = torch::empty({990000}, torch::kUInt8);
      CHECK(b.data_ptr() == address);
      CHECK(ActivationArena::stats().hits == before.hits + 1);
    }
    // 950,000 bytes would fit in that block, but are of the class below (29 x 32 KiB): a miss,
    // so that the block stays for its own class.
    before = ActivationArena::stats();
    const auto c = torch::empty({950000}, torch::kUInt8);
    CHECK(c.data_ptr() != address);
    CHECK(ActivationArena::stats().misses == before.misses + 1);
    CHECK(ActivationArena::stats().bytes_in_use == in_use + 950272);
  }

  SECTION("after a warm-up pass, the same pass has no misses and stays within the cap") {
    const auto start = ActivationArena::stats();
    const std::size_t allocations = xception_like_pass();
    const auto warm = ActivationArena::stats();
    CHECK(warm.hits + warm.misses == start.hits + start.misses + allocations);
    CHECK(warm.misses > start.misses);
    footprint_within_cap();
    for (int pass = 0; pass < 2; ++pass) {
      const auto before = ActivationArena::stats();
      xception_like_pass();
      const auto after = ActivationArena::stats();
      CHECK(after.misses == before.misses);
      CHECK(after.hits == before.hits + allocations);
      CHECK(after.evictions == before.evictions);
      CHECK(after.bytes_cached == before.bytes_cached);
      footprint_within_cap();
    }
  }

  SECTION("over the cap, the largest cached blocks are given back") {
    const std::int64_t big = 8 << 20, small = 1 << 20;
    { const auto a = torch::empty({big}, torch::kUInt8); }  // peak: one 8 MiB block
    const auto start = ActivationArena::stats();
    REQUIRE(start.peak_bytes_in_use == static_cast<std::size_t>(big));
    // 16 blocks of the 16 classes from 1 MiB to 2 MiB (steps of 64 KiB) freed one after the
    // other: caching all would take the arena to 31.5 MiB, past 2.5 x 8 MiB.
    for (std::int64_t i = 0; i < 16; ++i) {
      { const auto t = torch::empty({small + i * (small / 16)}, torch::kUInt8); }
      footprint_within_cap();
    }
    const auto after = ActivationArena::stats();
    CHECK(after.evictions > start.evictions);
    // The 8 MiB block was the largest, so it went first: the next 8 MiB request is a miss,
    // while the smallest 1 MiB block is still there.
    const auto again = torch::empty({big}, torch::kUInt8);
    CHECK(ActivationArena::stats().misses == after.misses + 1);
    const auto first = torch::empty({small}, torch::kUInt8);
    CHECK(ActivationArena::stats().hits == after.hits + 1);
  }
}

TEST_CASE("Embedder: the same features with and without the arena, 1 and 2 threads", "[nn][arena][real]") {
  const auto weights = resnet_weights();
  INFO("run scripts/fetch_weights.sh: " << weights << " is missing");
  REQUIRE(std::filesystem::exists(weights + "/model.json"));
  const std::size_t side = 320, n = 2;
  const auto tiles = photo_tiles({"dog.jpg", "eagle.jpg"}, side);

  std::vector<float> one_thread;
  for (int threads : {1, 2}) {
    std::vector<float> without;
    for (bool reuse : {false, true}) {
      INFO("threads " << threads << ", reuse_activation_memory " << reuse);
      EmbedderOptions o;
      o.weights = weights;
      o.batch_size = 1;  // the second batch runs in the first one's memory
      o.num_threads = threads;
      o.reuse_activation_memory = reuse;
      std::vector<float> features;
      {
        const auto before = ActivationArena::stats();
        const Embedder embedder(o);
        features = embedder.transform_rgb(tiles.data(), n, side, side);
        const auto after = ActivationArena::stats();
        if (reuse) {
          CHECK(after.hits > before.hits);  // the arena served the second batch
          CHECK(after.bytes_cached > 0);    // and keeps the memory for the next call
        } else {
          CHECK(after.hits == before.hits);
          CHECK(after.misses == before.misses);
        }
      }
      REQUIRE(features.size() == n * 2048);
      if (!reuse) {
        without = features;
        // Features of different photos differ (the comparisons below are not vacuous).
        double diff = 0;
        for (std::size_t j = 0; j < 2048; ++j) diff += std::abs(features[j] - features[2048 + j]);
        CHECK(diff > 1.0);
      } else {
        CHECK(features == without);  // bit for bit: only where the memory comes from changes
      }
    }
    // Another thread count sums in another order (oneDNN), with or without the arena: equal
    // to float rounding, as tests/cpp/nn/embedder.cpp checks for the Embedder in general.
    if (threads == 1) {
      one_thread = without;
    } else {
      for (std::size_t i = 0; i < without.size(); ++i)
        REQUIRE(without[i] == Approx(one_thread[i]).epsilon(1e-4).margin(1e-5));
    }
  }
  CHECK(ActivationArena::stats().owners == 0);
  CHECK(ActivationArena::stats().bytes_cached == 0);  // given back with the last Embedder
}
