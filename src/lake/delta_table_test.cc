#include "lake/delta_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "lake/compaction.h"
#include "lake/lake_testutil.h"
#include "testing/files.h"

namespace smartcity::lake {
namespace {

namespace fs = std::filesystem;
using testing::EventSchema;
using testing::EventSchemaWithNote;
using testing::kJan5At23h;
using testing::kMinute;
using testing::MakeEvents;
using testing::Range;
using testing::ReadSeqs;
using Op = FaultInjectingObjectStore::Op;
using When = FaultInjectingObjectStore::When;

// A log put that lands and is then answered with `error`: a timeout that hides a success, or the
// "exists" a resent put gets.
FaultInjectingObjectStore::Rule LogPutAnsweredAfterItLanded(ErrorKind error) {
  FaultInjectingObjectStore::Rule rule;
  rule.op = Op::kPutIfAbsent;
  rule.when = When::kAfter;
  rule.error = error;
  return rule;
}

class DeltaTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = engine::Database::Open("", WriterDatabaseOptions());  // as the stream processor
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }

  TableOptions Options() {
    TableOptions o;
    o.partitions = {PartitionField::DateOf("ts")};
    o.scratch_dir = scratch_;
    return o;
  }
  std::unique_ptr<DeltaTable> OpenTable(ObjectStore* store, TableOptions o,
                                        std::shared_ptr<const Schema> schema = EventSchema()) {
    auto t = DeltaTable::Open(store, db_.get(), "lake/events", std::move(schema), std::move(o));
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? std::move(*t) : nullptr;
  }
  std::vector<int64_t> Seqs(ObjectStore* store) {
    return ReadSeqs(store, db_.get(), "lake/events");
  }
  // Data files of the table that exist in the store (committed or not).
  size_t DataObjects(ObjectStore* store) {
    auto all = store->List("lake/events/");
    EXPECT_TRUE(all.ok());
    size_t n = 0;
    for (const auto& o : *all) n += o.key.find("_delta_log") == std::string::npos;
    return n;
  }

  std::unique_ptr<engine::Database> db_;
  test::TempDir tmp_{"smartcity-lake-test"};
  const fs::path scratch_ = tmp_.path();
};

TEST_F(DeltaTableTest, RefusesANullInANotNullColumnBeforeWritingAnything) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  auto good = MakeEvents(EventSchema(), 1, 3, kJan5At23h, kMinute);
  RecordBatch bad(EventSchema());
  bad.column(0).AppendNull();  // deviceId is NOT NULL
  for (size_t c = 1; c < EventSchema()->columns.size(); ++c) {
    bad.column(c).AppendFrom(good->column(c), 0);
  }
  ASSERT_TRUE(t->Append(*good).ok());
  ASSERT_TRUE(t->Append(bad).ok());
  auto r = t->Commit("app", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "table lake/events has column deviceId as NOT NULL, but a row to write has no value "
            "for it; nothing of it was written");
  EXPECT_EQ(DataObjects(&store), 0u);
  EXPECT_EQ(t->snapshot().version, 0);
}

TEST_F(DeltaTableTest, CreatesPartitionedTableAndCommitsOneFilePerPartition) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->snapshot().version, 0);
  // Two appends in one micro-batch, spanning two dates: one file per date, not per append.
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 90, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(
      t->Append(*MakeEvents(EventSchema(), 91, 30, kJan5At23h + 90 * kMinute, kMinute)).ok());
  EXPECT_EQ(t->buffered_rows(), 120u);
  EXPECT_EQ(Seqs(&store).size(), 0u) << "nothing is visible before the commit";
  auto r = t->Commit("app", 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->table_version, 1);
  EXPECT_FALSE(r->skipped);
  EXPECT_EQ(r->files_added, 2);
  EXPECT_EQ(r->rows_added, 120);
  EXPECT_EQ(Seqs(&store), Range(1, 120));

  const Snapshot& snap = t->snapshot();
  ASSERT_EQ(snap.files.size(), 2u);
  auto it = snap.files.begin();
  EXPECT_EQ(it->first.rfind("date=2026-01-05/part-", 0), 0u) << it->first;
  EXPECT_EQ(it->second.partition_values.at("date"), "2026-01-05");
  EXPECT_EQ(it->second.NumRecords(), 60);
  ++it;
  EXPECT_EQ(it->first.rfind("date=2026-01-06/", 0), 0u);
  EXPECT_EQ(it->second.NumRecords(), 60);
  EXPECT_EQ(snap.metadata.partition_columns, std::vector<std::string>{"date"});
  EXPECT_EQ(snap.metadata.schema.fields.back().name, "date");
  EXPECT_EQ(snap.metadata.schema.fields.back().type, LogicalType::kDate);
  EXPECT_EQ(snap.TxnVersion("app"), 1);

  // A second process opening the table sees the same thing.
  DeltaLog log(&store, "lake/events");
  auto again = log.Load();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->files.size(), 2u);
  EXPECT_EQ(again->NumRecords(), 120);
}

TEST_F(DeltaTableTest, DataFilesHoldTypedColumnsWithoutPartitionColumns) {
  fs::path dir = scratch_ / "lake";
  auto store = LocalObjectStore::Open(dir);
  ASSERT_TRUE(store.ok());
  TableOptions o = Options();
  o.partitions = {PartitionField::DateOf("ts"), PartitionField::Identity("deviceId")};
  auto t = OpenTable(store->get(), o);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 12, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(t->Commit("app", 1).ok());
  EXPECT_EQ(t->snapshot().files.size(), 3u) << "3 devices x 1 date";
  const AddFile& f = t->snapshot().files.begin()->second;
  EXPECT_EQ(f.partition_values.at("deviceId"), "vehicle-0");
  auto conn = db_->Connect();
  ASSERT_TRUE(conn.ok());
  auto desc = (*conn)->Query("DESCRIBE SELECT * FROM read_parquet(" +
                             engine::QuoteLiteral((dir / "lake/events" / f.path).string()) +
                             ", hive_partitioning = false)");
  ASSERT_TRUE(desc.ok()) << desc.status().message();
  std::vector<std::string> cols;
  for (size_t i = 0; i < desc->row_count(); ++i)
    cols.push_back(desc->GetString(0, i) + " " + desc->GetString(1, i));
  EXPECT_EQ(cols, (std::vector<std::string>{"ts TIMESTAMP WITH TIME ZONE", "speed DOUBLE",
                                            "lane INTEGER", "seq BIGINT", "ok BOOLEAN"}));
  auto codec = (*conn)->Query("SELECT DISTINCT compression FROM parquet_metadata(" +
                              engine::QuoteLiteral((dir / "lake/events" / f.path).string()) + ")");
  ASSERT_TRUE(codec.ok()) << codec.status().message();
  EXPECT_EQ(codec->GetString(0, 0), "ZSTD");
}

TEST_F(DeltaTableTest, CrashBetweenDataFilesAndCommitLeavesNoVisibleRowsAndRestartCommitsOnce) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  {
    auto t = OpenTable(&store, Options());
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 100, kJan5At23h, kMinute)).ok());
    FaultInjectingObjectStore::Rule crash;
    crash.op = Op::kPutIfAbsent;
    crash.key_contains = "_delta_log/";
    crash.crash = true;
    crash.error = ErrorKind::kAborted;
    store.AddRule(crash);
    auto r = t->Commit("app", 1);
    EXPECT_FALSE(r.ok());
  }  // the process "dies" here
  store.Revive();
  EXPECT_EQ(DataObjects(&base), 2u) << "the data files were written before the crash";
  EXPECT_TRUE(Seqs(&base).empty()) << "but no reader sees them";

  // Restart: the table has no txn for the app, so the batch is replayed and committed.
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  auto have = t->TxnVersion("app");
  ASSERT_TRUE(have.ok());
  EXPECT_EQ(*have, std::nullopt);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 100, kJan5At23h, kMinute)).ok());
  auto r = t->Commit("app", 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->skipped);
  EXPECT_EQ(Seqs(&base), Range(1, 100));

  // The crashed attempt's files are orphans: vacuum removes them, never a committed file.
  auto v = VacuumTable(&base, "lake/events", VacuumOptions{.retention = std::chrono::seconds(0)});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->files_deleted, 2);
  EXPECT_EQ(DataObjects(&base), 2u);
  EXPECT_EQ(Seqs(&base), Range(1, 100));
}

TEST_F(DeltaTableTest, CrashAfterCommitBeforeCheckpointIsRepairedByTheTxn) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  {
    auto t = OpenTable(&store, Options());
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 50, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", 1).ok());
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 51, 50, kJan5At23h, kMinute)).ok());
    // The commit lands, then the process dies before it hears back (and before its checkpoint).
    FaultInjectingObjectStore::Rule crash;
    crash.op = Op::kPutIfAbsent;
    crash.key_contains = "_delta_log/";
    crash.when = When::kAfter;
    crash.crash = true;
    crash.error = ErrorKind::kAborted;
    store.AddRule(crash);
    EXPECT_FALSE(t->Commit("app", 2).ok());
  }
  store.Revive();
  EXPECT_EQ(Seqs(&base), Range(1, 100));
  // Restart from the processor's checkpoint (batch 1 done): batch 2 is replayed; its commit is a
  // no-op.
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  EXPECT_EQ(*t->TxnVersion("app"), 2);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 51, 50, kJan5At23h, kMinute)).ok());
  auto r = t->Commit("app", 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->skipped);
  EXPECT_EQ(Seqs(&base), Range(1, 100)) << "each row exactly once";
  EXPECT_EQ(DataObjects(&base), 2u) << "the replay's files were deleted";
  // The next batch goes on normally.
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 101, 10, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(t->Commit("app", 3).ok());
  EXPECT_EQ(Seqs(&base), Range(1, 110));
}

TEST_F(DeltaTableTest, FailedCommitWithUnknownOutcomeCanBeRetried) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 20, kJan5At23h, kMinute)).ok());
  // A timeout after the write: the commit landed but the writer was told it failed.
  store.AddRule(LogPutAnsweredAfterItLanded(ErrorKind::kTimeout));
  auto first = t->Commit("app", 1);
  ASSERT_FALSE(first.ok());
  EXPECT_TRUE(first.status().IsRetryable());
  auto retry = t->Commit("app", 1);
  ASSERT_TRUE(retry.ok()) << retry.status().message();
  // The log holds our commit (its commitInfo.txnId): that commit is this one.
  EXPECT_FALSE(retry->skipped);
  EXPECT_FALSE(retry->committed_by_other);
  EXPECT_EQ(retry->table_version, 1);  // version 0 made the table
  EXPECT_EQ(retry->rows_added, 20);
  EXPECT_EQ(t->snapshot().version, 1) << "no second version";
  EXPECT_EQ(Seqs(&base), Range(1, 20)) << "and its files were not deleted";

  // A failure before the write: the retry commits.
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 21, 20, kJan5At23h, kMinute)).ok());
  FaultInjectingObjectStore::Rule down;
  down.op = Op::kPutIfAbsent;
  store.AddRule(down);
  ASSERT_FALSE(t->Commit("app", 2).ok());
  auto again = t->Commit("app", 2);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_FALSE(again->skipped);
  EXPECT_EQ(Seqs(&base), Range(1, 40));
}

// The same when a compaction replaced the commit's files before the retry: they are the table's
// files at that version (readers of it read them until vacuum), so the retry deletes none of them.
TEST_F(DeltaTableTest, RetryAfterALandedPutKeepsItsFilesThoughACompactionReplacedThem) {
  auto local = LocalObjectStore::Open(scratch_ / "lake-retry");
  ASSERT_TRUE(local.ok());
  FaultInjectingObjectStore store(local->get());
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 100, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(t->Commit("app", 1).ok());
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 101, 100, kJan5At23h, kMinute)).ok());
  store.AddRule(LogPutAnsweredAfterItLanded(ErrorKind::kTimeout));
  ASSERT_FALSE(t->Commit("app", 2).ok());
  DeltaLog log(local->get(), "lake/events");
  auto landed = log.ReadCommit(2);  // 0 made the table, 1 is epoch 1
  ASSERT_TRUE(landed.ok()) << "the put landed";
  ASSERT_FALSE(landed->adds.empty());
  CompactionOptions co;
  co.scratch_dir = scratch_;
  auto compacted = CompactTable(local->get(), db_.get(), "lake/events", co);
  ASSERT_TRUE(compacted.ok()) << compacted.status().message();
  ASSERT_GT(compacted->files_removed, 0);
  auto now = log.Load();
  ASSERT_TRUE(now.ok());
  for (const AddFile& a : landed->adds) ASSERT_EQ(now->files.count(a.path), 0u) << "not replaced";

  auto retry = t->Commit("app", 2);
  ASSERT_TRUE(retry.ok()) << retry.status().message();
  EXPECT_FALSE(retry->skipped);
  EXPECT_EQ(retry->table_version, 2);
  EXPECT_EQ(retry->rows_added, 100);
  for (const AddFile& a : landed->adds) {
    EXPECT_TRUE((*local)->Head("lake/events/" + a.path).ok()) << a.path << " was deleted";
  }
  EXPECT_EQ(Seqs(local->get()), Range(1, 200));
}

// After a put of unknown outcome that landed, Abort() keeps the commit's files (they are the
// table's), and the next commit, of other txns, is a commit of its own, not that one.
TEST_F(DeltaTableTest, AbortAfterALandedPutKeepsItsFilesAndTheNextCommitIsItsOwn) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 20, kJan5At23h, kMinute)).ok());
  store.AddRule(LogPutAnsweredAfterItLanded(ErrorKind::kTimeout));
  ASSERT_FALSE(t->Commit("app", 1).ok());
  ASSERT_TRUE(t->Abort().ok());
  EXPECT_EQ(Seqs(&base), Range(1, 20)) << "the landed commit's files are kept";
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 21, 20, kJan5At23h, kMinute)).ok());
  auto next = t->Commit("app", 2);
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_FALSE(next->skipped);
  EXPECT_EQ(next->table_version, 2);
  EXPECT_EQ(next->rows_added, 20);
  EXPECT_EQ(Seqs(&base), Range(1, 40));
}

// A store client that resends a put whose answer it lost gets "exists" for the put that landed:
// that version is this commit, not another writer's. Rows appended while a put's outcome is
// unknown are refused (a retry must find the commit as it was put).
TEST_F(DeltaTableTest, ExistsForOurOwnResentPutIsOurCommit) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 20, kJan5At23h, kMinute)).ok());
  store.AddRule(LogPutAnsweredAfterItLanded(ErrorKind::kAlreadyExists));
  auto r = t->Commit("app", 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->skipped);
  EXPECT_EQ(r->table_version, 1);
  EXPECT_EQ(r->rows_added, 20);
  EXPECT_EQ(t->snapshot().version, 1) << "no second version";
  EXPECT_EQ(Seqs(&base), Range(1, 20));

  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 21, 20, kJan5At23h, kMinute)).ok());
  store.AddRule(LogPutAnsweredAfterItLanded(ErrorKind::kTimeout));
  ASSERT_FALSE(t->Commit("app", 2).ok());
  Status refused = t->Append(*MakeEvents(EventSchema(), 41, 20, kJan5At23h, kMinute));
  EXPECT_EQ(refused.kind(), ErrorKind::kInvalidArgument) << refused.message();
  auto other = t->Commit("app", 3);  // would commit epoch 2's files again if that put landed
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().kind(), ErrorKind::kInvalidArgument) << other.status().message();
  auto retry = t->Commit("app", 2);
  ASSERT_TRUE(retry.ok()) << retry.status().message();
  EXPECT_EQ(retry->table_version, 2);
  EXPECT_EQ(Seqs(&base), Range(1, 40));
}

TEST_F(DeltaTableTest, CommitWithAnOldTxnVersionIsANoOp) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(t->Commit("app", 5).ok());
  const int64_t version = t->snapshot().version;
  for (int64_t old : {5, 4, 1}) {
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute)).ok());
    auto r = t->Commit("app", old);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->skipped) << old;
    EXPECT_EQ(t->snapshot().version, version) << "no commit written";
  }
  EXPECT_EQ(Seqs(&store), Range(1, 10));
  EXPECT_EQ(DataObjects(&store), 1u) << "the skipped batches' files were deleted";
  // Another application id has its own sequence.
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute)).ok());
  auto other = t->Commit("other-app", 1);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->skipped);
  EXPECT_EQ(Seqs(&store), Range(1, 20));
}

TEST_F(DeltaTableTest, OneCommitCarriesATxnPerGroupAndSkipsGroupsAlreadyCommitted) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  // Epoch 1 of partition groups p0 and p1 in one commit.
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  auto r1 = t->Commit({{"q-p0", 1}, {"q-p1", 1}});
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  EXPECT_EQ(r1->files_added, 1) << "the groups' rows of one partition share a file";
  EXPECT_EQ(*t->TxnVersion("q-p0"), 1);
  EXPECT_EQ(*t->TxnVersion("q-p1"), 1);
  DeltaLog log(&store, "lake/events");
  auto c = log.ReadCommit(t->snapshot().version);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->txns.size(), 2u);

  // Another member already committed epoch 2 of p0 (e.g. before a crash); our replay of epoch 2 for
  // both groups commits only p1's rows.
  {
    auto other = OpenTable(&store, Options());
    ASSERT_TRUE(
        other->Append(*MakeEvents(EventSchema(), 21, 10, kJan5At23h, kMinute), "q-p0").ok());
    ASSERT_TRUE(other->Commit({{"q-p0", 2}}).ok());
  }
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 21, 10, kJan5At23h, kMinute), "q-p0").ok());
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 31, 10, kJan5At23h, kMinute), "q-p1").ok());
  auto r2 = t->Commit({{"q-p0", 2}, {"q-p1", 2}});
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_FALSE(r2->skipped);
  EXPECT_EQ(r2->skipped_groups, std::vector<std::string>{"q-p0"});
  EXPECT_EQ(r2->rows_added, 10);
  EXPECT_EQ(Seqs(&store), Range(1, 40));
  EXPECT_EQ(DataObjects(&store), 3u) << "the dropped group's rows were never written";
  auto c2 = log.ReadCommit(t->snapshot().version);
  ASSERT_TRUE(c2.ok());
  ASSERT_EQ(c2->txns.size(), 1u);
  EXPECT_EQ(c2->txns[0].app_id, "q-p1");

  // Misuse is refused without losing the buffered rows.
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 41, 5, kJan5At23h, kMinute), "q-p2").ok());
  EXPECT_EQ(t->Commit({{"q-p0", 3}}).status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(t->Commit({{"q-p2", 3}, {"q-p2", 4}}).status().kind(), ErrorKind::kInvalidArgument);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 46, 5, kJan5At23h, kMinute)).ok());
  EXPECT_EQ(t->Commit({{"q-p2", 3}, {"q-p3", 3}}).status().kind(), ErrorKind::kInvalidArgument)
      << "rows without a group need exactly one txn";
  ASSERT_TRUE(t->Commit({{"q-p2", 3}}).ok());
  EXPECT_EQ(Seqs(&store), Range(1, 50));
}

TEST_F(DeltaTableTest, AppendingByMoveEqualsAppendingByCopy) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  // One partition (taken whole), then two partitions (copied by runs), then one more into a
  // partition whose buffer already holds rows (copied).
  ASSERT_TRUE(
      t->Append(std::move(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute)), "g").ok());
  ASSERT_TRUE(
      t->Append(std::move(*MakeEvents(EventSchema(), 11, 90, kJan5At23h, kMinute)), "g").ok());
  auto moved = MakeEvents(EventSchema(), 101, 5, kJan5At23h, kMinute);
  ASSERT_TRUE(t->Append(std::move(*moved), "g").ok());
  ASSERT_TRUE(t->Commit("g", 1).ok());
  EXPECT_EQ(Seqs(&store), Range(1, 105));
  EXPECT_EQ(moved->schema(), *EventSchema()) << "a moved-from batch stays usable";
}

TEST_F(DeltaTableTest, EmptyBatchStillRecordsTheTxn) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  auto r = t->Commit("app", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_added, 0);
  EXPECT_EQ(r->table_version, 1);
  EXPECT_EQ(*t->TxnVersion("app"), 1);
}

TEST_F(DeltaTableTest, TwoWritersRacingForAVersionBothCommitOnce) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto a = OpenTable(&store, Options());
  auto b = OpenTable(&store, Options());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute)).ok());
  // Right before B's first commit attempt, A commits version 1: B loses the race, re-reads,
  // retries.
  FaultInjectingObjectStore::Rule hook;
  hook.op = Op::kPutIfAbsent;
  hook.key_contains = "_delta_log/";
  hook.error = ErrorKind::kOk;
  hook.on_fire = [&] {
    DeltaLog log(&base, "lake/events");
    auto snap = log.Load();
    ASSERT_TRUE(snap.ok());
    CommitActions c;
    c.txns = {Txn{"writer-a", 1, 1}};
    ASSERT_TRUE(log.WriteCommit(snap->version + 1, c).ok());
  };
  store.AddRule(hook);
  auto rb = b->Commit("writer-b", 1);
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_EQ(rb->attempts, 2);
  EXPECT_EQ(rb->table_version, 2);
  store.ClearRules();
  auto ra = a->Commit("writer-a", 2);
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(ra->table_version, 3);
  EXPECT_EQ(Seqs(&base), Range(1, 20));
  EXPECT_EQ(*a->TxnVersion("writer-b"), 1);
}

// The shared file of a commit is written before the race for the log version; losing it to a writer
// that committed one of our groups means that file must go and be written again without that group.
TEST_F(DeltaTableTest, LostRaceRevealingACommittedGroupRewritesTheSharedFileWithoutIt) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&store, Options());
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  // Right before our commit, another member commits epoch 1 of p0 with the same rows.
  FaultInjectingObjectStore::Rule hook;
  hook.op = Op::kPutIfAbsent;
  hook.key_contains = "_delta_log/";
  hook.error = ErrorKind::kOk;
  hook.on_fire = [&] {
    auto other = OpenTable(&base, Options());
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
    ASSERT_TRUE(other->Commit({{"q-p0", 1}}).ok());
  };
  store.AddRule(hook);
  auto r = t->Commit({{"q-p0", 1}, {"q-p1", 1}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  store.ClearRules();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->skipped_groups, std::vector<std::string>{"q-p0"});
  EXPECT_EQ(r->rows_added, 10);
  EXPECT_EQ(r->files_added, 1);
  EXPECT_EQ(Seqs(&base), Range(1, 20)) << "each row once";
  EXPECT_EQ(DataObjects(&base), 2u) << "the file holding both groups was deleted";
  EXPECT_EQ(*t->TxnVersion("q-p0"), 1);
  EXPECT_EQ(*t->TxnVersion("q-p1"), 1);
}

TEST_F(DeltaTableTest, ManyConcurrentWritersOnALocalDirectory) {
  auto store = LocalObjectStore::Open(scratch_ / "lake");
  ASSERT_TRUE(store.ok());
  constexpr int kWriters = 4, kBatches = 5, kRows = 20;
  std::vector<std::unique_ptr<DeltaTable>> tables;
  for (int w = 0; w < kWriters; ++w) {
    tables.push_back(OpenTable(store->get(), Options()));
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
        if (!tables[w]->Commit("writer-" + std::to_string(w), b + 1).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Seqs(store->get()), Range(1, kWriters * kBatches * kRows));
  DeltaLog log(store->get(), "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, kWriters * kBatches);
  for (int w = 0; w < kWriters; ++w)
    EXPECT_EQ(snap->TxnVersion("writer-" + std::to_string(w)), kBatches);
}

// Group commit (docs/commit_protocol.md): writers publish their epochs as intents under _staged/
// and each commit takes the others' pending ones.
class GroupCommitTest : public DeltaTableTest {
 protected:
  TableOptions GroupOptions() {
    TableOptions o = Options();
    o.group_commit = true;
    return o;
  }
  // Makes the next Delta commit attempt through `store` fail with a transient error (nothing is
  // written): the writer's intent is published, its commit is not.
  static void FailNextCommit(FaultInjectingObjectStore* store, bool crash = false) {
    FaultInjectingObjectStore::Rule r;
    r.op = Op::kPutIfAbsent;
    r.key_contains = "_delta_log/";
    r.crash = crash;
    r.error = crash ? ErrorKind::kAborted : ErrorKind::kUnavailable;
    store->AddRule(r);
  }
  // Another writer (app id "q-other") commits to the table: from then on the writers stage their
  // epochs (a lone writer does not).
  void OtherWriterCommits(ObjectStore* store) {
    auto other = OpenTable(store, GroupOptions());
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->Commit("q-other", 1).ok());
  }
  static size_t Staged(ObjectStore* store) {
    auto l = store->List("lake/events/_staged/");
    EXPECT_TRUE(l.ok());
    return l.ok() ? l->size() : 0;
  }
  // The txns of every commit of the table: each (app id, epoch) must be in one version only.
  static std::map<std::pair<std::string, int64_t>, std::vector<int64_t>> TxnVersions(
      ObjectStore* store) {
    DeltaLog log(store, "lake/events");
    auto snap = log.Load();
    EXPECT_TRUE(snap.ok());
    std::map<std::pair<std::string, int64_t>, std::vector<int64_t>> where;
    for (int64_t v = 1; snap.ok() && v <= snap->version; ++v) {
      auto c = log.ReadCommit(v);
      EXPECT_TRUE(c.ok()) << c.status().message();
      if (!c.ok()) continue;
      for (const Txn& t : c->txns) where[{t.app_id, t.version}].push_back(v);
    }
    return where;
  }
};

TEST_F(GroupCommitTest, ACommitTakesAnotherWritersPendingIntentIntoOneVersion) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  FaultInjectingObjectStore store_b(&base);
  auto a = OpenTable(&base, GroupOptions());
  auto b = OpenTable(&store_b, GroupOptions());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  FailNextCommit(&store_b);
  ASSERT_FALSE(b->Commit({{"q-p1", 1}}).ok());
  EXPECT_EQ(Staged(&base), 1u) << "B's epoch waits as an intent";
  EXPECT_TRUE(Seqs(&base).empty()) << "which no reader sees";

  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  auto ra = a->Commit({{"q-p0", 1}});
  ASSERT_TRUE(ra.ok()) << ra.status().message();
  EXPECT_EQ(ra->table_version, 2);
  EXPECT_EQ(ra->intents_taken, 1);
  EXPECT_EQ(ra->rows_added, 10) << "its own rows";
  EXPECT_EQ(Seqs(&base), Range(1, 20)) << "one version holds both epochs";
  EXPECT_EQ(Staged(&base), 0u) << "the taker deletes what it took";

  // B retries its commit and finds its epoch committed, with its files.
  store_b.ClearRules();
  auto rb = b->Commit({{"q-p1", 1}});
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_TRUE(rb->committed_by_other);
  EXPECT_FALSE(rb->skipped);
  EXPECT_EQ(rb->rows_added, 10);
  EXPECT_EQ(rb->table_version, 2);
  EXPECT_EQ(b->buffered_rows(), 0u);
  EXPECT_EQ(DataObjects(&base), 2u) << "no file deleted, none left over";
  EXPECT_EQ(Seqs(&base), Range(1, 20));

  // Both go on at the next epoch as usual.
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 21, 5, kJan5At23h, kMinute), "q-p1").ok());
  ASSERT_TRUE(b->Commit({{"q-p1", 2}}).ok());
  EXPECT_EQ(Seqs(&base), Range(1, 25));
  for (const auto& [txn, versions] : TxnVersions(&base))
    EXPECT_EQ(versions.size(), 1u) << txn.first << " epoch " << txn.second;
}

TEST_F(GroupCommitTest, AWriterThatLosesTheRaceToACommitHoldingItsIntentIsDone) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  FaultInjectingObjectStore store_b(&base);
  auto a = OpenTable(&base, GroupOptions());
  auto b = OpenTable(&store_b, GroupOptions());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  // B has published its intent; right before its commit put, A commits and takes it.
  FaultInjectingObjectStore::Rule hook;
  hook.op = Op::kPutIfAbsent;
  hook.key_contains = "_delta_log/";
  hook.error = ErrorKind::kOk;
  CommitResult ra;
  hook.on_fire = [&] {
    auto r = a->Commit({{"q-p0", 1}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    ra = *r;
  };
  store_b.AddRule(hook);
  auto rb = b->Commit({{"q-p1", 1}});
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_EQ(ra.intents_taken, 1);
  EXPECT_TRUE(rb->committed_by_other);
  EXPECT_EQ(rb->attempts, 1);
  EXPECT_EQ(rb->rows_added, 10);
  DeltaLog log(&base, "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, 2) << "one version for both writers";
  EXPECT_EQ(Seqs(&base), Range(1, 20));
  EXPECT_EQ(Staged(&base), 0u);
}

// A writer dies after staging its epoch: another writer's commit lands it, and the restarted
// writer's replay of the epoch finds it committed and adds nothing.
TEST_F(GroupCommitTest, AnIntentOfAWriterThatDiedIsCommittedOnceByAnother) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  FaultInjectingObjectStore store_b(&base);
  {
    auto b = OpenTable(&store_b, GroupOptions());
    ASSERT_TRUE(b);
    ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
    FailNextCommit(&store_b, /*crash=*/true);
    ASSERT_FALSE(b->Commit({{"q-p1", 1}}).ok());
  }
  store_b.Revive();
  store_b.ClearRules();
  auto a = OpenTable(&base, GroupOptions());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  auto ra = a->Commit({{"q-p0", 1}});
  ASSERT_TRUE(ra.ok()) << ra.status().message();
  EXPECT_EQ(ra->intents_taken, 1);
  EXPECT_EQ(Seqs(&base), Range(1, 20));

  auto b = OpenTable(&store_b, GroupOptions());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  auto rb = b->Commit({{"q-p1", 1}});
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_TRUE(rb->skipped);
  EXPECT_EQ(Seqs(&base), Range(1, 20)) << "each row once";
  EXPECT_EQ(DataObjects(&base), 2u) << "the replay's files were deleted";
  EXPECT_EQ(Staged(&base), 0u);
}

// Intents no commit may take: one whose epoch is in the table already (a zombie's, or its
// writer's replay committed it), one older than the TTL, one naming a file that is gone, and a
// second epoch of an app id the commit already holds.
TEST_F(GroupCommitTest, IntentsThatMustNotBeTakenAreLeftOut) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  auto stage = [&](const std::string& app, int64_t epoch, int64_t first) {
    FaultInjectingObjectStore store(&base);
    auto w = OpenTable(&store, GroupOptions());
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->Append(*MakeEvents(EventSchema(), first, 5, kJan5At23h, kMinute), app).ok());
    FailNextCommit(&store, /*crash=*/true);
    ASSERT_FALSE(w->Commit({{app, epoch}}).ok());
  };
  // A zombie staged epoch 1 of p0; the group's owner commits the epoch itself (its own epoch
  // first: the zombie's is not taken).
  stage("q-p0", 1, 1);
  auto a = OpenTable(&base, GroupOptions());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 1, 5, kJan5At23h, kMinute), "q-p0").ok());
  auto first = a->Commit({{"q-p0", 1}});
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->intents_taken, 0);
  // p2's intent may be taken.
  stage("q-p2", 1, 101);
  // p3's intent names a file that is gone (vacuumed, say).
  stage("q-p3", 1, 201);
  // p4: an intent for epoch 1 and one for the same app id from a zombie.
  stage("q-p4", 1, 301);
  stage("q-p4", 1, 301);
  // The first of the others' commit attempts deleted the zombie's intent (its epoch is in the
  // table: no commit may take it).
  ASSERT_EQ(Staged(&base), 4u);
  {
    auto staged = base.List("lake/events/_staged/");
    ASSERT_TRUE(staged.ok());
    for (const ObjectInfo& o : *staged) {
      auto c = ParseCommit(*base.Get(o.key));
      ASSERT_TRUE(c.ok());
      if (c->txns[0].app_id == "q-p3") {
        ASSERT_TRUE(base.Delete("lake/events/" + c->adds[0].path).ok());
      }
    }
  }
  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 6, 5, kJan5At23h, kMinute), "q-p0").ok());
  auto r = a->Commit({{"q-p0", 2}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->intents_taken, 2) << "p2's and one of p4's";
  auto txns = TxnVersions(&base);
  EXPECT_EQ((txns[{"q-p0", 1}]), std::vector<int64_t>{2});
  EXPECT_EQ((txns[{"q-p2", 1}]), std::vector<int64_t>{3});
  EXPECT_EQ((txns[{"q-p4", 1}]), std::vector<int64_t>{3});
  EXPECT_EQ(txns.count({"q-p3", 1}), 0u);
  std::vector<int64_t> want = Range(1, 10);
  for (int64_t first : {101, 301}) {
    for (int64_t s : Range(first, 5)) want.push_back(s);
  }
  EXPECT_EQ(Seqs(&base), want) << "each row once";
  // Left: p3's (its writer's replay commits it) and p4's second (the next commit deletes it, as
  // no commit may take it now).
  EXPECT_EQ(Staged(&base), 2u);

  // Now the TTL: a fresh intent of p5, and a committer that only takes intents 1 ms young.
  stage("q-p5", 1, 401);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  TableOptions ttl = GroupOptions();
  ttl.intent_ttl = std::chrono::milliseconds(1);
  auto c = OpenTable(&base, ttl);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Append(*MakeEvents(EventSchema(), 501, 5, kJan5At23h, kMinute), "q-p6").ok());
  auto rc = c->Commit({{"q-p6", 1}});
  ASSERT_TRUE(rc.ok()) << rc.status().message();
  EXPECT_EQ(rc->intents_taken, 0) << "too old";
  EXPECT_EQ(TxnVersions(&base).count({"q-p5", 1}), 0u);
  EXPECT_EQ(Staged(&base), 0u) << "expired intents are deleted";
}

// Abort after the intent was published: another writer may be committing it right then, so its
// files are never deleted by the writer (an orphan at worst, for vacuum).
TEST_F(GroupCommitTest, AbortAfterPublishingWithdrawsTheIntentAndKeepsItsFiles) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  FaultInjectingObjectStore store(&base);
  auto b = OpenTable(&store, GroupOptions());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p1").ok());
  FailNextCommit(&store);
  ASSERT_FALSE(b->Commit({{"q-p1", 1}}).ok());
  ASSERT_EQ(Staged(&base), 1u);
  const size_t files = DataObjects(&base) - Staged(&base);
  ASSERT_GT(files, 0u);
  ASSERT_TRUE(b->Abort().ok());
  EXPECT_EQ(Staged(&base), 0u);
  EXPECT_EQ(DataObjects(&base), files);
  EXPECT_EQ(b->buffered_rows(), 0u);
  EXPECT_TRUE(Seqs(&base).empty());
}

// Stage then Commit (what each member does per epoch): a member that staged and waited finds its
// epoch committed by another member's commit, and makes no log put of its own.
TEST_F(GroupCommitTest, StagedEpochsOfEveryWriterLandInTheFirstCommit) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  constexpr int kWriters = 3;
  std::vector<std::unique_ptr<FaultInjectingObjectStore>> stores;
  std::vector<std::unique_ptr<DeltaTable>> w;
  for (int i = 0; i < kWriters; ++i) {
    stores.push_back(std::make_unique<FaultInjectingObjectStore>(&base));
    w.push_back(OpenTable(stores.back().get(), GroupOptions()));
    ASSERT_TRUE(w.back());
  }
  auto app = [](int i) { return "q-p" + std::to_string(i); };
  for (int i = 0; i < kWriters; ++i) {
    ASSERT_TRUE(
        w[i]->Append(*MakeEvents(EventSchema(), 1 + 10 * i, 10, kJan5At23h, kMinute), app(i)).ok());
    auto r = w[i]->Stage({{app(i), 1}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE(r->skipped || r->committed_by_other);
  }
  EXPECT_EQ(Staged(&base), static_cast<size_t>(kWriters));
  EXPECT_TRUE(Seqs(&base).empty());
  auto first = w[1]->Commit({{app(1), 1}});
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->intents_taken, kWriters - 1);
  EXPECT_EQ(Seqs(&base), Range(1, 10 * kWriters));
  for (int i : {0, 2}) {
    const int puts = stores[i]->calls(Op::kPutIfAbsent);
    auto r = w[i]->Commit({{app(i), 1}});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r->committed_by_other);
    EXPECT_EQ(r->rows_added, 10);
    EXPECT_EQ(stores[i]->calls(Op::kPutIfAbsent), puts) << "no log put of its own";
    EXPECT_TRUE(w[i]->OtherWritersActive({{app(i), 1}}));
  }
  DeltaLog log(&base, "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, 2) << "one version for the three epochs";
  EXPECT_EQ(Staged(&base), 0u);
}

TEST_F(GroupCommitTest, ManyConcurrentWritersCommitEveryEpochOnceInFewerVersions) {
  auto store = LocalObjectStore::Open(scratch_ / "lake");
  ASSERT_TRUE(store.ok());
  OtherWriterCommits(store->get());
  constexpr int kWriters = 4, kBatches = 8, kRows = 20;
  std::vector<std::unique_ptr<DeltaTable>> tables;
  for (int w = 0; w < kWriters; ++w) {
    tables.push_back(OpenTable(store->get(), GroupOptions()));
    ASSERT_TRUE(tables.back());
  }
  std::atomic<int> failures{0}, by_other{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        const int64_t first = 1 + (w * kBatches + b) * kRows;
        if (!tables[w]->Append(*MakeEvents(EventSchema(), first, kRows, kJan5At23h, kMinute)).ok())
          ++failures;
        auto r = tables[w]->Commit("writer-" + std::to_string(w), b + 1);
        if (!r.ok() || r->skipped || r->rows_added != kRows) ++failures;
        if (r.ok() && r->committed_by_other) ++by_other;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Seqs(store->get()), Range(1, kWriters * kBatches * kRows));
  DeltaLog log(store->get(), "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, 1 + kWriters * kBatches - by_other.load())
      << "a version for each epoch that its writer committed itself";
  for (int w = 0; w < kWriters; ++w)
    EXPECT_EQ(snap->TxnVersion("writer-" + std::to_string(w)), kBatches);
  for (const auto& [txn, versions] : TxnVersions(store->get()))
    EXPECT_EQ(versions.size(), 1u) << txn.first << " epoch " << txn.second;
  EXPECT_EQ(Staged(store->get()), 0u);
}

// Stage drops a group the table has (a replay) and stages the rest; the Commit that follows must
// keep that intent staged (it holds no committed epoch).
TEST_F(GroupCommitTest, AReplayedGroupDroppedWhenStagingLeavesTheIntentStaged) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  {
    auto first = OpenTable(&base, GroupOptions());
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
    ASSERT_TRUE(first->Commit({{"q-p0", 1}}).ok());
  }
  FaultInjectingObjectStore store(&base);
  auto w = OpenTable(&store, GroupOptions());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  ASSERT_TRUE(w->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  auto staged = w->Stage({{"q-p0", 1}, {"q-p1", 1}});
  ASSERT_TRUE(staged.ok()) << staged.status().message();
  ASSERT_EQ(Staged(&base), 1u);
  FaultInjectingObjectStore::Rule hook;
  hook.op = Op::kPutIfAbsent;
  hook.key_contains = "_delta_log/";
  hook.error = ErrorKind::kOk;
  size_t staged_at_put = 0;
  hook.on_fire = [&] { staged_at_put = Staged(&base); };
  store.AddRule(hook);
  auto r = w->Commit({{"q-p0", 1}, {"q-p1", 1}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(staged_at_put, 1u) << "the intent was withdrawn before the put";
  EXPECT_EQ(r->skipped_groups, std::vector<std::string>{"q-p0"});
  EXPECT_EQ(r->rows_added, 10);
  EXPECT_EQ(Seqs(&base), Range(1, 20));
  EXPECT_EQ(Staged(&base), 0u);
}

// A zombie lands one of the epochs of a staged commit: the writer withdraws the intent, stages
// the rest again in new files, and never deletes the files it had staged (another writer may be
// landing them); each row lands once.
TEST_F(GroupCommitTest, FilesOfAWithdrawnIntentAreKeptAsOrphans) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  FaultInjectingObjectStore store(&base);
  auto w = OpenTable(&store, GroupOptions());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  ASSERT_TRUE(w->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  ASSERT_TRUE(w->Stage({{"q-p0", 1}, {"q-p1", 1}}).ok());
  const size_t staged_files = DataObjects(&base) - Staged(&base);
  {
    auto zombie = OpenTable(&base, Options());
    ASSERT_TRUE(zombie);
    ASSERT_TRUE(
        zombie->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
    ASSERT_TRUE(zombie->Commit({{"q-p0", 1}}).ok());
  }
  auto r = w->Commit({{"q-p0", 1}, {"q-p1", 1}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->skipped_groups, std::vector<std::string>{"q-p0"});
  EXPECT_EQ(Seqs(&base), Range(1, 20)) << "each row once";
  // The zombie's file, W's new file for p1, and W's first (staged) file left as an orphan.
  EXPECT_EQ(DataObjects(&base) - Staged(&base), staged_files + 2);
  EXPECT_EQ(Staged(&base), 0u);
  auto v = VacuumTable(&base, "lake/events", VacuumOptions{.retention = std::chrono::seconds(0)});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->files_deleted, static_cast<int>(staged_files));
  EXPECT_EQ(Seqs(&base), Range(1, 20));
}

// A put that landed but reported a failure, with another writer's staged epoch in it: the retried
// Commit finds the epochs in and knows that version for its own (not "committed by another").
// Rows appended while a commit is staged are refused (the staged commit would not hold them).
TEST_F(GroupCommitTest, ARetryAfterAPutThatLandedKnowsItsOwnCommit) {
  InMemoryObjectStore base;
  OtherWriterCommits(&base);
  FaultInjectingObjectStore store_b(&base);
  auto b = OpenTable(&store_b, GroupOptions());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute), "q-p1").ok());
  FailNextCommit(&store_b);
  ASSERT_FALSE(b->Commit({{"q-p1", 1}}).ok());
  store_b.ClearRules();
  FaultInjectingObjectStore store_a(&base);
  auto a = OpenTable(&store_a, GroupOptions());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute), "q-p0").ok());
  FaultInjectingObjectStore::Rule landed;
  landed.op = Op::kPutIfAbsent;
  landed.key_contains = "_delta_log/";
  landed.when = When::kAfter;
  landed.error = ErrorKind::kUnavailable;
  store_a.AddRule(landed);
  ASSERT_FALSE(a->Commit({{"q-p0", 1}}).ok());
  store_a.ClearRules();
  EXPECT_EQ(Seqs(&base), Range(1, 20)) << "the put did land, with B's epoch";
  Status refused = a->Append(*MakeEvents(EventSchema(), 21, 5, kJan5At23h, kMinute), "q-p0");
  EXPECT_EQ(refused.kind(), ErrorKind::kInvalidArgument);
  auto ra = a->Commit({{"q-p0", 1}});
  ASSERT_TRUE(ra.ok()) << ra.status().message();
  EXPECT_FALSE(ra->committed_by_other);
  EXPECT_EQ(ra->table_version, 2);
  EXPECT_EQ(ra->intents_taken, 1);
  EXPECT_EQ(ra->rows_added, 10);
  auto rb = b->Commit({{"q-p1", 1}});
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_TRUE(rb->committed_by_other);
  EXPECT_EQ(Staged(&base), 0u);
  EXPECT_EQ(Seqs(&base), Range(1, 20));
}

TEST_F(GroupCommitTest, ALoneWriterStagesNothing) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&store, GroupOptions());
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->OtherWritersActive({{"q-p0", 1}}));
  for (int64_t e = 1; e <= 3; ++e) {
    ASSERT_TRUE(
        t->Append(*MakeEvents(EventSchema(), 1 + 10 * (e - 1), 10, kJan5At23h, kMinute), "q-p0")
            .ok());
    auto r = t->Commit({{"q-p0", e}});
    ASSERT_TRUE(r.ok()) << r.status().message();
  }
  EXPECT_EQ(store.calls(Op::kPut), 0) << "no intent written";
  EXPECT_EQ(Seqs(&base), Range(1, 30));
  // Its own txns are not another writer's; without group commit nobody is.
  EXPECT_FALSE(t->OtherWritersActive({{"q-p0", 4}}));
  auto plain = OpenTable(&base, Options());
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->OtherWritersActive({{"q-p1", 1}}));
  auto grouped = OpenTable(&base, GroupOptions());
  ASSERT_TRUE(grouped);
  EXPECT_TRUE(grouped->OtherWritersActive({{"q-p1", 1}}));
}

TEST_F(DeltaTableTest, LargeBuffersAreWrittenEarlyButStayInvisibleUntilCommit) {
  InMemoryObjectStore store;
  TableOptions o = Options();
  o.partitions.clear();
  o.target_file_bytes = 4096;  // tiny, to force early files
  auto t = OpenTable(&store, o);
  ASSERT_TRUE(t);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1 + i * 500, 500, kJan5At23h, kMinute)).ok());
  }
  EXPECT_GT(DataObjects(&store), 0u) << "files were written before the commit";
  EXPECT_TRUE(Seqs(&store).empty()) << "but nobody sees them";
  auto r = t->Commit("app", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->files_added, 1);
  EXPECT_EQ(Seqs(&store), Range(1, 5000));
}

// The groups' rows of one partition are written from their buffers one after the other; past the
// target size they are cut into files across the buffers' boundaries, each row in one file once,
// each file's stats those of its own rows.
TEST_F(DeltaTableTest, GroupsSharingAPartitionAreCutIntoFilesAcrossTheirBuffers) {
  InMemoryObjectStore store;
  TableOptions o = Options();
  o.partitions.clear();
  const uint64_t group_bytes = MakeEvents(EventSchema(), 1, 300, kJan5At23h, kMinute)->ByteSize();
  // One group's rows stay under the target (at the writer's first guess of 1/4 for the
  // compression); the three groups' together make two files.
  o.target_file_bytes = group_bytes / 4 * 3 / 2;
  auto t = OpenTable(&store, o);
  ASSERT_TRUE(t);
  for (int g = 0; g < 3; ++g) {
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1 + g * 300, 300, kJan5At23h, kMinute),
                          "q-p" + std::to_string(g))
                    .ok());
  }
  EXPECT_EQ(DataObjects(&store), 0u) << "no group's buffer was written on its own";
  auto r = t->Commit({{"q-p0", 1}, {"q-p1", 1}, {"q-p2", 1}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->files_added, 2);
  EXPECT_EQ(Seqs(&store), Range(1, 900));
  std::set<std::pair<int64_t, int64_t>> bounds;  // seq's min and max per file, from its stats
  int64_t records = 0;
  for (const auto& [path, f] : t->snapshot().files) {
    auto stats = nlohmann::json::parse(f.stats);
    records += stats["numRecords"].get<int64_t>();
    bounds.emplace(stats["minValues"]["seq"].get<int64_t>(),
                   stats["maxValues"]["seq"].get<int64_t>());
  }
  EXPECT_EQ(records, 900);
  EXPECT_EQ(bounds, (std::set<std::pair<int64_t, int64_t>>{{1, 450}, {451, 900}}));
}

TEST_F(DeltaTableTest, AbortDeletesUncommittedFiles) {
  InMemoryObjectStore store;
  TableOptions o = Options();
  o.target_file_bytes = 4096;
  auto t = OpenTable(&store, o);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 3000, kJan5At23h, 1000)).ok());
  EXPECT_GT(DataObjects(&store), 0u);
  ASSERT_TRUE(t->Abort().ok());
  EXPECT_EQ(DataObjects(&store), 0u);
  EXPECT_EQ(t->buffered_rows(), 0u);
  ASSERT_TRUE(t->Commit("app", 1).ok());
  EXPECT_TRUE(Seqs(&store).empty());
}

TEST_F(DeltaTableTest, SchemaEvolutionAddsNullableColumnsAndRefusesTheRest) {
  InMemoryObjectStore store;
  {
    auto t = OpenTable(&store, Options());
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 1, 10, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", 1).ok());
  }
  {
    auto t = OpenTable(&store, Options(), EventSchemaWithNote());
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchemaWithNote(), 11, 10, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", 2).ok());
    EXPECT_EQ(t->snapshot().metadata.schema.IndexOf("note"), 7) << "appended after date";
  }
  DeltaLog log(&store, "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_GE(snap->metadata.schema.IndexOf("note"), 0);
  EXPECT_EQ(Seqs(&store), Range(1, 20));

  // The old writer (without `note`) is now refused: the table has a column it lacks.
  auto old = DeltaTable::Open(&store, db_.get(), "lake/events", EventSchema(), Options());
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("note"), std::string::npos) << old.status().message();

  auto changed = std::make_shared<Schema>(*EventSchemaWithNote());
  changed->columns[3].type = LogicalType::kInt64;  // lane: int32 -> int64
  auto bad_type = DeltaTable::Open(&store, db_.get(), "lake/events", changed, Options());
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(bad_type.status().message().find("lane"), std::string::npos)
      << bad_type.status().message();

  auto not_null = std::make_shared<Schema>(*EventSchemaWithNote());
  not_null->columns.push_back({"extra", LogicalType::kInt32, false});
  auto bad_null = DeltaTable::Open(&store, db_.get(), "lake/events", not_null, Options());
  ASSERT_FALSE(bad_null.ok());
  EXPECT_NE(bad_null.status().message().find("nullable"), std::string::npos);

  TableOptions other_parts = Options();
  other_parts.partitions = {PartitionField::HourOf("ts")};
  auto bad_parts =
      DeltaTable::Open(&store, db_.get(), "lake/events", EventSchemaWithNote(), other_parts);
  ASSERT_FALSE(bad_parts.ok());
  EXPECT_NE(bad_parts.status().message().find("partitioned by"), std::string::npos);
}

TEST_F(DeltaTableTest, RejectsBadPartitionSpecs) {
  InMemoryObjectStore store;
  TableOptions o = Options();
  o.partitions = {PartitionField::DateOf("deviceId")};
  EXPECT_EQ(DeltaTable::Open(&store, db_.get(), "t1", EventSchema(), o).status().kind(),
            ErrorKind::kInvalidArgument);
  o.partitions = {PartitionField::Identity("speed")};
  EXPECT_EQ(DeltaTable::Open(&store, db_.get(), "t2", EventSchema(), o).status().kind(),
            ErrorKind::kInvalidArgument);
  o.partitions = {PartitionField::Identity("nope")};
  EXPECT_EQ(DeltaTable::Open(&store, db_.get(), "t3", EventSchema(), o).status().kind(),
            ErrorKind::kInvalidArgument);
  o.partitions = {PartitionField::DateOf("ts", "lane")};
  EXPECT_EQ(DeltaTable::Open(&store, db_.get(), "t4", EventSchema(), o).status().kind(),
            ErrorKind::kInvalidArgument);
}

TEST_F(DeltaTableTest, DateAndHourPartitionsUseUtc) {
  InMemoryObjectStore store;
  TableOptions o = Options();
  o.partitions = {PartitionField::DateOf("ts"), PartitionField::HourOf("ts")};
  auto t = OpenTable(&store, o);
  ASSERT_TRUE(t);
  // 1969-12-31T23:30Z and 1970-01-01T00:30Z: floor division, not truncation.
  auto b = MakeEvents(EventSchema(), 1, 2, -30 * kMinute, 60 * kMinute);
  ASSERT_TRUE(t->Append(*b).ok());
  ASSERT_TRUE(t->Commit("app", 1).ok());
  std::vector<std::string> dirs;
  for (const auto& [path, f] : t->snapshot().files) dirs.push_back(path.substr(0, path.rfind('/')));
  EXPECT_EQ(dirs, (std::vector<std::string>{"date=1969-12-31/hour=23", "date=1970-01-01/hour=0"}));
}

TEST_F(DeltaTableTest, CheckpointEveryTenCommitsAndReadersUseIt) {
  InMemoryObjectStore store;
  TableOptions o = Options();
  o.checkpoint_interval = 10;
  auto t = OpenTable(&store, o);
  ASSERT_TRUE(t);
  for (int v = 1; v <= 12; ++v) {
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), v * 10, 10, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", v).ok());
  }
  EXPECT_TRUE(store.Head("lake/events/_delta_log/00000000000000000010.checkpoint.parquet").ok());
  auto last = store.Get("lake/events/_delta_log/_last_checkpoint");
  ASSERT_TRUE(last.ok());
  EXPECT_NE(last->find("\"version\":10"), std::string::npos) << *last;
  // A restarted writer loads from the checkpoint and sees the same table.
  auto t2 = OpenTable(&store, o);
  ASSERT_TRUE(t2);
  EXPECT_EQ(t2->snapshot().version, 12);
  EXPECT_EQ(t2->snapshot().files.size(), t->snapshot().files.size());
  EXPECT_EQ(*t2->TxnVersion("app"), 12);
  EXPECT_EQ(Seqs(&store), Range(10, 120));
}

TEST_F(DeltaTableTest, CompactionKeepsRowsAndReplacesSmallFiles) {
  auto store = LocalObjectStore::Open(scratch_ / "lake");
  ASSERT_TRUE(store.ok());
  auto t = OpenTable(store->get(), Options());
  ASSERT_TRUE(t);
  for (int v = 1; v <= 6; ++v) {
    ASSERT_TRUE(
        t->Append(*MakeEvents(EventSchema(), (v - 1) * 100 + 1, 100, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", v).ok());
  }
  EXPECT_EQ(t->snapshot().files.size(), 12u) << "6 commits x 2 dates";
  CompactionOptions co;
  co.scratch_dir = scratch_;
  auto r = CompactTable(store->get(), db_.get(), "lake/events", co);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->partitions_compacted, 2);
  EXPECT_EQ(r->files_removed, 12);
  EXPECT_EQ(r->files_added, 2);
  EXPECT_EQ(r->rows_rewritten, 600);
  EXPECT_EQ(Seqs(store->get()), Range(1, 600));
  DeltaLog log(store->get(), "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->files.size(), 2u);
  EXPECT_EQ(snap->files.begin()->second.NumRecords(), 6 * 60) << "23:00-23:59 of each batch";
  EXPECT_EQ(snap->files.rbegin()->second.NumRecords(), 6 * 40);
  for (const auto& [path, f] : snap->files) {
    EXPECT_FALSE(f.data_change);
    EXPECT_NE(f.stats.find("\"minValues\":{\"deviceId\""), std::string::npos) << f.stats;
  }
  auto commit = log.ReadCommit(snap->version);
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(commit->commit_info->operation, "OPTIMIZE");
  EXPECT_TRUE(commit->txns.empty()) << "compaction does not touch the streaming txn";
  EXPECT_EQ(snap->TxnVersion("app"), 6);
  // The stream keeps appending to the compacted table; then the removed files can be vacuumed.
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 601, 10, kJan5At23h, kMinute)).ok());
  ASSERT_TRUE(t->Commit("app", 7).ok());
  EXPECT_EQ(Seqs(store->get()), Range(1, 610));
  auto v =
      VacuumTable(store->get(), "lake/events", VacuumOptions{.retention = std::chrono::seconds(0)});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->files_deleted, 12);
  EXPECT_EQ(Seqs(store->get()), Range(1, 610));
  // Nothing left to compact in a partition with one small file... until it has two.
  auto again = CompactTable(store->get(), db_.get(), "lake/events", co);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->partitions_compacted, 1) << "date=2026-01-05 got a second file";
  EXPECT_EQ(Seqs(store->get()), Range(1, 610));
}

// Compaction takes the merged file's stats from its inputs' stats (it does not read the file back):
// they equal the stats the writer gives the same rows written as one file, whatever the inputs
// hold (a column with only nulls, a NaN, a string too long for a bound, rows of another day), and
// an input without stats (another writer's) makes it read the file instead.
TEST_F(DeltaTableTest, CompactedFilesHaveTheStatsOfTheirRows) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  struct Row {
    std::string device;
    int64_t ts;
    std::optional<double> speed;
  };
  const std::string kLong = "zz-" + std::string(kMaxStatStringBytes + 5, 'q');
  const std::vector<std::vector<Row>> commits = {
      {{"b", kJan5At23h, 50.5}, {"c", kJan5At23h + kMinute, 51.0}},
      {{"d", kJan5At23h + 2 * kMinute, std::nullopt},
       {"e", kJan5At23h + 3 * kMinute, std::nullopt}},
      {{"a", kJan5At23h + 4 * kMinute, -3.25}, {"f", kJan5At23h + 65 * kMinute, 7.0}},
      {{"g", kJan5At23h + 5 * kMinute, kNaN}, {"h", kJan5At23h + 6 * kMinute, 99.0}},
      {{kLong, kJan5At23h + 7 * kMinute, 1.0}, {"i", kJan5At23h + 66 * kMinute, 2.0}},
  };
  auto batch_of = [](const std::vector<Row>& rows, int64_t* seq) {
    auto b = std::make_unique<RecordBatch>(EventSchema());
    for (const Row& r : rows) {
      b->column(0).AppendString(r.device);
      b->column(1).AppendInt64(r.ts);
      if (r.speed) {
        b->column(2).AppendDouble(*r.speed);
      } else {
        b->column(2).AppendNull();
      }
      b->column(3).AppendInt32(static_cast<int32_t>(*seq % 4));
      b->column(4).AppendInt64((*seq)++);
      b->column(5).AppendBool(*seq % 2 == 0);
    }
    return b;
  };
  auto store = LocalObjectStore::Open(scratch_ / "lake");
  ASSERT_TRUE(store.ok());
  auto stats_by_partition = [&](const std::string& table) {
    std::map<std::string, std::string> out;
    auto snap = DeltaLog(store->get(), table).Load();
    EXPECT_TRUE(snap.ok());
    for (const auto& [path, f] : snap->files) out[path.substr(0, path.rfind('/'))] = f.stats;
    return out;
  };
  // The rows one commit at a time (table "lake/events") and all in one commit ("lake/whole").
  auto t = OpenTable(store->get(), Options());
  auto whole = DeltaTable::Open(store->get(), db_.get(), "lake/whole", EventSchema(), Options());
  ASSERT_TRUE(t && whole.ok());
  int64_t seq = 1, whole_seq = 1;
  for (size_t i = 0; i < commits.size(); ++i) {
    ASSERT_TRUE(t->Append(*batch_of(commits[i], &seq)).ok());
    ASSERT_TRUE(t->Commit("app", static_cast<int64_t>(i) + 1).ok());
    ASSERT_TRUE((*whole)->Append(*batch_of(commits[i], &whole_seq)).ok());
  }
  ASSERT_TRUE((*whole)->Commit("app", 1).ok());
  CompactionOptions co;
  co.scratch_dir = scratch_;
  auto r = CompactTable(store->get(), db_.get(), "lake/events", co);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->partitions_compacted, 2);
  const auto expected = stats_by_partition("lake/whole");
  ASSERT_EQ(expected.size(), 2u);
  EXPECT_EQ(stats_by_partition("lake/events"), expected);
  EXPECT_EQ(expected.begin()->second.find("\"speed\":99"), std::string::npos)
      << "the NaN leaves speed without bounds: " << expected.begin()->second;

  // An input without stats: re-added by "another writer" with none; the stats are read instead.
  ASSERT_TRUE(t->Append(*batch_of({{"j", kJan5At23h + 8 * kMinute, 4.0}}, &seq)).ok());
  ASSERT_TRUE(t->Commit("app", 6).ok());
  ASSERT_TRUE((*whole)->Append(*batch_of({{"j", kJan5At23h + 8 * kMinute, 4.0}}, &whole_seq)).ok());
  ASSERT_TRUE((*whole)->Commit("app", 2).ok());
  DeltaLog log(store->get(), "lake/events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  CommitActions strip;
  for (const auto& [path, f] : snap->files) {
    if (f.stats.find("\"numRecords\":1,") == std::string::npos) continue;
    AddFile bare = f;  // an add of an active path replaces its entry
    bare.stats.clear();
    bare.data_change = false;
    strip.adds.push_back(bare);
  }
  ASSERT_EQ(strip.adds.size(), 1u);
  ASSERT_TRUE(log.WriteCommit(snap->version + 1, strip).ok());
  ASSERT_TRUE(CompactTable(store->get(), db_.get(), "lake/events", co).ok());
  ASSERT_TRUE(CompactTable(store->get(), db_.get(), "lake/whole", co).ok());
  const auto read_back = stats_by_partition("lake/events");
  const auto whole_again = stats_by_partition("lake/whole");
  ASSERT_EQ(read_back.size(), 2u);
  const std::string day = read_back.begin()->first;
  EXPECT_EQ(read_back.at(day), whole_again.at(day));
  EXPECT_EQ(Seqs(store->get()), Range(1, 11));
}

TEST_F(DeltaTableTest, CompactionRetriesWhenAnAppendWinsTheVersion) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&base, Options());
  ASSERT_TRUE(t);
  for (int v = 1; v <= 3; ++v) {
    ASSERT_TRUE(
        t->Append(*MakeEvents(EventSchema(), (v - 1) * 10 + 1, 10, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", v).ok());
  }
  // Right before the compaction's commit, the stream commits batch 4.
  FaultInjectingObjectStore::Rule hook;
  hook.op = Op::kPutIfAbsent;
  hook.key_contains = "_delta_log/";
  hook.error = ErrorKind::kOk;
  hook.on_fire = [&] {
    ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 31, 10, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", 4).ok());
  };
  store.AddRule(hook);
  CompactionOptions co;
  co.scratch_dir = scratch_;
  auto r = CompactTable(&store, db_.get(), "lake/events", co);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->table_version, 5);
  EXPECT_EQ(r->files_removed, 3);
  EXPECT_EQ(Seqs(&base), Range(1, 40)) << "batch 4's file stays; the compacted ones are replaced";
  DeltaLog log(&base, "lake/events");
  EXPECT_EQ(log.Load()->files.size(), 2u) << "1 compacted + 1 from batch 4";
}

TEST_F(DeltaTableTest, ConcurrentCompactionsOfTheSameFilesCommitOnlyOnce) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&base, Options());
  ASSERT_TRUE(t);
  for (int v = 1; v <= 3; ++v) {
    ASSERT_TRUE(
        t->Append(*MakeEvents(EventSchema(), (v - 1) * 10 + 1, 10, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(t->Commit("app", v).ok());
  }
  CompactionOptions co;
  co.scratch_dir = scratch_;
  FaultInjectingObjectStore::Rule hook;
  hook.op = Op::kPutIfAbsent;
  hook.key_contains = "_delta_log/";
  hook.error = ErrorKind::kOk;
  hook.on_fire = [&] { ASSERT_TRUE(CompactTable(&base, db_.get(), "lake/events", co).ok()); };
  store.AddRule(hook);
  auto r = CompactTable(&store, db_.get(), "lake/events", co);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->groups_abandoned, 1);
  EXPECT_EQ(r->files_added, 0);
  EXPECT_EQ(Seqs(&base), Range(1, 30)) << "no row is doubled";
  EXPECT_EQ(DataObjects(&base), 4u) << "3 old (tombstoned) + 1 merged; the loser deleted its file";
}

TEST_F(DeltaTableTest, ListTablesFindsEveryDeltaLog) {
  InMemoryObjectStore store;
  for (const char* name : {"lake/a", "lake/b", "lake/nested/c"}) {
    ASSERT_TRUE(DeltaTable::Open(&store, db_.get(), name, EventSchema(), Options()).ok());
  }
  auto tables = ListTables(&store, "lake");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, (std::vector<std::string>{"lake/a", "lake/b", "lake/nested/c"}));
}

}  // namespace
}  // namespace smartcity::lake
