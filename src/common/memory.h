// Handing freed memory back to the system. A long-running process frees most of what it
// allocates (an epoch's rows once written, a batch once parsed), but the C allocator keeps freed
// pages in its arenas for reuse: with many threads that slack grows to tens of MiB of resident
// memory nobody uses. Releasing it now and then keeps the resident set near what is in use.
#pragma once

#include <cstdint>

namespace smartcity {

// Returns the C allocator's free pages to the system (glibc: malloc_trim), in every arena. Takes
// a few milliseconds on a heap of a few hundred MiB; thread-safe. Returns the bytes the
// allocator held free before (0 where that is not known).
uint64_t ReleaseFreeMemory();

}  // namespace smartcity
