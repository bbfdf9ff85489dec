// Handing freed memory back to the system. A long-running process frees most of what it
// allocates (an epoch's rows once written, a batch once parsed), but the C allocator keeps freed
// pages in its arenas for reuse: with many threads that slack grows to tens of MiB of resident
// memory nobody uses. Releasing it now and then keeps the resident set near what is in use.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#include "common/mutex.h"

namespace smartcity {

// Returns the C allocator's free pages to the system (glibc: malloc_trim), in every arena. Takes
// a few milliseconds on a heap of a few hundred MiB; thread-safe. Returns the bytes the
// allocator held free before (0 where that is not known).
uint64_t ReleaseFreeMemory();

// Caps the number of arenas the C allocator keeps (glibc: M_ARENA_MAX; by default 8 per core,
// each created by a thread that found the others busy, each keeping its own free pieces). Call it
// before the process starts threads. Fewer arenas: less slack, more contention between threads.
void LimitAllocatorArenas(int arenas);

// Holds `mu` (none if null) for one turn of a job that needs much memory for a moment (a lake
// compaction, a warehouse load pass) and, when the turn ends, hands what the turn freed back to the
// system before the lock passes on. Two such jobs that take turns then peak one at a time: without
// it, the next turn's allocations came on top of pages the previous one had freed but the
// allocators still held (a 7-day `run` soak rose by 80 MiB in half a second at such a hand-over, in
// the 200 ms before the periodic release came round).
class MemoryTurn {
 public:
  explicit MemoryTurn(Mutex* mu) : shared_(mu != nullptr), lock_(mu) {}
  // Runs before lock_ lets go.
  ~MemoryTurn() {
    if (shared_) ReleaseFreeMemory();
  }
  MemoryTurn(const MemoryTurn&) = delete;
  MemoryTurn& operator=(const MemoryTurn&) = delete;

 private:
  const bool shared_;
  OptionalMutexLock lock_;
};

// Calls ReleaseFreeMemory every `every` on a thread of its own, for as long as it lives. A
// long-running command keeps one for its whole life, its stop included: `run` reached its highest
// resident set after the stream had stopped (its last compaction and warehouse load), when the
// processing loop that used to release memory between its turns no longer turned.
class PeriodicMemoryRelease {
 public:
  explicit PeriodicMemoryRelease(std::chrono::milliseconds every);
  ~PeriodicMemoryRelease();
  PeriodicMemoryRelease(const PeriodicMemoryRelease&) = delete;
  PeriodicMemoryRelease& operator=(const PeriodicMemoryRelease&) = delete;

 private:
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace smartcity
