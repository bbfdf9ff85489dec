#include "common/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace smartcity {

uint64_t ReleaseFreeMemory() {
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

}  // namespace smartcity
