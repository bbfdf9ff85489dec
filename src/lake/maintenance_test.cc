// Table maintenance while a stream writes: log clean-up keeps the log bounded and the snapshot
// (txn versions included) intact, vacuum honours its retention from the moment a file was
// replaced, a writer whose snapshot the clean-up overtook reloads instead of resurrecting a deleted
// version, and a crash at any store call of a maintenance step leaves the table readable with the
// same rows. All on a FakeClock and an in-memory store.
#include <gtest/gtest.h>

#include <filesystem>

#include "lake/compaction.h"
#include "lake/delta_table.h"
#include "lake/lake_testutil.h"
#include "testing/files.h"

namespace smartcity::lake {
namespace {

using testing::EventSchema;
using testing::kJan5At23h;
using testing::kMinute;
using testing::MakeEvents;
using testing::Range;
using testing::ReadSeqs;
using Op = FaultInjectingObjectStore::Op;
using When = FaultInjectingObjectStore::When;

constexpr const char* kTable = "lake/events";

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = engine::Database::Open("", WriterDatabaseOptions());
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }

  TableOptions Options() {
    TableOptions o;
    o.partitions = {PartitionField::DateOf("ts")};
    o.scratch_dir = tmp_.path();
    return o;
  }
  std::unique_ptr<DeltaTable> OpenTable(ObjectStore* store) {
    auto t = DeltaTable::Open(store, db_.get(), kTable, EventSchema(), Options());
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? std::move(*t) : nullptr;
  }
  // Objects of the in-memory store carry the real time they were written; the fake clock runs
  // behind it. Gives every object newer than the fake "now" that time, as if written just now.
  void Stamp(InMemoryObjectStore* store) {
    const auto now = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            clock_.WallNow().time_since_epoch()));
    auto all = store->List("");
    ASSERT_TRUE(all.ok());
    for (const ObjectInfo& o : *all) {
      if (o.modified > now) store->SetModified(o.key, now);
    }
  }
  // Commits epochs [first, last] of app "app", 10 rows each, one minute of fake time apart.
  void CommitEpochs(DeltaTable* t, InMemoryObjectStore* base, int64_t first, int64_t last) {
    for (int64_t e = first; e <= last; ++e) {
      ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), (e - 1) * 10 + 1, 10,
                                        kJan5At23h + (e - 1) * kMinute, kMinute / 10))
                      .ok());
      auto r = t->Commit("app", e);
      ASSERT_TRUE(r.ok()) << r.status().message();
      Stamp(base);
      clock_.Advance(std::chrono::minutes(1));
    }
  }
  size_t LogObjects(ObjectStore* store) {
    auto l = store->List(std::string(kTable) + "/_delta_log/");
    EXPECT_TRUE(l.ok());
    return l->size();
  }
  // Every file the table's snapshot references exists, and every data file in the store that it
  // does not reference is invisible to readers (they read only the log's files).
  void ExpectReferencedFilesExist(ObjectStore* store) {
    auto conn = db_->Connect();
    ASSERT_TRUE(conn.ok());
    DeltaLog log(store, kTable);
    auto snap = log.Load(conn->get());
    ASSERT_TRUE(snap.ok()) << snap.status().message();
    for (const auto& [path, f] : snap->files) {
      EXPECT_TRUE(store->Head(log.KeyPrefix() + path).ok()) << "dangling reference " << path;
    }
  }

  std::unique_ptr<engine::Database> db_;
  test::TempDir tmp_{"smartcity-maintenance-test"};
  FakeClock clock_;
};

TEST_F(MaintenanceTest, LogCleanupKeepsTheSnapshotAndTheTxnVersions) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store);
  ASSERT_TRUE(t);
  CommitEpochs(t.get(), &store, 1, 35);
  const size_t before = LogObjects(&store);
  auto conn = db_->Connect();
  ASSERT_TRUE(conn.ok());
  DeltaLog log(&store, kTable);
  auto expected = log.Load(conn->get());
  ASSERT_TRUE(expected.ok());

  // Nothing is older than the retention yet.
  auto none = CleanupLog(&store, kTable, std::chrono::hours(1), &clock_);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->commits_deleted, 0);
  EXPECT_EQ(LogObjects(&store), before);

  clock_.Advance(std::chrono::hours(2));
  auto cleaned = CleanupLog(&store, kTable, std::chrono::hours(1), &clock_);
  ASSERT_TRUE(cleaned.ok()) << cleaned.status().message();
  EXPECT_EQ(cleaned->checkpoint_version, 30);
  EXPECT_EQ(cleaned->commits_deleted, 30);     // 0..29
  EXPECT_EQ(cleaned->checkpoints_deleted, 2);  // 10, 20
  EXPECT_EQ(LogObjects(&store), 6u /*30..35*/ + 1 /*checkpoint 30*/ + 1 /*_last_checkpoint*/);

  // A fresh reader sees the same table, txn versions included.
  auto after = DeltaLog(&store, kTable).Load(conn->get());
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->version, expected->version);
  EXPECT_EQ(after->app_txns, expected->app_txns);
  EXPECT_EQ(after->TxnVersion("app"), 35);
  EXPECT_EQ(after->files.size(), expected->files.size());
  EXPECT_EQ(ReadSeqs(&store, db_.get(), kTable), Range(1, 350));
  // A reader without a database cannot use the checkpoint: it says so instead of reading less.
  auto json_only = DeltaLog(&store, kTable).Load();
  ASSERT_FALSE(json_only.ok());
  EXPECT_EQ(json_only.status().kind(), ErrorKind::kCorruption);

  // A restarted writer still knows epoch 35 is in: replaying it changes nothing.
  t.reset();
  auto restarted = OpenTable(&store);
  ASSERT_TRUE(restarted);
  ASSERT_TRUE(restarted->Append(*MakeEvents(EventSchema(), 341, 10, kJan5At23h, kMinute)).ok());
  auto replay = restarted->Commit("app", 35);
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_TRUE(replay->skipped);
  CommitEpochs(restarted.get(), &store, 36, 36);
  EXPECT_EQ(ReadSeqs(&store, db_.get(), kTable), Range(1, 360));
}

TEST_F(MaintenanceTest, LogObjectsAreBoundedByTheRetentionNotTheRunLength) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store);
  ASSERT_TRUE(t);
  size_t most = 0;
  for (int64_t e = 1; e <= 300; e += 10) {
    CommitEpochs(t.get(), &store, e, e + 9);  // 10 minutes of fake time
    auto r = CleanupLog(&store, kTable, std::chrono::minutes(30), &clock_);
    ASSERT_TRUE(r.ok()) << r.status().message();
    most = std::max(most, LogObjects(&store));
  }
  // 30 minutes of commits (one a minute) + the 10 before the expired checkpoint + checkpoints.
  EXPECT_LE(most, 30u + 10 + 5 + 1) << "the log grows with the run";
  auto conn = db_->Connect();
  ASSERT_TRUE(conn.ok());
  auto snap = DeltaLog(&store, kTable).Load(conn->get());
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->version, 300);
  EXPECT_EQ(snap->TxnVersion("app"), 300);
  EXPECT_EQ(ReadSeqs(&store, db_.get(), kTable), Range(1, 3000));
}

TEST_F(MaintenanceTest, LogCleanupKeepsWhatAReaderHasNotReadYet) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store);
  ASSERT_TRUE(t);
  CommitEpochs(t.get(), &store, 1, 60);  // an hour of commits, a checkpoint every 10
  // A reader (a warehouse loader) has read up to version 15: commits 16.. stay, although the
  // retention would let the log start at a checkpoint after them.
  auto r = CleanupLog(&store, kTable, std::chrono::minutes(5), &clock_, int64_t{15});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_LE(r->checkpoint_version, 16);
  for (int64_t v = 16; v <= 60; ++v) {
    EXPECT_TRUE(store.Head(DeltaLog(&store, kTable).CommitKey(v)).ok()) << v;
  }
  // Without it, the retention alone decides.
  r = CleanupLog(&store, kTable, std::chrono::minutes(5), &clock_);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->checkpoint_version, 16);
  EXPECT_FALSE(store.Head(DeltaLog(&store, kTable).CommitKey(16)).ok());
  EXPECT_EQ(ReadSeqs(&store, db_.get(), kTable), Range(1, 600));
}

TEST_F(MaintenanceTest, AWriterWhoseSnapshotWasCleanedUpReloadsInsteadOfReusingAVersion) {
  InMemoryObjectStore store;
  auto idle = OpenTable(&store);
  ASSERT_TRUE(idle);
  CommitEpochs(idle.get(), &store, 1, 1);  // idle's snapshot: version 1
  auto busy = OpenTable(&store);
  ASSERT_TRUE(busy);
  for (int64_t e = 1; e <= 25; ++e) {
    ASSERT_TRUE(busy->Append(*MakeEvents(EventSchema(), 1000 + e, 1, kJan5At23h, kMinute)).ok());
    ASSERT_TRUE(busy->Commit("other", e).ok());
    Stamp(&store);
  }
  clock_.Advance(std::chrono::hours(2));
  auto cleaned = CleanupLog(&store, kTable, std::chrono::hours(1), &clock_);
  ASSERT_TRUE(cleaned.ok());
  ASSERT_EQ(cleaned->checkpoint_version, 20);
  // Version 2 is gone from the log; writing it again would be invisible to every reader.
  CommitEpochs(idle.get(), &store, 2, 2);
  EXPECT_EQ(idle->snapshot().version, 27);
  std::vector<int64_t> want = Range(1, 20);
  for (int64_t e = 1; e <= 25; ++e) want.push_back(1000 + e);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ReadSeqs(&store, db_.get(), kTable), want);
}

TEST_F(MaintenanceTest, VacuumKeepsReplacedFilesForTheRetentionAfterTheReplacement) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store);
  ASSERT_TRUE(t);
  CommitEpochs(t.get(), &store, 1, 3);
  clock_.Advance(std::chrono::hours(2));  // the three files are old now...
  CompactionOptions co;
  co.scratch_dir = tmp_.path();
  co.clock = &clock_;
  auto c = CompactTable(&store, db_.get(), kTable, co);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->files_removed, 3);
  Stamp(&store);
  // ... but were replaced just now: a reader on the snapshot before may still read them.
  VacuumOptions vo{.retention = std::chrono::hours(1), .clock = &clock_, .db = db_.get()};
  auto v = VacuumTable(&store, kTable, vo);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->files_deleted, 0);
  clock_.Advance(std::chrono::minutes(61));
  v = VacuumTable(&store, kTable, vo);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->files_deleted, 3);
  EXPECT_EQ(ReadSeqs(&store, db_.get(), kTable), Range(1, 30));
}

// Kills the store at every call of one maintenance step, before or after the call; then the
// restarted process (a revived store) must read the same rows, reference no missing file, and
// finish the step, after which vacuum leaves no unreferenced data file.
TEST_F(MaintenanceTest, CrashAtEveryStoreCallOfAMaintenanceStep) {
  enum class Step { kCompact, kCleanup, kVacuum };
  for (Step step : {Step::kCompact, Step::kCleanup, Step::kVacuum}) {
    for (int nth = 1;; ++nth) {
      bool fired = false;
      for (When when : {When::kBefore, When::kAfter}) {
        SCOPED_TRACE("step " + std::to_string(static_cast<int>(step)) + " call " +
                     std::to_string(nth) + (when == When::kAfter ? " after" : " before"));
        InMemoryObjectStore base;
        {
          auto t = OpenTable(&base);
          ASSERT_TRUE(t);
          CommitEpochs(t.get(), &base, 1, 12);
        }
        CompactionOptions co;
        co.scratch_dir = tmp_.path();
        co.clock = &clock_;
        VacuumOptions vo{.retention = std::chrono::hours(1), .clock = &clock_, .db = db_.get()};
        if (step != Step::kCompact) {
          ASSERT_TRUE(CompactTable(&base, db_.get(), kTable, co).ok());
          Stamp(&base);
        }
        clock_.Advance(std::chrono::hours(2));
        FaultInjectingObjectStore store(&base);
        FaultInjectingObjectStore::Rule rule;
        rule.nth = nth;
        rule.crash = true;
        rule.when = when;
        // Reads are crash points too, but only writes can leave anything behind.
        store.AddRule(rule);
        Status s;
        switch (step) {
          case Step::kCompact:
            s = CompactTable(&store, db_.get(), kTable, co).status();
            break;
          case Step::kCleanup:
            s = CleanupLog(&store, kTable, std::chrono::hours(1), &clock_).status();
            break;
          case Step::kVacuum:
            s = VacuumTable(&store, kTable, vo).status();
            break;
        }
        if (!store.crashed()) {
          ASSERT_TRUE(s.ok()) << s.message();
          continue;  // the step needs fewer calls than nth
        }
        fired = true;
        store.ClearRules();
        store.Revive();
        Stamp(&base);
        EXPECT_EQ(ReadSeqs(&base, db_.get(), kTable), Range(1, 120));
        ExpectReferencedFilesExist(&base);
        // The restarted process: a writer still exactly once, maintenance runs to its end.
        auto t = OpenTable(&base);
        ASSERT_TRUE(t);
        ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 111, 10, kJan5At23h, kMinute)).ok());
        auto replay = t->Commit("app", 12);
        ASSERT_TRUE(replay.ok()) << replay.status().message();
        EXPECT_TRUE(replay->skipped);
        ASSERT_TRUE(CompactTable(&base, db_.get(), kTable, co).ok());
        Stamp(&base);
        clock_.Advance(std::chrono::hours(2));
        ASSERT_TRUE(CleanupLog(&base, kTable, std::chrono::hours(1), &clock_).ok());
        ASSERT_TRUE(VacuumTable(&base, kTable, vo).ok());
        EXPECT_EQ(ReadSeqs(&base, db_.get(), kTable), Range(1, 120));
        ExpectReferencedFilesExist(&base);
        auto conn = db_->Connect();
        ASSERT_TRUE(conn.ok());
        auto snap = DeltaLog(&base, kTable).Load(conn->get());
        ASSERT_TRUE(snap.ok());
        auto objects = base.List(std::string(kTable) + "/");
        ASSERT_TRUE(objects.ok());
        size_t data = 0;
        for (const ObjectInfo& o : *objects)
          data += o.key.find("/_delta_log/") == std::string::npos;
        EXPECT_EQ(data, snap->files.size()) << "vacuum left unreferenced data files";
      }
      if (!fired) break;  // past the step's last call
    }
  }
}

}  // namespace
}  // namespace smartcity::lake
