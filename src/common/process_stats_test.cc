#include "common/process_stats.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace smartcity {
namespace {

TEST(ProcessStatsTest, PeakRssGrowsWithTouchedMemory) {
  const uint64_t before = PeakRssBytes();
  ASSERT_GT(before, 0u);
  std::vector<char> big(64 << 20, 1);  // touched: counts as resident
  const uint64_t after = PeakRssBytes();
  EXPECT_GE(after, before);
  EXPECT_GE(after, 64u << 20);
  // Resident now can never exceed the peak read after it (the peak only grows).
  const uint64_t resident = ResidentBytes();
  EXPECT_GT(resident, 0u);
  EXPECT_LE(resident, PeakRssBytes());
  EXPECT_EQ(big[12345], 1);
}

TEST(ProcessStatsTest, CpuSecondsAdvance) {
  const double t0 = CpuSeconds();
  volatile double x = 0;
  for (int i = 0; i < 20'000'000; ++i) x = x + i * 0.5;
  EXPECT_GT(CpuSeconds(), t0);
}

TEST(ProcessStatsTest, NameThisThreadNamesOnlyTheCallingThread) {
  std::string named, main_before, main_after;
  auto comm = [](pid_t tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
    std::string s;
    std::getline(in, s);
    return s;
  };
  main_before = comm(static_cast<pid_t>(::syscall(SYS_gettid)));
  std::thread t([&] {
    NameThisThread("sc-a-name-longer-than-fifteen");  // cut to 15 bytes, not refused
    named = comm(static_cast<pid_t>(::syscall(SYS_gettid)));
  });
  t.join();
  main_after = comm(static_cast<pid_t>(::syscall(SYS_gettid)));
  EXPECT_EQ(named, "sc-a-name-longe");
  EXPECT_EQ(main_after, main_before);
}

}  // namespace
}  // namespace smartcity
