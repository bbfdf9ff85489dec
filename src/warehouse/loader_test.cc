// The loader's exactly-once logic on an in-memory DuckDB warehouse, with failures injected at every
// step of a load (a connection lost before or after each call, including an unacknowledged COMMIT).
#include "warehouse/loader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "lake/compaction.h"
#include "lake/delta_table.h"
#include "testing/files.h"
#include "warehouse/duckdb_warehouse.h"
#include "warehouse/warehouse_testutil.h"

namespace smartcity::warehouse {
namespace {

using testing::CommitEvents;
using testing::FaultPlan;

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = lake::LocalObjectStore::Open(dir_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    auto db = engine::Database::Open("");
    ASSERT_TRUE(db.ok());
    lake_db_ = std::move(*db);
    auto wh = engine::Database::Open("");
    ASSERT_TRUE(wh.ok());
    warehouse_ = std::move(*wh);
  }

  Loader::Connector Connector(FaultPlan* plan = nullptr) {
    return [this, plan]() -> Result<std::unique_ptr<WarehouseConnection>> {
      SC_ASSIGN_OR_RETURN(auto c, ConnectDuckDbWarehouse(warehouse_.get(), "memory warehouse"));
      if (plan != nullptr) return testing::WrapFaulty(std::move(c), plan);
      return c;
    };
  }

  std::unique_ptr<Loader> MakeLoader(FaultPlan* plan = nullptr, int64_t rows_per_txn = 500'000) {
    LoaderOptions o;
    o.tables = {"events"};
    o.rows_per_transaction = rows_per_txn;
    o.initial_backoff = std::chrono::milliseconds(1);
    o.max_backoff = std::chrono::milliseconds(2);
    o.retry_for = std::chrono::milliseconds(0);  // no retries: the test drives them
    auto l = Loader::Create(store_.get(), Connector(plan), o);
    EXPECT_TRUE(l.ok());
    return std::move(*l);
  }

  // Options of a loader that retries on `clock`'s time: backoff from 1 s up to 10 s, for
  // `retry_for`.
  static LoaderOptions RetryingOptions(FakeClock* clock, std::chrono::milliseconds retry_for) {
    LoaderOptions o;
    o.tables = {"events"};
    o.initial_backoff = std::chrono::seconds(1);
    o.max_backoff = std::chrono::seconds(10);
    o.retry_for = retry_for;
    o.clock = clock;
    return o;
  }

  // Every (_offset) in the warehouse table, sorted, and the bookkeeping version.
  std::vector<int64_t> Offsets() {
    auto c = warehouse_->Connect();
    auto r = (*c)->Query("SELECT _offset FROM events ORDER BY _offset");
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::vector<int64_t> out;
    for (size_t i = 0; r.ok() && i < r->row_count(); ++i) out.push_back(r->GetInt64(0, i));
    return out;
  }
  int64_t LoadedVersion() {
    auto c = ConnectDuckDbWarehouse(warehouse_.get(), "check");
    auto v = (*c)->LoadedVersion("events");
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : -2;
  }
  static std::vector<int64_t> Range(int64_t first, int64_t n) {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < n; ++i) v.push_back(first + i);
    return v;
  }

  test::TempDir tmp_{"loader_test"};
  const std::filesystem::path dir_ = tmp_.path();
  std::unique_ptr<lake::LocalObjectStore> store_;
  std::unique_ptr<engine::Database> lake_db_;
  std::unique_ptr<engine::Database> warehouse_;
};

// Both ways rows reach the warehouse: the DuckDB warehouse reading the local files itself, and the
// loader reading their rows and handing them over (a PostgreSQL warehouse's way).
class LoaderPathTest : public LoaderTest, public ::testing::WithParamInterface<bool> {};
INSTANTIATE_TEST_SUITE_P(Paths, LoaderPathTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "RowsOnly" : "FilesRead"; });

TEST_P(LoaderPathTest, LoadsEveryRowOnceAndValuesSurvive) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 50, false, 1);
  CommitEvents(store_.get(), lake_db_.get(), "events", 51, 30, false, 2);
  FaultPlan plan;
  plan.rows_only = GetParam();
  auto l = MakeLoader(&plan);
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(Offsets(), Range(1, 80));
  EXPECT_EQ(l->summary().rows, 80);
  EXPECT_EQ(LoadedVersion(), 2);
  // Nothing new: nothing loaded.
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(l->summary().rows, 80);
  // A second loader (a restarted process) starts from the warehouse's bookkeeping.
  CommitEvents(store_.get(), lake_db_.get(), "events", 81, 5, false, 3);
  auto l2 = MakeLoader(&plan);
  ASSERT_TRUE(l2->LoadOnce().ok());
  EXPECT_EQ(l2->summary().rows, 5);
  EXPECT_EQ(Offsets(), Range(1, 85));

  auto c = warehouse_->Connect();
  // The warehouse's column names, unquoted (warehouse/names.h).
  auto r = (*c)->Query(
      "SELECT device_id, epoch_us(timestamp_), speed, date FROM events WHERE _offset IN (7, 8) "
      "ORDER BY _offset");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->row_count(), 2u);
  EXPECT_EQ(r->GetString(0, 0), "dev-1\t\\x");
  EXPECT_EQ(r->GetInt64(1, 0), 1767654000000000LL + 7 * 60'000'000LL + 123);
  EXPECT_TRUE(r->IsNull(2, 0));  // every 7th speed is null
  EXPECT_DOUBLE_EQ(r->GetDouble(2, 1), 0.1 * 8);
  EXPECT_EQ(r->GetString(3, 0), "2026-01-06");  // the partition value, not stored in the file
  EXPECT_EQ(r->GetString(3, 1), "2026-01-05");
  // Types and the primary key are the warehouse's own.
  auto types = (*c)->Query(
      "SELECT data_type FROM information_schema.columns WHERE table_name = 'events' ORDER BY "
      "ordinal_position");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ(types->GetString(0, 1), "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(types->GetString(0, 2), "DOUBLE");
  auto dup = (*c)->Execute("INSERT INTO events SELECT * FROM events LIMIT 1");
  EXPECT_FALSE(dup.ok()) << "the primary key (_partition, _offset) must refuse a duplicate";
}

TEST_F(LoaderTest, ReopensTheWarehouseAfterEnoughRowsAndLoadsEachRowOnce) {
  int connects = 0;
  LoaderOptions o;
  o.tables = {"events"};
  o.reopen_after_rows = 25;
  auto l = Loader::Create(
      store_.get(),
      [&]() -> Result<std::unique_ptr<WarehouseConnection>> {
        ++connects;
        return ConnectDuckDbWarehouse(warehouse_.get(), "memory warehouse");
      },
      o);
  ASSERT_TRUE(l.ok());
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 20, false, 1);
  ASSERT_TRUE((*l)->LoadOnce().ok());
  EXPECT_EQ(connects, 1);  // 20 rows through it: kept
  CommitEvents(store_.get(), lake_db_.get(), "events", 21, 10, false, 2);
  ASSERT_TRUE((*l)->LoadOnce().ok());  // 30 rows through it: closed after the pass
  EXPECT_EQ(connects, 1);
  CommitEvents(store_.get(), lake_db_.get(), "events", 31, 5, false, 3);
  ASSERT_TRUE((*l)->LoadOnce().ok());
  EXPECT_EQ(connects, 2);  // opened again for the next load, where the bookkeeping says
  EXPECT_EQ(Offsets(), Range(1, 35));
  EXPECT_EQ(LoadedVersion(), 3);
}

// A DuckDB warehouse file, as `run`'s follower keeps it: reopened after a few rows, each close a
// checkpoint that reuses the metadata of the row groups it did not change. Every row is there once
// after many of them, and the table's metadata reads back whole.
TEST_F(LoaderTest, AFileWarehouseReopenedAtEachLoadKeepsEveryRowOnce) {
  const std::string path = (dir_ / "warehouse.duckdb").string();
  LoaderOptions o;
  o.tables = {"events"};
  o.reopen_after_rows = 1;  // after every load
  auto l = Loader::Create(
      store_.get(), [&] { return OpenDuckDbWarehouse(path, "32MiB"); }, o);
  ASSERT_TRUE(l.ok()) << l.status().message();
  for (int v = 1; v <= 12; ++v) {
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 3000 + 1, 3000, false, v);
    ASSERT_TRUE((*l)->LoadOnce().ok()) << "load " << v;
  }
  l->reset();
  auto wh = OpenDuckDbWarehouse(path);
  ASSERT_TRUE(wh.ok()) << wh.status().message();
  auto reuse = (*wh)->Query("SELECT current_setting('experimental_metadata_reuse')");
  ASSERT_TRUE(reuse.ok()) << reuse.status().message();
  EXPECT_EQ((*reuse)[0][0], "true");
  auto counts = (*wh)->Query(
      "SELECT count(*), count(DISTINCT _offset), min(_offset), max(_offset) FROM events");
  ASSERT_TRUE(counts.ok()) << counts.status().message();
  EXPECT_EQ((*counts)[0],
            (std::vector<std::optional<std::string>>{"36000", "36000", "1", "36000"}));
  auto v = (*wh)->LoadedVersion("events");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 12);
  // The storage's own view of the row groups agrees with the rows.
  auto stored = (*wh)->Query(
      "SELECT sum(count) FROM pragma_storage_info('events') WHERE column_id = 0 AND "
      "segment_type <> 'VALIDITY'");
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ((*stored)[0][0], "36000");
}

TEST_F(LoaderTest, SplitsLargeBacklogsIntoSeveralTransactions) {
  for (int v = 1; v <= 6; ++v)
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 10 + 1, 10, false, v);
  auto l = MakeLoader(nullptr, /*rows_per_txn=*/15);
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(Offsets(), Range(1, 60));
  EXPECT_EQ(l->summary().transactions, 3);  // versions 0..2, 3..4, 5..6
  EXPECT_EQ(LoadedVersion(), 6);
}

TEST_F(LoaderTest, CompactionIsNeverLoadedTwice) {
  for (int v = 1; v <= 4; ++v)
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 10 + 1, 10, false, v);
  auto l = MakeLoader();
  ASSERT_TRUE(l->LoadOnce().ok());
  lake::CompactionOptions co;
  co.min_files = 2;
  auto r = lake::CompactTable(store_.get(), lake_db_.get(), "events", co);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_GT(r->files_removed, 0);
  CommitEvents(store_.get(), lake_db_.get(), "events", 41, 3, false, 5);
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(Offsets(), Range(1, 43));
  // And a fresh warehouse loading the whole history (with the compaction in it) too.
  warehouse_ = engine::Database::Open("").value();
  auto fresh = MakeLoader();
  ASSERT_TRUE(fresh->LoadOnce().ok());
  EXPECT_EQ(Offsets(), Range(1, 43));
}

// Versions without rows (an epoch with none for the table, a compaction) make no transaction: they
// join the next one with rows, or (settling) are recorded with one bookkeeping row.
TEST_F(LoaderTest, VersionsWithoutRowsMakeNoTransaction) {
  // Version 0 creates the table, version 1 adds rows.
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  FaultPlan plan;
  std::vector<LoadEvent> events;
  LoaderOptions o;
  o.tables = {"events"};
  o.retry_for = std::chrono::milliseconds(0);
  o.on_load = [&events](const LoadEvent& e) { events.push_back(e); };
  auto l = Loader::Create(store_.get(), Connector(&plan), o).value();
  ASSERT_TRUE(l->LoadOnce(nullptr, /*settle=*/false).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].first_version, 1);  // version 0 has no rows
  const int begins = plan.begins;         // the warehouse table's creation and the load
  // Nothing new in the lake: not a single warehouse call.
  const int ops = plan.ops;
  ASSERT_TRUE(l->LoadOnce(nullptr, false).ok());
  EXPECT_EQ(plan.ops, ops);
  // Three epochs without rows (versions 2..4): no transaction, no event, no bookkeeping row.
  for (int v = 2; v <= 4; ++v) CommitEvents(store_.get(), lake_db_.get(), "events", 0, 0, false, v);
  ASSERT_TRUE(l->LoadOnce(nullptr, false).ok());
  EXPECT_EQ(plan.begins, begins);
  EXPECT_EQ(events.size(), 1u);
  EXPECT_EQ(LoadedVersion(), 1);
  EXPECT_EQ(l->summary().transactions, 1);
  // And not looked at again.
  const int ops2 = plan.ops;
  ASSERT_TRUE(l->LoadOnce(nullptr, false).ok());
  EXPECT_EQ(plan.ops, ops2);
  // Rows again (version 5): one transaction, starting after the versions it passed over.
  CommitEvents(store_.get(), lake_db_.get(), "events", 11, 5, false, 5);
  CommitEvents(store_.get(), lake_db_.get(), "events", 0, 0, false, 6);  // version 6: none
  ASSERT_TRUE(l->LoadOnce(nullptr, false).ok());
  EXPECT_EQ(plan.begins, begins + 1);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].first_version, 5);
  EXPECT_EQ(events[1].last_version, 6);  // the version without rows after them rides along
  EXPECT_EQ(events[1].rows, 5);
  EXPECT_EQ(LoadedVersion(), 6);
  EXPECT_EQ(Offsets(), Range(1, 15));
  // A settling pass records trailing versions without rows: one bookkeeping row, no event.
  CommitEvents(store_.get(), lake_db_.get(), "events", 0, 0, false, 7);  // version 7
  ASSERT_TRUE(l->LoadOnce(nullptr, false).ok());
  EXPECT_EQ(LoadedVersion(), 6);
  ASSERT_TRUE(l->LoadOnce(nullptr, /*settle=*/true).ok());
  EXPECT_EQ(LoadedVersion(), 7);
  EXPECT_EQ(plan.begins, begins + 2);
  EXPECT_EQ(events.size(), 2u);
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(plan.begins, begins + 2) << "settled already";
  EXPECT_EQ(Offsets(), Range(1, 15));
}

// Compaction rewrites files (remove + add, dataChange=false) without new rows: following the lake
// through it loads nothing, opens no transaction and never loads the compacted rows again.
TEST_F(LoaderTest, CompactionCommitsOpenNoTransaction) {
  for (int v = 1; v <= 4; ++v)
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 10 + 1, 10, false, v);
  FaultPlan plan;
  LoaderOptions o;
  o.tables = {"events"};
  o.retry_for = std::chrono::milliseconds(0);
  auto l = Loader::Create(store_.get(), Connector(&plan), o).value();
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(l->LoadOnce(nullptr, false).ok());
    const int begins = plan.begins;
    const int64_t rows = l->summary().rows;
    lake::CompactionOptions co;
    co.min_files = 2;
    auto r = lake::CompactTable(store_.get(), lake_db_.get(), "events", co);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_GT(r->files_removed, 0);
    ASSERT_TRUE(l->LoadOnce(nullptr, false).ok());
    EXPECT_EQ(plan.begins, begins) << "round " << round;
    EXPECT_EQ(l->summary().rows, rows);
    CommitEvents(store_.get(), lake_db_.get(), "events", 41 + round * 3, 3, false, 5 + round);
  }
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(Offsets(), Range(1, 46));
  EXPECT_EQ(l->summary().rows, 46);
}

// on_lag: versions behind and the commit time of the oldest one not loaded, per table, after each
// transaction; 0 and no time once caught up; unknown before the warehouse was reached.
TEST_F(LoaderTest, OnLagTellsVersionsAndTheOldestPendingCommit) {
  // Version 0 creates the table; 1..3 add rows.
  for (int v = 1; v <= 3; ++v)
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 4 + 1, 4, false, v);
  std::vector<LoadLag> lags;
  FaultPlan plan;
  plan.fail_at = 1;  // the first warehouse call fails: not reached yet
  LoaderOptions o;
  o.tables = {"events"};
  o.rows_per_transaction = 1;  // one version with rows per transaction
  o.retry_for = std::chrono::milliseconds(0);
  o.on_lag = [&lags](const LoadLag& l) { lags.push_back(l); };
  auto l = Loader::Create(store_.get(), Connector(&plan), o).value();
  EXPECT_FALSE(l->LoadOnce().ok());
  ASSERT_EQ(lags.size(), 1u);
  EXPECT_FALSE(lags[0].known());
  EXPECT_FALSE(lags[0].retrying.empty());
  lags.clear();
  ASSERT_TRUE(l->LoadOnce().ok());
  // After versions 0..1, 2, 3, and at the pass's end.
  ASSERT_EQ(lags.size(), 4u);
  lake::DeltaLog log(store_.get(), "events");
  for (int i = 0; i < 3; ++i) {
    const LoadLag& lag = lags[i];
    ASSERT_TRUE(lag.known());
    ASSERT_EQ(lag.tables.size(), 1u);
    EXPECT_EQ(lag.tables[0].lake_version, 3);
    EXPECT_EQ(lag.tables[0].loaded_version, i + 1);
    EXPECT_EQ(lag.versions(), 2 - i);
    EXPECT_TRUE(lag.retrying.empty());
    if (i < 2) {
      auto next = log.ReadCommit(i + 2);
      ASSERT_TRUE(next.ok() && next->commit_info);
      ASSERT_TRUE(lag.oldest_pending().has_value());
      EXPECT_EQ(*lag.oldest_pending(), WallTime(Micros(next->commit_info->timestamp_ms * 1000)));
    } else {
      EXPECT_FALSE(lag.oldest_pending().has_value());
    }
  }
  EXPECT_EQ(lags[3].versions(), 0);
  const WallTime t = FakeClock::kDefaultWallStart;
  EXPECT_EQ(LoadLag::Age(std::nullopt, t).count(), 0);
  EXPECT_EQ(LoadLag::Age(t, t - std::chrono::seconds(1)).count(), 0);
  EXPECT_DOUBLE_EQ(LoadLag::Age(t, t + std::chrono::seconds(12)).count(), 12.0);
}

// on_load tells each committed transaction: consecutive version ranges whose rows add up to the
// load, with the lake's newest version.
TEST_F(LoaderTest, OnLoadReportsEveryCommittedTransaction) {
  for (int v = 1; v <= 3; ++v)
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 4 + 1, 4, false, v);
  std::vector<LoadEvent> events;
  LoaderOptions o;
  o.tables = {"events"};
  o.rows_per_transaction = 5;  // two versions (8 rows) per transaction at most
  o.retry_for = std::chrono::milliseconds(0);
  o.on_load = [&events](const LoadEvent& e) { events.push_back(e); };
  auto l = Loader::Create(store_.get(), Connector(), o);
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->LoadOnce().ok());
  ASSERT_GE(events.size(), 2u);
  int64_t rows = 0;
  int64_t next = events.front().first_version;
  for (const LoadEvent& e : events) {
    EXPECT_EQ(e.table, "events");
    EXPECT_EQ(e.first_version, next);
    EXPECT_LE(e.first_version, e.last_version);
    EXPECT_EQ(e.lake_version, LoadedVersion());
    rows += e.rows;
    next = e.last_version + 1;
  }
  EXPECT_EQ(rows, 12);
  EXPECT_EQ(rows, (*l)->summary().rows);
  EXPECT_EQ(events.back().last_version, LoadedVersion());
  // Nothing new: no call.
  const size_t before = events.size();
  ASSERT_TRUE((*l)->LoadOnce().ok());
  EXPECT_EQ(events.size(), before);
}

// The heart of exactly-once: the session dies at op k (before or after the op ran) for every k of a
// load; the restarted loader always ends with each row once.
TEST_F(LoaderTest, ExactlyOnceWhenTheWarehouseDiesAtAnyStep) {
  for (int v = 1; v <= 3; ++v)
    CommitEvents(store_.get(), lake_db_.get(), "events", (v - 1) * 4 + 1, 4, false, v);
  // Count the ops of a clean load.
  FaultPlan count;
  {
    auto l = MakeLoader(&count, /*rows_per_txn=*/5);
    ASSERT_TRUE(l->LoadOnce().ok());
  }
  const int total_ops = count.ops;
  ASSERT_GT(total_ops, 10);
  for (bool after : {false, true}) {
    for (int k = 1; k <= total_ops; ++k) {
      warehouse_ = engine::Database::Open("").value();
      FaultPlan plan;
      plan.fail_at = k;
      plan.after = after;
      {
        auto l = MakeLoader(&plan, 5);
        Status s = l->LoadOnce();
        EXPECT_FALSE(s.ok()) << "op " << k;
        EXPECT_EQ(plan.failures, 1);
      }
      // Restart: a new loader, a new session.
      auto l = MakeLoader(nullptr, 5);
      ASSERT_TRUE(l->LoadOnce().ok()) << "op " << k << " after=" << after;
      ASSERT_EQ(Offsets(), Range(1, 12)) << "failure at op " << k << " after=" << after;
      ASSERT_EQ(LoadedVersion(), 3);
    }
  }
}

TEST_F(LoaderTest, RetriesWithBackoffThroughAnOutage) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 20, false, 1);
  FaultPlan plan;
  plan.fail_at = 6;
  LoaderOptions o;
  o.tables = {"events"};
  o.initial_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(4);
  o.retry_for = std::chrono::minutes(5);
  auto l = Loader::Create(store_.get(), Connector(&plan), o);
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->LoadOnce().ok());
  EXPECT_EQ((*l)->summary().retries, 1);
  EXPECT_EQ(Offsets(), Range(1, 20));
}

// A lake whose List/Get fail `failures` times with kUnavailable: marked as spent, as the S3 store
// returns a failure it has retried for its whole budget, or not (a store without retries of its
// own).
class FlakyLake final : public lake::ObjectStore {
 public:
  explicit FlakyLake(lake::ObjectStore* base) : base_(base) {}
  int failures = 0;
  bool spent = true;
  int failed = 0;

  Status Put(std::string_view k, std::string_view b) override { return base_->Put(k, b); }
  Status PutIfAbsent(std::string_view k, std::string_view b) override {
    return base_->PutIfAbsent(k, b);
  }
  Status PutFile(std::string_view k, const std::filesystem::path& f) override {
    return base_->PutFile(k, f);
  }
  Result<std::string> Get(std::string_view k) override {
    if (Status s = Fail(); !s.ok()) return s;
    return base_->Get(k);
  }
  Result<std::string> GetRange(std::string_view k, uint64_t o, uint64_t n) override {
    return base_->GetRange(k, o, n);
  }
  Result<lake::ObjectInfo> Head(std::string_view k) override { return base_->Head(k); }
  Result<std::vector<lake::ObjectInfo>> List(std::string_view prefix) override {
    if (Status s = Fail(); !s.ok()) return s;
    return base_->List(prefix);
  }
  Status Delete(std::string_view k) override { return base_->Delete(k); }
  std::optional<std::filesystem::path> LocalPath(std::string_view k) const override {
    return base_->LocalPath(k);
  }
  std::string ReaderUri(std::string_view k) const override { return base_->ReaderUri(k); }
  std::string Describe() const override { return "flaky " + base_->Describe(); }

 private:
  Status Fail() {
    if (failures == 0) return Status::OK();
    --failures;
    ++failed;
    Status s = Status::Unavailable("injected: the lake is unreachable");
    return spent ? s.WithRetriesSpent() : s;
  }
  lake::ObjectStore* base_;
};

// docs/retries.md: the object store is the one layer that retries its requests. A lake failure the
// store gave up on is not retried by the loader (that multiplied the retries); a failure nobody
// below retried (the warehouse's, or a store without retries) still is, on the loader's clock.
TEST_F(LoaderTest, DoesNotRetryALakeFailureTheStoreAlreadyRetried) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 20, false, 1);
  FlakyLake lake(store_.get());
  FakeClock clock;
  auto l = Loader::Create(&lake, Connector(), RetryingOptions(&clock, std::chrono::minutes(10)));
  ASSERT_TRUE(l.ok()) << l.status().message();

  lake.failures = 1;
  Status s = (*l)->LoadOnce();
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(s.retries_spent());
  EXPECT_EQ(lake.failed, 1);
  EXPECT_EQ((*l)->summary().retries, 0);
  EXPECT_EQ(clock.Now(), ProcessingTime{}) << "no backoff waited";

  lake.failures = 2;
  lake.spent = false;
  ASSERT_TRUE((*l)->LoadOnce().ok());
  EXPECT_EQ((*l)->summary().retries, 2);
  EXPECT_EQ(clock.Now() - ProcessingTime{}, std::chrono::seconds(3)) << "waited 1 s, then 2 s";
  EXPECT_EQ(Offsets(), Range(1, 20));
}

TEST_P(LoaderPathTest, NewLakeColumnIsAddedToTheWarehouse) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  FaultPlan plan;
  plan.rows_only = GetParam();
  auto l = MakeLoader(&plan);
  ASSERT_TRUE(l->LoadOnce().ok());
  CommitEvents(store_.get(), lake_db_.get(), "events", 11, 10, true, 2);
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(Offsets(), Range(1, 20));
  auto c = warehouse_->Connect();
  auto r = (*c)->Query(
      "SELECT count(note), min(note), max(_offset) FILTER (WHERE note IS NULL) FROM events");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->GetInt64(0, 0), 5);  // even seq 12..20
  EXPECT_EQ(r->GetString(1, 0), "n12");
  EXPECT_EQ(r->GetInt64(2, 0), 19);
}

// Every column gets its warehouse name (warehouse/names.h), the same whichever way rows arrive.
TEST_P(LoaderPathTest, ColumnsHaveTheirWarehouseNames) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  FaultPlan plan;
  plan.rows_only = GetParam();
  ASSERT_TRUE(MakeLoader(&plan)->LoadOnce().ok());
  // A column the lake adds later is added under its warehouse name.
  CommitEvents(store_.get(), lake_db_.get(), "events", 11, 5, true, 2);
  ASSERT_TRUE(MakeLoader(&plan)->LoadOnce().ok());
  auto c = warehouse_->Connect();
  auto names = (*c)->Query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' ORDER BY "
      "ordinal_position");
  ASSERT_TRUE(names.ok());
  std::vector<std::string> got;
  for (size_t i = 0; i < names->row_count(); ++i) got.push_back(names->GetString(0, i));
  EXPECT_EQ(got, (std::vector<std::string>{"device_id", "timestamp_", "speed", "_partition",
                                           "_offset", "date", "note"}));
  auto r = (*c)->Query("SELECT count(note) FROM events WHERE device_id IS NOT NULL");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->GetInt64(0, 0), 2);  // even seq 12, 14
}

// A warehouse table created before the warehouse names holds the lake's names: it keeps loading
// with them (one notice says how to rename), and `rename_columns` renames them once, keeping every
// row and the bookkeeping.
TEST_P(LoaderPathTest, ALakeNamedTableKeepsLoadingAndIsRenamedOnRequest) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  {
    // The table as the loader created it before (lake names, quoted), with a row already loaded.
    auto c = ConnectDuckDbWarehouse(warehouse_.get(), "w");
    for (const std::string& sql : (*c)->dialect().CreateTable(
             "events", *testing::EventSchema(false), {"_partition", "_offset"}, {})) {
      ASSERT_TRUE((*c)->Execute(sql).ok()) << sql;
    }
  }
  FaultPlan plan;
  plan.rows_only = GetParam();
  std::vector<std::string> lines;
  LoaderOptions o;
  o.tables = {"events"};
  o.retry_for = std::chrono::milliseconds(0);
  o.progress = [&](const std::string& line) { lines.push_back(line); };
  {
    auto l = Loader::Create(store_.get(), Connector(&plan), o);
    ASSERT_TRUE(l.ok());
    Status st = (*l)->LoadOnce();
    ASSERT_TRUE(st.ok()) << st.message();
    CommitEvents(store_.get(), lake_db_.get(), "events", 11, 5, true, 2);
    st = (*l)->LoadOnce();
    ASSERT_TRUE(st.ok()) << st.message();
  }
  EXPECT_EQ(Offsets(), Range(1, 15));
  const auto notices = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("--rename-columns") != std::string::npos;
  });
  EXPECT_EQ(notices, 1) << "told once per table";
  auto c = warehouse_->Connect();
  auto before = (*c)->Query("SELECT \"deviceId\", note FROM events WHERE _offset = 12");
  ASSERT_TRUE(before.ok()) << before.status().message();
  ASSERT_EQ(before->row_count(), 1u);

  o.rename_columns = true;
  lines.clear();
  CommitEvents(store_.get(), lake_db_.get(), "events", 16, 5, true, 3);
  auto l = Loader::Create(store_.get(), Connector(&plan), o);
  ASSERT_TRUE(l.ok());
  Status st = (*l)->LoadOnce();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Offsets(), Range(1, 20));
  EXPECT_EQ(LoadedVersion(), 3);
  auto after = (*c)->Query(
      "SELECT device_id, epoch_us(timestamp_), note FROM events WHERE _offset IN (12, 18) ORDER BY "
      "_offset");
  ASSERT_TRUE(after.ok()) << after.status().message();
  ASSERT_EQ(after->row_count(), 2u);
  EXPECT_EQ(after->GetString(0, 0), before->GetString(0, 0));
  EXPECT_FALSE(after->IsNull(2, 1));
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find("renamed 2 column(s)"), std::string::npos) << lines.front();
  EXPECT_NE(lines.front().find("\"deviceId\" -> device_id"), std::string::npos) << lines.front();
  // Renamed once: a second loader finds nothing to rename.
  lines.clear();
  CommitEvents(store_.get(), lake_db_.get(), "events", 21, 5, true, 4);
  auto l2 = Loader::Create(store_.get(), Connector(&plan), o);
  ASSERT_TRUE(l2.ok());
  ASSERT_TRUE((*l2)->LoadOnce().ok());
  EXPECT_EQ(Offsets(), Range(1, 25));
  for (const std::string& line : lines) EXPECT_EQ(line.find("renamed"), std::string::npos) << line;
}

// A date column, in the file and as a date partition (Delta "date"), becomes a warehouse DATE.
TEST_F(LoaderTest, DateColumnsAndDatePartitionsLoadAsDates) {
  auto schema = std::make_shared<Schema>(Schema{{{"_partition", LogicalType::kInt32},
                                                 {"_offset", LogicalType::kInt64},
                                                 {"timestamp", LogicalType::kTimestamp},
                                                 {"day", LogicalType::kDate, true}}});
  lake::TableOptions o;
  o.partitions = {lake::PartitionField::DateOf("timestamp")};
  o.checkpoint_interval = 0;
  {
    auto t = lake::DeltaTable::Open(store_.get(), lake_db_.get(), "events", schema, o);
    ASSERT_TRUE(t.ok()) << t.status().message();
    RecordBatch b(schema);
    for (int i = 0; i < 4; ++i) {
      b.column(0).AppendInt32(0);
      b.column(1).AppendInt64(i);
      b.column(2).AppendInt64(1767654000000000LL + i * 3'600'000'000LL);  // 2026-01-05T23:00Z + i h
      if (i == 3) {
        b.column(3).AppendNull();
      } else {
        b.column(3).AppendDate(20458 - i);  // 2026-01-05, -04, -03
      }
    }
    ASSERT_TRUE((*t)->Append(b).ok());
    ASSERT_TRUE((*t)->Commit("test", 1).ok());
  }
  auto l = MakeLoader();
  Status st = l->LoadOnce();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Offsets(), Range(0, 4));
  auto c = warehouse_->Connect();
  auto r = (*c)->Query("SELECT day, date FROM events ORDER BY _offset");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->row_count(), 4u);
  EXPECT_EQ(r->column_type(0), LogicalType::kDate);
  EXPECT_EQ(r->column_type(1), LogicalType::kDate);
  EXPECT_EQ(r->GetString(0, 0), "2026-01-05");
  EXPECT_EQ(r->GetString(0, 2), "2026-01-03");
  EXPECT_TRUE(r->IsNull(0, 3));
  EXPECT_EQ(r->GetString(1, 0), "2026-01-05");
  EXPECT_EQ(r->GetString(1, 1), "2026-01-06");
}

TEST_F(LoaderTest, BreakingChangeIsRefusedClearly) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 10, false, 1);
  {
    auto c = ConnectDuckDbWarehouse(warehouse_.get(), "w");
    // The warehouse table has a column the lake does not (as if the lake had dropped it).
    ASSERT_TRUE((*c)->Execute("CREATE TABLE events (\"deviceId\" TEXT, gone INTEGER)").ok());
  }
  auto l = MakeLoader();
  Status s = l->LoadOnce();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s.message().find("\"gone\""), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("breaking"), std::string::npos) << s.message();

  warehouse_ = engine::Database::Open("").value();
  {
    auto c = ConnectDuckDbWarehouse(warehouse_.get(), "w");
    ASSERT_TRUE((*c)->Execute("CREATE TABLE events (\"deviceId\" TEXT, speed BIGINT)").ok());
  }
  auto l2 = MakeLoader();
  s = l2->LoadOnce();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("\"speed\" is BIGINT in the warehouse"), std::string::npos)
      << s.message();
}

// A damaged Delta log concerns its table only: the loader names the object and the fix, and loads
// the healthy tables.
TEST_F(LoaderTest, ADamagedTableIsNamedAndTheHealthyOnesAreLoaded) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 20, false, 1);
  CommitEvents(store_.get(), lake_db_.get(), "damaged", 1, 5, false, 1);
  CommitEvents(store_.get(), lake_db_.get(), "damaged", 6, 5, false, 2);
  const std::string key = "damaged/_delta_log/00000000000000000001.json";
  ASSERT_TRUE(store_->Put(key, "{\"add\": garbage\n").ok());
  for (const std::vector<std::string>& order : {std::vector<std::string>{"damaged", "events"},
                                                std::vector<std::string>{"events", "damaged"}}) {
    warehouse_ = engine::Database::Open("").value();
    LoaderOptions o;
    o.tables = order;
    o.retry_for = std::chrono::minutes(10);
    auto l = Loader::Create(store_.get(), Connector(), o);
    ASSERT_TRUE(l.ok());
    const Status s = (*l)->LoadOnce();
    EXPECT_EQ(s.kind(), ErrorKind::kCorruption) << s.message();
    EXPECT_NE(s.message().find("cannot load damaged"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(key), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("restore"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("the other tables were loaded"), std::string::npos) << s.message();
    EXPECT_EQ((*l)->summary().retries, 0);
    EXPECT_EQ(Offsets(), Range(1, 20));
  }
}

// Errors a retry cannot fix end a load at once; those it can are retried.
TEST_F(LoaderTest, PermanentWarehouseFailuresAreNotRetried) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 5, false, 1);
  const std::vector<Status> permanent = {
      Status::InvalidArgument("database \"nosuch\" does not exist"),
      Status::PermissionDenied("password authentication failed for user \"x\""),
  };
  for (const Status& failure : permanent) {
    FakeClock clock;
    LoaderOptions o;
    o.tables = {"events"};
    o.retry_for = std::chrono::minutes(10);
    o.clock = &clock;
    int connects = 0;
    auto l = Loader::Create(
        store_.get(),
        [&]() -> Result<std::unique_ptr<WarehouseConnection>> {
          ++connects;
          return failure;
        },
        o);
    ASSERT_TRUE(l.ok());
    const Status s = (*l)->LoadOnce();
    EXPECT_EQ(s.kind(), failure.kind()) << s.message();
    EXPECT_EQ(connects, 1) << failure.message();
    EXPECT_EQ(clock.Now(), ProcessingTime{}) << "no backoff for " << failure.message();
  }
  FakeClock clock;
  LoaderOptions o;
  o.tables = {"events"};
  o.retry_for = std::chrono::minutes(10);
  o.clock = &clock;
  int connects = 0;
  auto l = Loader::Create(
      store_.get(),
      [&]() -> Result<std::unique_ptr<WarehouseConnection>> {
        if (++connects < 3) return Status::Unavailable("connection refused");
        return ConnectDuckDbWarehouse(warehouse_.get(), "memory warehouse");
      },
      o);
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->LoadOnce().ok());
  EXPECT_EQ(connects, 3);
  EXPECT_EQ(Offsets(), Range(1, 5));
}

// run's follower (Loop with no interval) and load --follow: a warehouse that stays unreachable far
// longer than the retry budget (30 s for run's final pass) is retried for as long as the loop
// lasts, and loaded once it is back; the loop never ends with the error.
TEST_F(LoaderTest, FollowingRetriesAnUnreachableWarehouseForAsLongAsItRuns) {
  CommitEvents(store_.get(), lake_db_.get(), "events", 1, 5, false, 1);
  FakeClock clock;
  std::atomic<bool> stop{false};
  LoaderOptions o = RetryingOptions(&clock, std::chrono::seconds(30));
  o.on_load = [&stop](const LoadEvent&) { stop = true; };  // back and loaded: the test is done
  const ProcessingTime start = clock.Now();
  int refused = 0;
  auto l = Loader::Create(
      store_.get(),
      [&]() -> Result<std::unique_ptr<WarehouseConnection>> {
        if (clock.Now() - start < std::chrono::minutes(30)) {
          ++refused;
          return Status::Unavailable("connection refused");
        }
        return ConnectDuckDbWarehouse(warehouse_.get(), "memory warehouse");
      },
      o);
  ASSERT_TRUE(l.ok());
  const Status s = (*l)->Loop(stop, std::chrono::milliseconds(0), /*final_pass=*/false);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_GE(clock.Now() - start, std::chrono::minutes(30));
  EXPECT_GT(refused, 60) << "about one attempt per 10 s backoff for 30 minutes";
  EXPECT_EQ(Offsets(), Range(1, 5));
}

TEST(WarehouseErrorsTest, ConnectFailuresAreClassifiedByWhetherARetryCanFixThem) {
  // libpq's and DuckDB's words for what no retry fixes.
  for (const char* m : {
           "FATAL: database \"nosuch\" does not exist",
           "FATAL: role \"nobody\" does not exist",
           "FATAL: password authentication failed for user \"etl\"",
           "fe_sendauth: no password supplied",
           "FATAL: no pg_hba.conf entry for host \"10.0.0.1\", user \"etl\", database \"city\"",
           "FATAL: permission denied for database \"city\"",
           "invalid connection option \"hots\"",
           "invalid URI query parameter: \"x\"",
           "invalid integer value \"abc\" for connection option \"port\"",
           "IO Error: Cannot open file \"/no/such/w.duckdb\": No such file or directory",
           "IO Error: The file \"/tmp/x\" exists, but it is not a valid DuckDB database file!",
       }) {
    EXPECT_TRUE(IsPermanentConnectFailure(m)) << m;
  }
  // And what a retry may fix.
  for (const char* m : {
           "connection to server at \"127.0.0.1\", port 1 failed: Connection refused",
           "timeout expired",
           "FATAL: the database system is starting up",
           "FATAL: the database system is shutting down",
           "server closed the connection unexpectedly",
           "IO Error: Could not set lock on file \"/tmp/w.duckdb\": Conflicting lock is held",
       }) {
    EXPECT_FALSE(IsPermanentConnectFailure(m)) << m;
  }
}

TEST(WarehouseErrorsTest, ABadWarehouseIsRefusedBeforeAnyWork) {
  test::TempDir tmp("warehouse_spec");
  EXPECT_TRUE(CheckWarehouseSpec("duckdb:" + (tmp.path() / "w.duckdb").string()).ok());
  EXPECT_TRUE(CheckWarehouseSpec("postgres:").ok());
  EXPECT_TRUE(CheckWarehouseSpec("postgresql://etl@db:5432/city").ok());
  for (const std::string& bad :
       {std::string("foo"), std::string(""), std::string("duckdb:"), std::string("mysql://x/y"),
        "duckdb:" + (tmp.path() / "no" / "such" / "w.duckdb").string(),
        "duckdb:" + tmp.path().string(), std::string("redshift://u:p@h:5439/db")}) {
    const Status s = CheckWarehouseSpec(bad);
    EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument) << bad;
    EXPECT_FALSE(s.IsRetryable()) << bad;
  }
  // A connection string libpq cannot parse, in each of its forms: refused before any work, and
  // never retried as if the server were away when a loader opens it.
  for (const std::string& bad : {
           std::string("postgres://u@[bad/db"),               // unterminated IPv6 bracket
           std::string("postgresql://u@h:5432/db?nosuch=1"),  // unknown URI parameter
           std::string("postgresql://u@h/db%zz"),             // bad percent-encoding
           std::string("postgres:host=h dbname"),             // a key without "="
           std::string("postgres:host='h"),                   // unterminated quote
           std::string("postgres:hots=h"),                    // unknown key
           std::string("redshift://u:p@[h:5439/db?iam_role=arn:aws:iam::1:role/r"),
       }) {
    const Status s = CheckWarehouseSpec(bad);
    EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument) << bad << ": " << s.message();
    EXPECT_NE(s.message().find("malformed"), std::string::npos) << s.message();
    if (!bad.starts_with("redshift")) {
      auto opened = OpenWarehouse(bad);
      ASSERT_FALSE(opened.ok()) << bad;
      EXPECT_FALSE(opened.status().IsRetryable()) << bad << ": " << opened.status().message();
    }
  }
  // Opening a DuckDB file in a folder that does not exist is not retried as if transient.
  auto w = OpenWarehouse("duckdb:" + (tmp.path() / "no" / "such" / "w.duckdb").string());
  ASSERT_FALSE(w.ok());
  EXPECT_FALSE(w.status().IsRetryable()) << w.status().message();
}

TEST_F(LoaderTest, MissingLakeTableIsNothingToLoad) {
  auto l = MakeLoader();
  ASSERT_TRUE(l->LoadOnce().ok());
  EXPECT_EQ(l->summary().rows, 0);
}

}  // namespace
}  // namespace smartcity::warehouse
