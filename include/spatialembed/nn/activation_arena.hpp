#pragma once
/// @file
/// `ActivationArena`: keeps the memory of LibTorch's large CPU tensors (activations,
/// gradients, oneDNN buffers) for reuse while a network runs, so that each batch does not get
/// fresh memory from the system and fault its pages in again.
///
/// Why: glibc serves every allocation above its mmap threshold (at most 32 MB) with its own
/// `mmap` and gives it back with `munmap` when freed. A ResNet-50 forward pass allocates and
/// frees such tensors layer after layer, so every batch pays the page faults of its whole
/// working memory again (more system than user time on 2 cores; 2-3.6x slower than with the
/// memory kept). The arena keeps freed blocks and hands them out again; it is LibTorch's CPU
/// allocator only while a `Scope` is alive, and changes nothing for the rest of the process.
///
/// The header needs no LibTorch; the implementation is in spatialembed::nn.

#include <cstddef>

namespace spatialembed {

/// Counters of the process's arena (bytes are block sizes: requests rounded up to their size class).
struct ActivationArenaStats {
  std::size_t owners = 0;             ///< live `ActivationArena` objects
  std::size_t active_scopes = 0;      ///< live `ActivationArena::Scope` objects
  std::size_t bytes_in_use = 0;       ///< arena blocks held by live tensors
  std::size_t bytes_cached = 0;       ///< freed arena blocks kept for reuse
  std::size_t peak_bytes_in_use = 0;  ///< highest `bytes_in_use` since the first owner appeared
  std::size_t hits = 0;               ///< allocations served from the cache
  std::size_t misses = 0;             ///< allocations that went to the system
  std::size_t evictions = 0;          ///< cached blocks given back to the system to keep the cap
};

/// A share in the process's activation arena. The cache is one for the process (so that two
/// embedders do not each hold a copy of the working memory) and lives while at least one
/// `ActivationArena` does; when the last one is destroyed the cached blocks are freed.
/// Blocks of tensors that outlive it are freed when those tensors are (never invalidated).
///
/// Only allocations of at least 64 KiB go to the arena; smaller ones go to the allocator that
/// was installed before (glibc's heap already reuses them). Policy:
/// - **Size classes.** A request is rounded up to its size class, a multiple of 1/16 of its
///   power of two (at most 6.25 % more), and takes a cached block of exactly that class, or a
///   new one. So a block freed by one layer serves every later request of its class, and a
///   network with many tensor sizes (Xception: separable convolutions at four resolutions)
///   needs, per class, only as many blocks as tensors of that class are alive at once.
/// - **Cap.** The arena's blocks (in use and cached) stay within 2.5 times the peak bytes in
///   use. Measured (batch 32), repeated passes of ResNet-50 need 2.03 times their peak and
///   Xception 2.15 times, so after a warm-up pass every request of the next pass is a hit.
/// - **Eviction.** When caching a freed block would exceed the cap, the largest cached blocks
///   (perhaps that one) are given back to the system until the arena fits again, rather than
///   the least recently freed: those are the first layers' blocks, which the next pass needs
///   first.
///
/// Thread-safe. Results are bit-identical with and without the arena (only where the memory
/// comes from changes, never what is computed in it).
class ActivationArena {
 public:
  ActivationArena();
  ~ActivationArena();
  ActivationArena(const ActivationArena&) = delete;
  ActivationArena& operator=(const ActivationArena&) = delete;

  /// While alive, LibTorch's CPU allocator (`c10::GetCPUAllocator()`) is the arena, for every
  /// thread of the process (LibTorch's allocator is process-wide: intra-op threads, and any
  /// other code running CPU tensor operations meanwhile, allocate from it too, which is safe).
  /// Scopes nest and may overlap across threads: the first one installs the arena (with
  /// `c10::SetCPUAllocator` at priority 0), the last one puts back the allocator that was
  /// installed before (unless someone else replaced it meanwhile). When an allocator of higher
  /// priority is installed the arena stays out (`active()` false) and nothing changes.
  class Scope {
   public:
    explicit Scope(const ActivationArena& arena);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    bool active() const { return active_; }  ///< the arena is LibTorch's CPU allocator now

   private:
    bool active_ = false;
  };

  /// Frees the cached (unused) blocks now; blocks in use are not touched.
  static void release_cached();

  static ActivationArenaStats stats();
};

}  // namespace spatialembed
