// ActivationArena: a caching CPU allocator for LibTorch, installed only within scopes.

#include "spatialembed/nn/activation_arena.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace spatialembed {

namespace {

constexpr std::size_t kMinBytes = std::size_t{1} << 16;  // smaller: the previous allocator
constexpr std::size_t kRound = std::size_t{1} << 12;
constexpr std::uint8_t kPriority = 0;  // c10's default; a higher-priority allocator keeps its place

// One for the process, never destroyed: tensors may be freed (through `release`) at any
// time, also after main returns, and c10 may still point at it.
class ArenaAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override {
    if (n < kMinBytes) return previous()->allocate(n);
    const std::size_t size = (n + kRound - 1) / kRound * kRound;
    void* p = nullptr;
    std::size_t block = size;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first <= size + size / 4) {
        block = it->first, p = it->second;
        free_.erase(it);
        cached_ -= block;
        ++hits_;
      } else {
        ++misses_;
      }
    }
    if (!p) p = c10::alloc_cpu(size);  // throws c10::Error when out of memory
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
    {
      std::lock_guard<std::mutex> lock(a.mutex_);
      auto it = a.in_use_.find(p);
      if (it == a.in_use_.end()) {
        other = a.previous_locked()->raw_deleter();
      } else {
        const std::size_t block = it->second;
        a.in_use_.erase(it);
        a.in_use_bytes_ -= block;
        // Kept while the arena's footprint (blocks in use + cached) stays within twice the
        // peak in use: a pass needs one block per size for each tensor of that size alive at
        // once, which adds up to more than the peak, but not to twice it.
        if (a.owners_ > 0 && a.in_use_bytes_ + a.cached_ + block <= 2 * a.peak_) {
          a.free_.emplace(block, p);
          a.cached_ += block;
          return;
        }
      }
    }
    if (other)
      other(p);
    else
      c10::free_cpu(p);
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
  mutable std::multimap<std::size_t, void*> free_;  // block size -> block
  mutable std::unordered_map<void*, std::size_t> in_use_;
  mutable std::size_t in_use_bytes_ = 0, cached_ = 0, peak_ = 0, hits_ = 0, misses_ = 0;
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
