// S3ObjectStore and the Delta writer against a real S3-compatible server (MinIO on loopback,
// started by scripts/minio.sh for each test): every store operation incl. paged listing, ranges,
// multipart upload and conditional put; wrong credentials and a missing bucket; a server outage
// ridden out by the retries; two Delta writers racing for the same version.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "engine/s3_access.h"
#include "lake/delta_log.h"
#include "lake/delta_table.h"
#include "lake/lake_testutil.h"
#include "lake/s3_object_store.h"
#include "lake/s3_testutil.h"
#include "testing/files.h"
#include "testing/subprocess.h"

namespace smartcity::lake {
namespace {

namespace fs = std::filesystem;
using testing::EventSchema;
using testing::kJan5At23h;
using testing::kMinute;
using testing::MakeEvents;
using testing::MinioServer;
using testing::Range;
using testing::ReadSeqs;

class S3ITest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = MinioServer::Start("itest");
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
  }
  void TearDown() override { server_.reset(); }
  std::unique_ptr<S3ObjectStore> Open(const std::string& prefix, S3Config c) {
    auto s = S3ObjectStore::Open(std::move(c));
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<S3ObjectStore> Open(const std::string& prefix) {
    return Open(prefix, server_->Config(prefix));
  }

  std::unique_ptr<MinioServer> server_;
  test::TempDir tmp_{"smartcity-s3-itest"};
  const fs::path scratch_ = tmp_.path();
};

TEST_F(S3ITest, EveryObjectStoreOperation) {
  S3Config c = server_->Config("ops/run");
  c.list_page_size = 7;  // 20 objects: three pages
  c.multipart_threshold = 5ull << 20;
  c.part_size = 5ull << 20;
  auto store = Open("ops/run", c);
  ASSERT_TRUE(store);

  // Put / Get / Head / GetRange.
  ASSERT_TRUE(store->Put("t/a.json", "hello world").ok());
  EXPECT_EQ(*store->Get("t/a.json"), "hello world");
  ASSERT_TRUE(store->Put("t/a.json", "replaced").ok());
  EXPECT_EQ(*store->Get("t/a.json"), "replaced");
  auto info = store->Head("t/a.json");
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->size, 8u);
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - info->modified),
            std::chrono::hours(1));
  EXPECT_EQ(*store->GetRange("t/a.json", 2, 3), "pla");
  EXPECT_EQ(*store->GetRange("t/a.json", 5, 100), "ced");
  EXPECT_EQ(*store->GetRange("t/a.json", 3, UINT64_MAX), "laced");
  EXPECT_EQ(*store->GetRange("t/a.json", 50, 10), "");
  EXPECT_EQ(store->Get("t/missing").status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store->Head("t/missing").status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store->ReaderUri("t/a.json"), "s3://itest/ops/run/t/a.json");

  // List: pages, sorted, prefix stripped, keys that need encoding.
  std::vector<std::string> keys;
  for (int i = 0; i < 19; ++i)
    keys.push_back(fmt::format("t/event_date=2026-01-{:02d}/part {}+x.parquet", i + 1, i));
  for (const auto& k : keys) ASSERT_TRUE(store->Put(k, k).ok()) << k;
  auto all = store->List("t/");
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 20u);
  EXPECT_EQ((*all)[0].key, "t/a.json");
  EXPECT_EQ((*all)[1].key, keys[0]);
  EXPECT_EQ((*all)[19].key, keys[18]);
  EXPECT_EQ(*store->Get(keys[5]), keys[5]);
  EXPECT_EQ(store->List("t/event_date=2026-01-1")->size(), 10u);
  EXPECT_TRUE(store->List("nothing/")->empty());

  // Delete (also of a missing key).
  ASSERT_TRUE(store->Delete(keys[0]).ok());
  ASSERT_TRUE(store->Delete(keys[0]).ok());
  EXPECT_EQ(store->List("t/")->size(), 19u);

  // Conditional put: the second put of the same key fails and changes nothing.
  ASSERT_TRUE(store->PutIfAbsent("t/_delta_log/00000000000000000000.json", "first").ok());
  Status second = store->PutIfAbsent("t/_delta_log/00000000000000000000.json", "second");
  EXPECT_EQ(second.kind(), ErrorKind::kAlreadyExists) << second.message();
  EXPECT_EQ(*store->Get("t/_delta_log/00000000000000000000.json"), "first");

  // PutFile: small (one PUT) and large (multipart: 12 MiB in 5 MiB parts).
  const fs::path small = scratch_ / "small.bin", big = scratch_ / "big.bin";
  std::ofstream(small, std::ios::binary) << "small file";
  std::string big_bytes;
  big_bytes.reserve(12u << 20);
  for (uint32_t i = 0; big_bytes.size() < (12u << 20); ++i)
    big_bytes += fmt::format("{:08x}", i * 2654435761u);
  std::ofstream(big, std::ios::binary) << big_bytes;
  ASSERT_TRUE(store->PutFile("t/small.parquet", small).ok());
  EXPECT_EQ(*store->Get("t/small.parquet"), "small file");
  Status up = store->PutFile("t/big.parquet", big);
  ASSERT_TRUE(up.ok()) << up.message();
  EXPECT_EQ(store->Head("t/big.parquet")->size, big_bytes.size());
  EXPECT_TRUE(*store->Get("t/big.parquet") == big_bytes);
  EXPECT_EQ(*store->GetRange("t/big.parquet", (5u << 20) - 4, 8),
            big_bytes.substr((5u << 20) - 4, 8));
}

TEST_F(S3ITest, ConcurrentConditionalPutsHaveExactlyOneWinner) {
  constexpr int kWriters = 8;
  std::vector<std::unique_ptr<S3ObjectStore>> stores;
  for (int i = 0; i < kWriters; ++i) stores.push_back(Open("race"));
  for (int round = 0; round < 5; ++round) {
    const std::string key = fmt::format("t/_delta_log/{:020d}.json", round);
    std::atomic<int> won{0}, lost{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        Status s = stores[i]->PutIfAbsent(key, "writer " + std::to_string(i));
        if (s.ok())
          ++won;
        else if (s.kind() == ErrorKind::kAlreadyExists)
          ++lost;
        else
          ++other;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1) << key;
    EXPECT_EQ(lost.load(), kWriters - 1) << key;
    EXPECT_EQ(other.load(), 0) << key;
  }
}

TEST_F(S3ITest, WrongCredentialsAndMissingBucketFailAtOnceAndClearly) {
  S3Config bad_secret = server_->Config("x");
  bad_secret.credentials.secret_key = "not-the-secret-" + server_->secret_key();
  const auto t0 = std::chrono::steady_clock::now();
  auto s1 = S3ObjectStore::Open(bad_secret);
  ASSERT_FALSE(s1.ok());
  EXPECT_EQ(s1.status().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(s1.status().message().find("secret key is wrong"), std::string::npos)
      << s1.status().message();
  EXPECT_EQ(s1.status().message().find(server_->secret_key()), std::string::npos)
      << s1.status().message();

  S3Config bad_key = server_->Config("x");
  bad_key.credentials.access_key = "NOSUCHKEY";
  auto s2 = S3ObjectStore::Open(bad_key);
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.status().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(s2.status().message().find("InvalidAccessKeyId"), std::string::npos)
      << s2.status().message();

  S3Config no_bucket = server_->Config("x");
  no_bucket.bucket = "no-such-bucket";
  auto s3 = S3ObjectStore::Open(no_bucket);
  ASSERT_FALSE(s3.ok());
  EXPECT_EQ(s3.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s3.status().message().find("does not exist"), std::string::npos)
      << s3.status().message();
  // No retries: all three answered well inside the retry budget.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, bad_secret.retry_budget);

  // Through OpenLakeStore and the standard environment, as `--lake s3://...` does.
  server_->ExportEnvironment();
  auto lake = OpenLakeStore("s3://itest/env-lake");
  ASSERT_TRUE(lake.ok()) << lake.status().message();
  EXPECT_EQ((*lake)->ReaderUri("k"), "s3://itest/env-lake/k");
  ASSERT_TRUE((*lake)->Put("k", "v").ok());
  ::setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value", 1);
  auto wrong = OpenLakeStore("s3://itest/env-lake");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message().find("wrong-secret-value"), std::string::npos);
  server_->ExportEnvironment();
}

TEST_F(S3ITest, AnOutageIsRiddenOutByRetries) {
  auto store = Open("outage");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Put("before", "1").ok());
  ASSERT_TRUE(server_->Stop().ok());
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::seconds(4));
    ASSERT_TRUE(server_->Restart().ok());
  });
  Status s = store->PutIfAbsent("during", "2");
  restart.join();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_GT(store->retries(), 0u);
  EXPECT_EQ(*store->Get("before"), "1");
  EXPECT_EQ(*store->Get("during"), "2");
}

TEST_F(S3ITest, DuckDbReadsTheStoreThroughHttpfs) {
  auto store = Open("duck");
  ASSERT_TRUE(store);
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  const fs::path file = scratch_ / "x.parquet";
  ASSERT_TRUE((*conn)
                  ->Execute("COPY (SELECT range AS n FROM range(1000)) TO " +
                            engine::QuoteLiteral(file.string()) + " (FORMAT parquet)")
                  .ok());
  ASSERT_TRUE(store->PutFile("t/x.parquet", file).ok());
  // The extension comes with the test venv: pyenv.sh installs it (idempotent; it waits while
  // another test is making the venv, so a half-made one is never looked at).
  auto py = test::RunProcess({std::string(SMARTCITY_SOURCE_DIR) + "/scripts/pyenv.sh"},
                             {.merge_stderr = true, .timeout = std::chrono::minutes(20)});
  ASSERT_TRUE(py.ok()) << py.status().message();
  ASSERT_EQ(py->exit_code, 0) << py->out;
  auto ext = engine::FindHttpfsExtension(SMARTCITY_SOURCE_DIR);
  ASSERT_TRUE(ext.has_value())
      << "httpfs.duckdb_extension not found after scripts/pyenv.sh (duckdb-ext-httpfs)";
  Status s = engine::ConfigureS3(conn->get(), DuckDbS3Access(*store), *ext);
  ASSERT_TRUE(s.ok()) << s.message();
  auto r = (*conn)->Query("SELECT count(*), sum(n) FROM read_parquet(" +
                          engine::QuoteLiteral(store->ReaderUri("t/x.parquet")) + ")");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->GetInt64(0, 0), 1000);
  EXPECT_EQ(r->GetInt64(1, 0), 999 * 1000 / 2);
}

class S3DeltaITest : public S3ITest {
 protected:
  void SetUp() override {
    S3ITest::SetUp();
    auto db = engine::Database::Open("");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }
  TableOptions Options() {
    TableOptions o;
    o.partitions = {PartitionField::DateOf("ts")};
    o.scratch_dir = scratch_;
    return o;
  }
  std::unique_ptr<DeltaTable> OpenTable(ObjectStore* store, bool group_commit = false) {
    TableOptions o = Options();
    o.group_commit = group_commit;
    auto t = DeltaTable::Open(store, db_.get(), "lake/events", EventSchema(), o);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? std::move(*t) : nullptr;
  }
  std::unique_ptr<engine::Database> db_;
};

TEST_F(S3DeltaITest, TwoWritersRacingForTheSameVersionExactlyOneWinsTheOtherRecovers) {
  // Two writers, each with its own connection to the server, as two processes would have.
  auto store_a = Open("delta");
  auto store_b_base = Open("delta");
  ASSERT_TRUE(store_a && store_b_base);
  FaultInjectingObjectStore store_b(store_b_base.get());
  auto a = OpenTable(store_a.get());
  auto b = OpenTable(&store_b);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute)).ok());
  // Right before B puts its commit, A commits the same version: the server refuses B's put (412),
  // and B re-reads the log and commits at the next version.
  std::optional<int64_t> a_version;
  FaultInjectingObjectStore::Rule hook;
  hook.op = FaultInjectingObjectStore::Op::kPutIfAbsent;
  hook.key_contains = "_delta_log/";
  hook.error = ErrorKind::kOk;
  hook.on_fire = [&] {
    auto ra = a->Commit("writer-a", 1);
    ASSERT_TRUE(ra.ok()) << ra.status().message();
    a_version = ra->table_version;
  };
  store_b.AddRule(hook);
  auto rb = b->Commit("writer-b", 1);
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  ASSERT_TRUE(a_version.has_value());
  EXPECT_EQ(rb->attempts, 2) << "B must have lost the first put and retried";
  EXPECT_EQ(rb->table_version, *a_version + 1);
  store_b.ClearRules();
  // B replays its epoch (as after a crash): detected by the txn, nothing duplicated.
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute)).ok());
  auto replay = b->Commit("writer-b", 1);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->skipped);
  EXPECT_EQ(ReadSeqs(store_a.get(), db_.get(), "lake/events"), Range(1, 20));
  DeltaLog log(store_a.get(), "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->TxnVersion("writer-a"), 1);
  EXPECT_EQ(snap->TxnVersion("writer-b"), 1);
}

TEST_F(S3DeltaITest, ManyConcurrentWritersCommitEverythingOnce) {
  constexpr int kWriters = 4, kBatches = 4, kRows = 10;
  std::vector<std::unique_ptr<S3ObjectStore>> stores;
  std::vector<std::unique_ptr<DeltaTable>> tables;
  for (int w = 0; w < kWriters; ++w) {
    stores.push_back(Open("many"));
    ASSERT_TRUE(stores.back());
    tables.push_back(OpenTable(stores.back().get()));
    ASSERT_TRUE(tables.back());
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        const int64_t first = 1 + (w * kBatches + b) * kRows;
        if (!tables[w]->Append(*MakeEvents(EventSchema(), first, kRows, kJan5At23h, kMinute)).ok())
          ++failures;
        auto r = tables[w]->Commit("writer-" + std::to_string(w), b + 1);
        if (!r.ok()) {
          ADD_FAILURE() << r.status().message();
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ReadSeqs(stores[0].get(), db_.get(), "lake/events"),
            Range(1, kWriters * kBatches * kRows));
  DeltaLog log(stores[0].get(), "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, kWriters * kBatches);
  for (int w = 0; w < kWriters; ++w)
    EXPECT_EQ(snap->TxnVersion("writer-" + std::to_string(w)), kBatches);
}

// Group commit on an S3 server (docs/commit_protocol.md): three writers stage their epochs under
// _staged/ (PUT), one commit lists them (LIST), reads them (GET), checks their files (HEAD) and
// lands all three in one version; the others find theirs committed; the staged objects are
// deleted (DELETE).
TEST_F(S3DeltaITest, GroupCommitLandsEveryWritersStagedEpochInOneVersion) {
  constexpr int kWriters = 3;
  std::vector<std::unique_ptr<S3ObjectStore>> stores;
  std::vector<std::unique_ptr<DeltaTable>> tables;
  for (int w = 0; w < kWriters + 1; ++w) {
    stores.push_back(Open("group"));
    ASSERT_TRUE(stores.back());
  }
  {
    // Another writer in the log: from then on the writers stage (a lone one would not).
    auto other = OpenTable(stores[kWriters].get(), /*group_commit=*/true);
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->Commit("q-other", 1).ok());
  }
  auto app = [](int w) { return "q-p" + std::to_string(w); };
  for (int w = 0; w < kWriters; ++w) {
    tables.push_back(OpenTable(stores[w].get(), /*group_commit=*/true));
    ASSERT_TRUE(tables.back());
    ASSERT_TRUE(
        tables[w]
            ->Append(*MakeEvents(EventSchema(), 1 + 10 * w, 10, kJan5At23h, kMinute), app(w))
            .ok());
    auto staged = tables[w]->Stage({{app(w), 1}});
    ASSERT_TRUE(staged.ok()) << staged.status().message();
  }
  auto listed = stores[0]->List("lake/events/_staged/");
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  EXPECT_EQ(listed->size(), static_cast<size_t>(kWriters));
  auto first = tables[2]->Commit({{app(2), 1}});
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->intents_taken, kWriters - 1);
  for (int w = 0; w < 2; ++w) {
    auto r = tables[w]->Commit({{app(w), 1}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r->committed_by_other);
  }
  EXPECT_EQ(ReadSeqs(stores[0].get(), db_.get(), "lake/events"), Range(1, 10 * kWriters));
  DeltaLog log(stores[0].get(), "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, 2) << "the other writer's version, then one for the three epochs";
  listed = stores[0]->List("lake/events/_staged/");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace smartcity::lake
