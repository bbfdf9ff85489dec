#include "common/memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
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

TEST(MemoryTest, PeriodicReleaseHandsFreedPagesBackOnItsOwn) {
  if (!kOwnAllocator) GTEST_SKIP() << "the sanitizer's allocator keeps its own pages";
  constexpr size_t kBlock = 32 << 10, kBlocks = 3072;
  std::vector<std::unique_ptr<char[]>> blocks;
  for (size_t i = 0; i < kBlocks; ++i) {
    blocks.emplace_back(new char[kBlock]);
    std::memset(blocks.back().get(), 1, kBlock);
  }
  std::unique_ptr<char[]> last(new char[64]);
  blocks.clear();
  const uint64_t before = ResidentBytes();
  PeriodicMemoryRelease release(std::chrono::milliseconds(10));
  // Nobody calls ReleaseFreeMemory here: the releaser's thread does (the deadline is generous;
  // what is asserted is that it happens).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ResidentBytes() + (32u << 20) > before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_LE(ResidentBytes() + (32u << 20), before);
}

TEST(MemoryTest, PeriodicReleaseStopsWithoutWaitingForItsNextTurn) {
  // Destroyed long before its first turn: it must not wait out the hour.
  PeriodicMemoryRelease release(std::chrono::hours(1));
}

TEST(MemoryTest, TheNextTurnStartsAfterThePreviousOneHandedBackWhatItFreed) {
  if (!kOwnAllocator) GTEST_SKIP() << "the sanitizer's allocator keeps its own pages";
  Mutex mu;
  std::atomic<bool> waiting{false};
  uint64_t resident_at_second_turn = 0;
  uint64_t before = 0;
  std::thread second;
  std::unique_ptr<char[]> last;  // keeps the heap's top in use, past the turn: no trim by free()
  {
    MemoryTurn first(&mu);
    second = std::thread([&] {
      waiting = true;
      MemoryTurn turn(&mu);
      resident_at_second_turn = ResidentBytes();
    });
    while (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    constexpr size_t kBlock = 32 << 10, kBlocks = 3072;
    std::vector<std::unique_ptr<char[]>> blocks;
    for (size_t i = 0; i < kBlocks; ++i) {
      blocks.emplace_back(new char[kBlock]);
      std::memset(blocks.back().get(), 1, kBlock);
    }
    // Larger than any block freed so far, under the mmap threshold: it comes from the heap's top.
    last.reset(new char[100 << 10]);
    blocks.clear();
    before = ResidentBytes();
  }
  second.join();
  EXPECT_LE(resident_at_second_turn + (32u << 20), before)
      << "resident when the second turn started " << resident_at_second_turn << ", before "
      << before;
}

TEST(MemoryTest, ATurnWithoutALockIsFree) {
  MemoryTurn turn(nullptr);  // no lock, nothing to hand over: nothing happens
}

}  // namespace
}  // namespace smartcity
