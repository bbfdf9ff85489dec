#include "common/mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace smartcity {
namespace {

class Counter {
 public:
  void Add() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    ++n_;
  }
  int Get() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return n_;
  }

 private:
  Mutex mu_;
  int n_ GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, MutexLockExcludesOtherThreads) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) c.Add();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c.Get(), 40000);
}

TEST(MutexTest, WaitUntilTimesOutHoldingTheMutex) {
  Mutex mu;
  CondVar cv;
  MutexLock l(&mu);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cv.WaitUntil(&mu, start + std::chrono::milliseconds(20)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
}

TEST(MutexTest, SignalWakesAWaiter) {
  Mutex mu;
  CondVar cv;
  bool ready = false;  // guarded by mu (a local: the analysis sees fields only)
  std::thread setter([&] {
    MutexLock l(&mu);
    ready = true;
    cv.SignalAll();
  });
  {
    MutexLock l(&mu);
    while (!ready) cv.Wait(&mu);
    EXPECT_TRUE(ready);
  }
  setter.join();
}

}  // namespace
}  // namespace smartcity
