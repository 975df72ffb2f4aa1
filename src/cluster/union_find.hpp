#pragma once
// A lock-free disjoint-set forest for concurrent unions. Roots are always linked under the
// smaller root, so every set's root is its smallest element: the final roots, and anything
// numbered by them, do not depend on the order in which threads made the unions.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace spatialembed {

class ConcurrentUnionFind {
 public:
  explicit ConcurrentUnionFind(std::size_t n) : parent_(new std::atomic<std::uint32_t>[n]), size_(n) {
    for (std::size_t i = 0; i < n; ++i) parent_[i].store(static_cast<std::uint32_t>(i), std::memory_order_relaxed);
  }

  std::size_t size() const { return size_; }

  /// Root (smallest element) of x's set; halves the path on the way.
  std::uint32_t find(std::uint32_t x) const {
    for (;;) {
      std::uint32_t p = parent_[x].load(std::memory_order_acquire);
      if (p == x) return x;
      const std::uint32_t gp = parent_[p].load(std::memory_order_acquire);
      if (gp != p) parent_[x].compare_exchange_weak(p, gp, std::memory_order_acq_rel);
      x = gp;
    }
  }

  /// Merges the sets of a and b; safe to call from several threads at once.
  void unite(std::uint32_t a, std::uint32_t b) {
    for (;;) {
      a = find(a);
      b = find(b);
      if (a == b) return;
      if (a < b) std::swap(a, b);  // link the larger root under the smaller
      std::uint32_t expected = a;
      if (parent_[a].compare_exchange_strong(expected, b, std::memory_order_acq_rel)) return;
    }
  }

 private:
  std::unique_ptr<std::atomic<std::uint32_t>[]> parent_;
  std::size_t size_;
};

}  // namespace spatialembed
