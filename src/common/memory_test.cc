#include "common/memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "common/process_stats.h"

namespace smartcity {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kOwnAllocator = false;  // the sanitizers bring their own allocator
#else
constexpr bool kOwnAllocator = true;
#endif

TEST(MemoryTest, FreedSmallBlocksLeaveTheResidentSet) {
  if (!kOwnAllocator) GTEST_SKIP() << "the sanitizer's allocator keeps its own pages";
  // 96 MiB in blocks small enough to come from the allocator's heap (not mmap), touched, then
  // freed: the allocator keeps them as free pages until they are released.
  constexpr size_t kBlock = 32 << 10, kBlocks = 3072;
  std::vector<std::unique_ptr<char[]>> blocks;
  for (size_t i = 0; i < kBlocks; ++i) {
    blocks.emplace_back(new char[kBlock]);
    std::memset(blocks.back().get(), 1, kBlock);
  }
  std::unique_ptr<char[]> last(new char[64]);  // keeps the heap's top in use: no trim by free()
  blocks.clear();
  const uint64_t before = ResidentBytes();
  const uint64_t free_bytes = ReleaseFreeMemory();
  const uint64_t after = ResidentBytes();
  EXPECT_GE(free_bytes, kBlock * kBlocks / 2);
  EXPECT_LE(after + (32u << 20), before) << "before " << before << ", after " << after;
}

}  // namespace
}  // namespace smartcity
