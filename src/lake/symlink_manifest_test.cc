// Symlink manifests (issue 18): written from the whole snapshot, rewritten by the writer after
// every commit and by compaction when the table property asks for it, never failing a commit, kept
// by vacuum, and switched on for a table with a running writer by EnableSymlinkManifest.
#include "lake/symlink_manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "lake/compaction.h"
#include "lake/delta_table.h"
#include "lake/lake_testutil.h"
#include "testing/files.h"

namespace smartcity::lake {
namespace {

namespace fs = std::filesystem;
using testing::CommitEvents;
using testing::EventSchema;
using testing::kJan5At23h;
using testing::kMinute;
using testing::MakeEvents;
using testing::Range;
using testing::ReadSeqs;
using Op = FaultInjectingObjectStore::Op;

constexpr const char* kTable = "lake/events";

class SymlinkManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = LocalObjectStore::Open(tmp_.path() / "root");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    auto db = engine::Database::Open("", WriterDatabaseOptions());
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }
  TableOptions Options(bool manifests) {
    TableOptions o;
    o.partitions = {PartitionField::DateOf("ts")};
    o.scratch_dir = tmp_.path();
    if (manifests) o.configuration[std::string(kSymlinkManifestProperty)] = "true";
    return o;
  }
  std::unique_ptr<DeltaTable> OpenTable(ObjectStore* store, bool manifests) {
    auto t = DeltaTable::Open(store, db_.get(), kTable, EventSchema(), Options(manifests));
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? std::move(*t) : nullptr;
  }
  fs::path ManifestDir() const { return tmp_.path() / "root" / kTable / kSymlinkManifestDir; }
  // Partition folder ("date=2026-01-05") -> the URIs its manifest lists.
  std::map<std::string, std::set<std::string>> Manifests() const {
    std::map<std::string, std::set<std::string>> out;
    if (!fs::exists(ManifestDir())) return out;
    for (const auto& e : fs::recursive_directory_iterator(ManifestDir())) {
      if (!e.is_regular_file()) continue;
      EXPECT_EQ(e.path().filename(), "manifest");
      std::string part = fs::relative(e.path().parent_path(), ManifestDir()).string();
      if (part == ".") part.clear();
      std::ifstream in(e.path());
      std::set<std::string>& uris = out[part];
      for (std::string line; std::getline(in, line);) uris.insert(line);
    }
    return out;
  }
  // What the manifests must be: the active files of the table's latest snapshot (a fresh log
  // replay), by partition folder.
  std::map<std::string, std::set<std::string>> WantedFromLog() {
    DeltaLog log(store_.get(), kTable);
    auto snap = log.Load();
    EXPECT_TRUE(snap.ok());
    std::map<std::string, std::set<std::string>> out;
    for (const auto& [path, add] : snap->files) {
      out[ManifestPartitionDir(snap->metadata.partition_columns, add.partition_values)].insert(
          "file://" + (tmp_.path() / "root" / kTable / path).string());
    }
    return out;
  }
  int64_t LogVersion() {
    auto snap = DeltaLog(store_.get(), kTable).Load();
    EXPECT_TRUE(snap.ok());
    return snap.ok() ? snap->version : -2;
  }

  ::smartcity::test::TempDir tmp_{"symlink_manifest_test"};
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<engine::Database> db_;
};

TEST_F(SymlinkManifestTest, WriterRewritesThemAfterEveryCommitAndCompaction) {
  auto t = OpenTable(store_.get(), true);
  ASSERT_NE(t, nullptr);
  // Four commits across two dates: several small files per partition.
  for (int i = 0; i < 4; ++i) {
    CommitResult r = CommitEvents(t.get(), 1 + 30 * i, 30, kJan5At23h + 30 * i * kMinute, i + 1);
    EXPECT_TRUE(r.manifest_error.empty()) << r.manifest_error;
    auto want = WantedFromLog();
    EXPECT_EQ(Manifests(), want) << "after commit " << i + 1;
  }
  EXPECT_EQ(Manifests().size(), 2u);  // date=2026-01-05, date=2026-01-06
  std::set<std::string> before;
  for (const auto& [part, uris] : Manifests()) before.insert(uris.begin(), uris.end());

  // A compaction replaces the small files: the manifests name only the merged ones.
  CompactionOptions co;
  co.scratch_dir = tmp_.path();
  co.small_file_bytes = 1 << 30;
  auto c = CompactTable(store_.get(), db_.get(), kTable, co);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_GT(c->files_removed, 0);
  EXPECT_TRUE(c->manifest_error.empty()) << c->manifest_error;
  auto now = Manifests();
  EXPECT_EQ(now, WantedFromLog());
  for (const auto& [part, uris] : now) {
    for (const std::string& u : uris) EXPECT_EQ(before.count(u), 0u) << u << " was compacted away";
  }

  // Vacuum deletes the replaced files but keeps the manifests, whose files all exist.
  VacuumOptions vo;
  vo.retention = std::chrono::seconds(0);
  auto v = VacuumTable(store_.get(), kTable, vo);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_GT(v->files_deleted, 0);
  for (const std::string& key : v->deleted) {
    EXPECT_EQ(key.find(kSymlinkManifestDir), std::string::npos) << key;
  }
  EXPECT_EQ(Manifests(), now);
  for (const auto& [part, uris] : now) {
    for (const std::string& u : uris) EXPECT_TRUE(fs::exists(u.substr(7))) << u;
  }
  EXPECT_EQ(ReadSeqs(store_.get(), db_.get(), kTable), Range(1, 120));
}

TEST_F(SymlinkManifestTest, NoPropertyNoManifests) {
  auto t = OpenTable(store_.get(), false);
  ASSERT_NE(t, nullptr);
  CommitEvents(t.get(), 1, 60, kJan5At23h, 1);
  EXPECT_FALSE(fs::exists(ManifestDir()));
}

TEST_F(SymlinkManifestTest, AManifestFailureNeverFailsOrRepeatsTheCommitAndTheNextCommitRetries) {
  FaultInjectingObjectStore faulty(store_.get());
  auto t = OpenTable(&faulty, true);
  ASSERT_NE(t, nullptr);
  CommitEvents(t.get(), 1, 30, kJan5At23h, 1);
  const int64_t v1 = LogVersion();
  FaultInjectingObjectStore::Rule rule;
  rule.op = Op::kPut;
  rule.key_contains = std::string(kSymlinkManifestDir);
  rule.times = -1;
  faulty.AddRule(rule);
  CommitResult r = CommitEvents(t.get(), 31, 30, kJan5At23h + 30 * kMinute, 2);
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(r.table_version, v1 + 1);
  EXPECT_FALSE(r.manifest_error.empty());
  EXPECT_EQ(LogVersion(), v1 + 1);          // committed once
  EXPECT_NE(Manifests(), WantedFromLog());  // stale: the manifest write failed
  faulty.ClearRules();
  r = CommitEvents(t.get(), 61, 60, kJan5At23h + 60 * kMinute, 3);
  EXPECT_TRUE(r.manifest_error.empty()) << r.manifest_error;
  EXPECT_EQ(Manifests(), WantedFromLog());
  EXPECT_EQ(ReadSeqs(store_.get(), db_.get(), kTable), Range(1, 120));
}

TEST_F(SymlinkManifestTest, EnableSetsThePropertyOnceAndARunningWriterKeepsThemCurrent) {
  auto t = OpenTable(store_.get(), false);
  ASSERT_NE(t, nullptr);
  CommitEvents(t.get(), 1, 60, kJan5At23h, 1);
  const int64_t v1 = LogVersion();
  auto conn = db_->Connect();
  ASSERT_TRUE(conn.ok());
  bool enabled_now = false;
  auto m = EnableSymlinkManifest(store_.get(), kTable, conn->get(), &enabled_now);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(enabled_now);
  EXPECT_EQ(m->version, v1 + 1);  // one metadata-only commit
  EXPECT_EQ(Manifests(), WantedFromLog());
  auto snap = DeltaLog(store_.get(), kTable).Load();
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(SymlinkManifestEnabled(snap->metadata));
  EXPECT_EQ(snap->metadata.schema.fields.size(), 7u);  // the schema is kept as it was
  // Again: nothing to commit, the manifests are refreshed.
  m = EnableSymlinkManifest(store_.get(), kTable, conn->get(), &enabled_now);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(enabled_now);
  EXPECT_EQ(LogVersion(), v1 + 1);
  // The writer opened before the property was set sees it in the log and maintains them.
  CommitResult r = CommitEvents(t.get(), 61, 60, kJan5At23h + 60 * kMinute, 2);
  EXPECT_TRUE(r.manifest_error.empty());
  EXPECT_EQ(Manifests(), WantedFromLog());
  EXPECT_EQ(ReadSeqs(store_.get(), db_.get(), kTable), Range(1, 120));
}

// A commit rewrites only the manifests of the partitions it added files to, unless the writer's
// last manifest write was not of the version just before (its first commit, another writer's
// commit in between): then all of them.
TEST_F(SymlinkManifestTest, ACommitRewritesOnlyItsPartitionsUnlessAnotherCommitCameBetween) {
  FaultInjectingObjectStore counting(store_.get());
  int puts = 0;
  FaultInjectingObjectStore::Rule rule;
  rule.op = Op::kPut;
  rule.key_contains = std::string(kSymlinkManifestDir);
  rule.times = -1;
  rule.error = ErrorKind::kOk;
  rule.on_fire = [&] { ++puts; };
  counting.AddRule(rule);
  const int64_t jan6 = kJan5At23h + 60 * kMinute;
  auto a = OpenTable(&counting, true);
  ASSERT_NE(a, nullptr);
  CommitEvents(a.get(), 1, 120, kJan5At23h, 1);  // both dates, the writer's first commit
  EXPECT_EQ(puts, 2);
  puts = 0;
  CommitEvents(a.get(), 121, 10, jan6 + 60 * kMinute, 2);  // 2026-01-06 only
  EXPECT_EQ(puts, 1);
  EXPECT_EQ(Manifests(), WantedFromLog());
  // Another writer commits to 2026-01-05 (its first commit: every manifest).
  auto b = DeltaTable::Open(&counting, db_.get(), kTable, EventSchema(), Options(true));
  ASSERT_TRUE(b.ok());
  puts = 0;
  ASSERT_TRUE((*b)->Append(*MakeEvents(EventSchema(), 131, 10, kJan5At23h, kMinute), "b").ok());
  ASSERT_TRUE((*b)->Commit("b", 1).ok());
  EXPECT_EQ(puts, 2);
  // The first writer's next commit follows one it did not write the manifests for: all again.
  puts = 0;
  CommitEvents(a.get(), 141, 10, jan6 + 120 * kMinute, 3);
  EXPECT_EQ(puts, 2);
  EXPECT_EQ(Manifests(), WantedFromLog());
  EXPECT_EQ(ReadSeqs(store_.get(), db_.get(), kTable), Range(1, 150));
}

TEST(SymlinkManifest, PropertyAndPartitionFolders) {
  Metadata m;
  EXPECT_FALSE(SymlinkManifestEnabled(m));
  m.configuration[std::string(kSymlinkManifestProperty)] = "TRUE";
  EXPECT_TRUE(SymlinkManifestEnabled(m));
  m.configuration[std::string(kSymlinkManifestProperty)] = "false";
  EXPECT_FALSE(SymlinkManifestEnabled(m));
  EXPECT_EQ(ManifestPartitionDir({"date", "k"}, {{"date", "2026-01-05"}, {"k", "a:b"}}),
            "date=2026-01-05/k=a%3Ab");
  EXPECT_EQ(ManifestPartitionDir({"k"}, {{"k", std::nullopt}}), "k=__HIVE_DEFAULT_PARTITION__");
  EXPECT_EQ(ManifestPartitionDir({}, {}), "");
}

}  // namespace
}  // namespace smartcity::lake
