// ActivationArena: a caching CPU allocator for LibTorch, installed only within scopes.

#include "spatialembed/nn/activation_arena.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace spatialembed {

namespace {

constexpr std::size_t kMinBytes = std::size_t{1} << 16;  // smaller: the previous allocator
constexpr std::size_t kPage = std::size_t{1} << 12;
constexpr std::uint8_t kPriority = 0;  // c10's default; a higher-priority allocator keeps its place

// The block size that serves a request of n bytes: n rounded up to a multiple of 1/16 of its
// power of two (and of a page), at most 6.25 % more. Every request of a class gets the same
// block size, so a block freed by one layer serves any later request of its class exactly;
// a network's many sizes (Xception's) then need few blocks. 1/16 kept less memory than 1/8 on
// Xception and ResNet-50 (bench/README.md) with the same hits.
std::size_t size_class(std::size_t n) {
  std::size_t power = kPage;
  while (power <= n / 2) power *= 2;  // the largest power of two <= n
  const std::size_t step = std::max(kPage, power / 16);
  return (n + step - 1) / step * step;
}

// The arena's blocks (in use + cached) stay within this multiple of the peak bytes in use.
// A pass of a network needs, for each size class, as many blocks as tensors of that class are
// alive at once; measured, that adds up to 2.03x the peak in use for ResNet-50 and 2.15x for
// Xception (whose stages run at different sizes, each with its own blocks). 2.5 leaves room
// and keeps the peak memory at or below glibc's with the mmap threshold off (bench/README.md).
constexpr double kCapOfPeak = 2.5;

// One for the process, never destroyed: tensors may be freed (through `release`) at any
// time, also after main returns, and c10 may still point at it.
class ArenaAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override {
    if (n < kMinBytes) return previous()->allocate(n);
    const std::size_t block = size_class(n);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(block);  // a cached block of exactly this class
      if (it != free_.end()) {
        p = it->second;
        free_.erase(it);
        cached_ -= block;
        ++hits_;
      } else {
        ++misses_;
      }
    }
    if (!p) p = c10::alloc_cpu(block);  // throws c10::Error when out of memory
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_use_[p] = block;  // replaces a stale entry of a block someone else freed
      in_use_bytes_ += block;
      peak_ = std::max(peak_, in_use_bytes_);
    }
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // `raw_deallocate` (oneDNN's buffers) calls the installed allocator's raw deleter, which
  // may be this one for a pointer that the previous allocator made, or the other way round.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  static void release(void* p) {
    if (!p) return;
    ArenaAllocator& a = instance();
    c10::DeleterFnPtr other = nullptr;
    std::vector<void*> to_free;  // freed after the lock is let go: munmap takes a while
    {
      std::lock_guard<std::mutex> lock(a.mutex_);
      auto it = a.in_use_.find(p);
      if (it == a.in_use_.end()) {
        other = a.previous_locked()->raw_deleter();
      } else {
        const std::size_t block = it->second;
        a.in_use_.erase(it);
        a.in_use_bytes_ -= block;
        if (a.owners_ == 0) {
          to_free.push_back(p);
        } else {
          // Cache the block; when that takes the arena over its cap, give back the largest
          // cached blocks (perhaps this one) until it fits again. Largest rather than least
          // recently freed: a pass frees its first layers' blocks first and needs them first
          // in the next pass, so evicting the oldest makes the next pass miss block after
          // block; evicting the largest misses few, and frees the most memory per munmap.
          a.free_.emplace(block, p);
          a.cached_ += block;
          const auto cap = static_cast<std::size_t>(kCapOfPeak * static_cast<double>(a.peak_));
          while (a.in_use_bytes_ + a.cached_ > cap && !a.free_.empty()) {
            const auto largest = std::prev(a.free_.end());
            to_free.push_back(largest->second);
            a.cached_ -= largest->first;
            a.free_.erase(largest);
            ++a.evictions_;
          }
        }
      }
    }
    if (other) other(p);
    for (void* q : to_free) c10::free_cpu(q);
  }

  static ArenaAllocator& instance() {
    static ArenaAllocator* const arena = new ArenaAllocator;
    return *arena;
  }

  void add_owner() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++owners_;
  }

  void remove_owner() {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last = --owners_ == 0;
    }
    if (last) release_cached();
  }

  void release_cached() {
    std::vector<void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [size, p] : free_) blocks.push_back(p);
      free_.clear();
      cached_ = 0;
      if (owners_ == 0) peak_ = in_use_bytes_;
    }
    for (void* p : blocks) c10::free_cpu(p);
  }

  bool enter() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (scopes_++ == 0) {
      c10::Allocator* current = c10::GetCPUAllocator();
      if (current != this) {
        previous_ = current;
        c10::SetCPUAllocator(this, kPriority);
      }
    }
    return c10::GetCPUAllocator() == this;
  }

  void leave() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--scopes_ == 0 && c10::GetCPUAllocator() == this && previous_) c10::SetCPUAllocator(previous_, kPriority);
  }

  ActivationArenaStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    ActivationArenaStats s;
    s.owners = owners_;
    s.active_scopes = scopes_;
    s.bytes_in_use = in_use_bytes_;
    s.bytes_cached = cached_;
    s.peak_bytes_in_use = peak_;
    s.hits = hits_;
    s.misses = misses_;
    s.evictions = evictions_;
    return s;
  }

 private:
  ArenaAllocator() = default;

  c10::Allocator* previous() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return previous_locked();
  }
  c10::Allocator* previous_locked() const { return previous_ ? previous_ : c10::GetDefaultCPUAllocator(); }

  mutable std::mutex mutex_;
  mutable std::multimap<std::size_t, void*> free_;  // size class -> cached block
  mutable std::unordered_map<void*, std::size_t> in_use_;
  mutable std::size_t in_use_bytes_ = 0, cached_ = 0, peak_ = 0, hits_ = 0, misses_ = 0, evictions_ = 0;
  std::size_t owners_ = 0, scopes_ = 0;
  c10::Allocator* previous_ = nullptr;  // the CPU allocator before the first scope
};

}  // namespace

ActivationArena::ActivationArena() { ArenaAllocator::instance().add_owner(); }
ActivationArena::~ActivationArena() { ArenaAllocator::instance().remove_owner(); }

ActivationArena::Scope::Scope(const ActivationArena&) { active_ = ArenaAllocator::instance().enter(); }
ActivationArena::Scope::~Scope() { ArenaAllocator::instance().leave(); }

void ActivationArena::release_cached() { ArenaAllocator::instance().release_cached(); }

ActivationArenaStats ActivationArena::stats() { return ArenaAllocator::instance().stats(); }

}  // namespace spatialembed
