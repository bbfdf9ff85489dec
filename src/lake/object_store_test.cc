#include "lake/object_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "lake/delta_log.h"
#include "testing/files.h"
#include "testing/subprocess.h"

namespace smartcity::lake {
namespace {

namespace fs = std::filesystem;

// The same behaviour is required of every store.
class ObjectStoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "local") {
      dir_.emplace("smartcity-lake-test-store");
      auto s = LocalObjectStore::Open(dir_->path());
      ASSERT_TRUE(s.ok()) << s.status().message();
      store_ = std::move(*s);
    } else {
      store_ = std::make_unique<InMemoryObjectStore>();
    }
  }
  std::optional<test::TempDir> dir_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_P(ObjectStoreContract, PutGetHeadDelete) {
  ASSERT_TRUE(store_->Put("t/a.json", "hello").ok());
  auto got = store_->Get("t/a.json");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "hello");
  ASSERT_TRUE(store_->Put("t/a.json", "replaced").ok());
  EXPECT_EQ(*store_->Get("t/a.json"), "replaced");
  auto head = store_->Head("t/a.json");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 8u);
  EXPECT_EQ(head->key, "t/a.json");
  EXPECT_EQ(*store_->GetRange("t/a.json", 2, 3), "pla");
  EXPECT_EQ(*store_->GetRange("t/a.json", 6, 100), "ed");
  EXPECT_EQ(store_->Get("t/missing").status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->Head("t/missing").status().kind(), ErrorKind::kNotFound);
  ASSERT_TRUE(store_->Delete("t/a.json").ok());
  EXPECT_EQ(store_->Get("t/a.json").status().kind(), ErrorKind::kNotFound);
  EXPECT_TRUE(store_->Delete("t/a.json").ok()) << "deleting a missing key is not an error";
}

TEST_P(ObjectStoreContract, PutIfAbsentRefusesAnExistingKey) {
  ASSERT_TRUE(store_->PutIfAbsent("t/_delta_log/00000000000000000001.json", "first").ok());
  Status second = store_->PutIfAbsent("t/_delta_log/00000000000000000001.json", "second");
  EXPECT_EQ(second.kind(), ErrorKind::kAlreadyExists);
  EXPECT_EQ(*store_->Get("t/_delta_log/00000000000000000001.json"), "first");
}

TEST_P(ObjectStoreContract, ListIsSortedAndFilteredByPrefix) {
  for (const char* k : {"b/2", "a/x/1", "a/1", "a/x/0", "ab/1", "a/10"})
    ASSERT_TRUE(store_->Put(k, k).ok());
  auto all = store_->List("a/");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const auto& o : *all) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a/1", "a/10", "a/x/0", "a/x/1"}));
  auto partial = store_->List("a/x/");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->size(), 2u);
  auto byname = store_->List("a");  // a prefix that is not a folder
  ASSERT_TRUE(byname.ok());
  EXPECT_EQ(byname->size(), 5u);
  auto none = store_->List("zzz/");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto everything = store_->List("");
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->size(), 6u) << "the local store's staging folder is never listed";
}

TEST_P(ObjectStoreContract, PutFileCopiesALocalFile) {
  test::TempDir dir("smartcity-lake-test-src");
  const fs::path src = dir / "data.parquet";
  std::ofstream(src, std::ios::binary) << std::string(100000, 'x');
  ASSERT_TRUE(store_->PutFile("t/date=2026-01-05/part-0.parquet", src).ok());
  EXPECT_TRUE(fs::exists(src)) << "the caller's file is left in place";
  auto head = store_->Head("t/date=2026-01-05/part-0.parquet");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 100000u);
}

TEST_P(ObjectStoreContract, RejectsBadKeys) {
  for (const char* k : {"", "/abs", "a//b", "a/../b", "./a", "a/"}) {
    EXPECT_EQ(store_->Put(k, "x").kind(), ErrorKind::kInvalidArgument) << k;
  }
}

TEST_P(ObjectStoreContract, ConcurrentPutIfAbsentHasExactlyOneWinner) {
  for (int round = 0; round < 20; ++round) {
    const std::string key = "t/_delta_log/" + std::to_string(round) + ".json";
    std::atomic<int> wins{0}, losses{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        Status s = store_->PutIfAbsent(key, "writer " + std::to_string(t));
        if (s.ok()) ++wins;
        if (s.kind() == ErrorKind::kAlreadyExists) ++losses;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(losses.load(), 7);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, ObjectStoreContract, ::testing::Values("local", "memory"),
                         [](const auto& info) { return info.param; });

TEST(LocalObjectStoreTest, PutIfAbsentIsAtomicAcrossProcesses) {
  test::TempDir dir("smartcity-lake-test-procs");
  auto store = LocalObjectStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  constexpr int kChildren = 6;
  std::vector<test::Subprocess> children;
  for (int i = 0; i < kChildren; ++i) {
    auto child = test::Subprocess::Fork([&] {
      auto s = (*store)->PutIfAbsent("t/_delta_log/00000000000000000007.json",
                                     "child " + std::to_string(i));
      return s.ok() ? 0 : (s.kind() == ErrorKind::kAlreadyExists ? 3 : 4);
    });
    ASSERT_TRUE(child.ok()) << child.status().message();
    children.push_back(std::move(*child));
  }
  int winners = 0, losers = 0;
  for (test::Subprocess& child : children) {
    auto status = child.Wait(std::chrono::seconds(60));
    ASSERT_TRUE(status.ok()) << status.status().message();
    ASSERT_EQ(status->signal, 0) << status->ToString();
    if (status->ExitedWith(0)) ++winners;
    if (status->ExitedWith(3)) ++losers;
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(losers, kChildren - 1);
  EXPECT_TRUE(fs::is_empty(dir / std::string(LocalObjectStore::kStagingDir)))
      << "no staging file is left";
}

TEST(LocalObjectStoreTest, OpenRemovesStaleStagingFilesOnly) {
  test::TempDir dir("smartcity-lake-test-stale");
  ASSERT_TRUE(LocalObjectStore::Open(dir.path()).ok());
  fs::path staging = dir / std::string(LocalObjectStore::kStagingDir);
  std::ofstream(staging / "put-old") << "partial";
  std::ofstream(staging / "put-new") << "in flight";
  fs::last_write_time(staging / "put-old",
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  ASSERT_TRUE(LocalObjectStore::Open(dir.path()).ok());
  EXPECT_FALSE(fs::exists(staging / "put-old"));
  EXPECT_TRUE(fs::exists(staging / "put-new"));
}

TEST(LocalObjectStoreTest, ObjectsAreFilesUnderTheRoot) {
  test::TempDir dir("smartcity-lake-test-files");
  auto store = LocalObjectStore::Open(dir / "lake");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put("t/_delta_log/x.json", "{}").ok());
  EXPECT_TRUE(fs::is_regular_file(dir / "lake/t/_delta_log/x.json"));
  EXPECT_EQ((*store)->LocalPath("t/_delta_log/x.json")->string(),
            (dir / "lake/t/_delta_log/x.json").string());
}

TEST(FaultInjectingObjectStoreTest, FailsTheNthMatchingCall) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  FaultInjectingObjectStore::Rule rule;
  rule.op = FaultInjectingObjectStore::Op::kPut;
  rule.key_contains = "data";
  rule.nth = 2;
  store.AddRule(rule);
  EXPECT_TRUE(store.Put("t/data/1", "a").ok());
  EXPECT_TRUE(store.Put("t/other", "a").ok());
  EXPECT_EQ(store.Put("t/data/2", "b").kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(store.Put("t/data/3", "c").ok()) << "times = 1: fires once";
  EXPECT_EQ(base.Get("t/data/2").status().kind(), ErrorKind::kNotFound) << "kBefore: not written";
  EXPECT_EQ(store.calls(FaultInjectingObjectStore::Op::kPut), 4);
}

TEST(FaultInjectingObjectStoreTest, FailAfterDoesTheWorkAndCrashStopsEverything) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  FaultInjectingObjectStore::Rule rule;
  rule.op = FaultInjectingObjectStore::Op::kPutIfAbsent;
  rule.when = FaultInjectingObjectStore::When::kAfter;
  rule.crash = true;
  store.AddRule(rule);
  EXPECT_FALSE(store.PutIfAbsent("t/_delta_log/0.json", "x").ok());
  EXPECT_TRUE(base.Get("t/_delta_log/0.json").ok()) << "kAfter: the write happened";
  EXPECT_TRUE(store.crashed());
  EXPECT_EQ(store.Get("t/_delta_log/0.json").status().kind(), ErrorKind::kAborted);
  store.Revive();
  EXPECT_TRUE(store.Get("t/_delta_log/0.json").ok());
}

}  // namespace
}  // namespace smartcity::lake
