#include "common/memory.h"

#include <dlfcn.h>

#include <cstddef>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/process_stats.h"

namespace smartcity {

namespace {

// DuckDB's own allocator (a jemalloc built with the prefix duckdb_je_), when libduckdb is loaded.
// Its purge threads do not run in this build, so freed pages wait for the next allocations that
// happen to pass the decay check; "arena.<all>.purge" hands them back now. Looked up by name so
// that common/ depends on no DuckDB header, and a build without DuckDB's jemalloc simply skips it.
using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

MallctlFn DuckDbMallctl() {
  static const MallctlFn fn =
      reinterpret_cast<MallctlFn>(::dlsym(RTLD_DEFAULT, "duckdb_je_mallctl"));  // NOLINT
  return fn;
}

}  // namespace

uint64_t ReleaseFreeMemory() {
  if (const MallctlFn mallctl = DuckDbMallctl()) {
    // 4096 is jemalloc's MALLCTL_ARENAS_ALL.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
  }
#if defined(__GLIBC__)
  const struct mallinfo2 before = mallinfo2();
  malloc_trim(0);
  return before.fordblks;
#else
  return 0;
#endif
}

void LimitAllocatorArenas(int arenas) {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, arenas);
#else
  (void)arenas;
#endif
}

PeriodicMemoryRelease::PeriodicMemoryRelease(std::chrono::milliseconds every) {
  thread_ = std::thread([this, every] {
    NameThisThread("sc-release-mem");
    MutexLock lock(&mu_);
    while (!stop_) {
      if (cv_.WaitUntil(&mu_, std::chrono::steady_clock::now() + every)) continue;
      ReleaseFreeMemory();
    }
  });
}

PeriodicMemoryRelease::~PeriodicMemoryRelease() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

}  // namespace smartcity
