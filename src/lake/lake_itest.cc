// Independent readers (Python deltalake, DuckDB's delta extension, pyarrow over a Python log
// replay) read a table written by this lake writer — partitioned, many commits (so a checkpoint
// exists), a crash with orphan files and its restart, a replayed (skipped) batch, a schema
// evolution and a compaction — and must each find exactly the expected rows and schema.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lake/compaction.h"
#include "lake/delta_table.h"
#include "lake/lake_testutil.h"
#include "testing/files.h"
#include "testing/subprocess.h"

namespace smartcity::lake {
namespace {

namespace fs = std::filesystem;
using testing::EventSchema;
using testing::EventSchemaWithNote;
using testing::kJan5At23h;
using testing::kMinute;
using testing::MakeEvents;

// Runs a command, returns its exit code (-1 if it could not run) and appends its output, stdout
// and stderr interleaved, to `out`.
int RunCommand(const std::vector<std::string>& argv, std::string* out) {
  auto r = test::RunProcess(argv, {.merge_stderr = true, .timeout = std::chrono::minutes(20)});
  if (!r.ok()) {
    *out += r.status().message();
    return -1;
  }
  *out += r->out;
  return r->exit_code;
}

// Keeps a test's directory when the test has failed (what the readers were given, for the failure).
class KeepOnFailure {
 public:
  explicit KeepOnFailure(test::TempDir* dir) : dir_(dir) {}
  ~KeepOnFailure() { dir_->Keep(::testing::Test::HasFailure()); }

 private:
  test::TempDir* dir_;
};

class ExpectedRows {
 public:
  explicit ExpectedRows(const fs::path& path) : out_(path) {}
  void Add(const RecordBatch& b) {
    const bool has_note = b.schema().IndexOf("note") >= 0;
    for (size_t r = 0; r < b.num_rows(); ++r) {
      nlohmann::json j;
      j["deviceId"] = std::string(b.column(0).GetString(r));
      const int64_t ts = b.column(1).GetInt64(r);
      j["ts"] = ts;
      j["speed"] =
          b.column(2).IsNull(r) ? nlohmann::json() : nlohmann::json(b.column(2).GetDouble(r));
      j["lane"] = b.column(3).GetInt32(r);
      j["seq"] = b.column(4).GetInt64(r);
      j["ok"] = b.column(5).IsNull(r) ? nlohmann::json() : nlohmann::json(b.column(5).GetBool(r));
      j["note"] = has_note && !b.column(6).IsNull(r)
                      ? nlohmann::json(std::string(b.column(6).GetString(r)))
                      : nlohmann::json();
      int64_t y;
      unsigned m, d;
      CivilFromDays(ts >= 0 ? ts / 86400000000LL : -((-ts - 1) / 86400000000LL) - 1, &y, &m, &d);
      j["date"] = fmt::format("{:04}-{:02}-{:02}", y, m, d);
      out_ << j.dump() << "\n";
      ++rows_;
    }
  }
  int rows() const { return rows_; }
  void Close() { out_.close(); }

 private:
  std::ofstream out_;
  int rows_ = 0;
};

TEST(LakeReadersITest, DeltaLakeDuckDbAndPyarrowReadExactlyTheCommittedRows) {
  test::TempDir tmp("smartcity-lake-itest");
  KeepOnFailure keep(&tmp);
  const fs::path& dir = tmp.path();
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  auto local = LocalObjectStore::Open(dir / "lake");
  ASSERT_TRUE(local.ok());
  FaultInjectingObjectStore store(local->get());
  TableOptions options;
  options.partitions = {PartitionField::DateOf("ts")};
  options.scratch_dir = dir / "scratch";
  options.checkpoint_interval = 10;
  ExpectedRows expected(dir / "expected.jsonl");

  int64_t seq = 1;
  int64_t batch = 0;
  auto open = [&](std::shared_ptr<const Schema> schema) {
    auto t = DeltaTable::Open(&store, db->get(), "events", std::move(schema), options);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return std::move(*t);
  };
  auto append_and_commit = [&](DeltaTable* t, const std::shared_ptr<const Schema>& schema, int n,
                               bool record) {
    auto b = MakeEvents(schema, seq, n, kJan5At23h + seq * kMinute / 2, kMinute);
    ASSERT_TRUE(t->Append(*b).ok());
    auto r = t->Commit("stream-app", ++batch);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_FALSE(r->skipped);
    if (record) expected.Add(*b);
    seq += n;
  };

  {
    auto t = open(EventSchema());
    for (int i = 0; i < 5; ++i) append_and_commit(t.get(), EventSchema(), 70, true);
    // A crash between writing batch 6's data files and committing it...
    auto b6 = MakeEvents(EventSchema(), seq, 70, kJan5At23h + seq * kMinute / 2, kMinute);
    ASSERT_TRUE(t->Append(*b6).ok());
    FaultInjectingObjectStore::Rule crash;
    crash.op = FaultInjectingObjectStore::Op::kPutIfAbsent;
    crash.key_contains = "_delta_log/";
    crash.crash = true;
    crash.error = ErrorKind::kAborted;
    store.AddRule(crash);
    ASSERT_FALSE(t->Commit("stream-app", batch + 1).ok());
  }
  store.Revive();
  {
    // ... and the restart replays it (its orphans stay on disk, invisible).
    auto t = open(EventSchema());
    ASSERT_EQ(*t->TxnVersion("stream-app"), batch);
    append_and_commit(t.get(), EventSchema(), 70, true);
    // A replayed batch that was already committed is skipped.
    auto dup = MakeEvents(EventSchema(), seq - 70, 70, kJan5At23h, kMinute);
    ASSERT_TRUE(t->Append(*dup).ok());
    auto r = t->Commit("stream-app", batch);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->skipped);
  }
  {
    // Schema evolution: a nullable `note` column from now on.
    auto t = open(EventSchemaWithNote());
    for (int i = 0; i < 6; ++i) append_and_commit(t.get(), EventSchemaWithNote(), 40, true);
  }
  CompactionOptions co;
  co.scratch_dir = dir / "scratch";
  auto compacted = CompactTable(local->get(), db->get(), "events", co);
  ASSERT_TRUE(compacted.ok()) << compacted.status().message();
  ASSERT_GT(compacted->files_removed, 2);
  {
    auto t = open(EventSchemaWithNote());
    append_and_commit(t.get(), EventSchemaWithNote(), 25, true);
  }
  expected.Close();

  DeltaLog log(local->get(), "events");
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  ASSERT_TRUE(fs::exists(dir / "lake/events/_delta_log/_last_checkpoint"))
      << "a checkpoint was written";
  EXPECT_EQ(snap->NumRecords(), expected.rows());

  std::string out;
  // pyenv.sh installs the readers (idempotent) into the venv whose python it names.
  ASSERT_EQ(RunCommand({std::string(SMARTCITY_SOURCE_DIR) + "/scripts/pyenv.sh"}, &out), 0) << out;
  const std::string python = std::string(SMARTCITY_SOURCE_DIR) + "/.cache/venv/bin/python";
  out.clear();
  const int rc =
      RunCommand({python, std::string(SMARTCITY_SOURCE_DIR) + "/src/lake/independent_readers.py",
                  (dir / "lake/events").string(), (dir / "expected.jsonl").string(),
                  std::to_string(snap->version), std::to_string(snap->files.size())},
                 &out);
  std::printf("%s", out.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("readers: 3 passed, 0 failed"), std::string::npos) << out;
}

TEST(LakeCompactCommandITest, SmartcityCompactMergesSmallFilesAndVacuumDeletesTheOldOnes) {
  test::TempDir tmp("smartcity-compact-itest");
  KeepOnFailure keep(&tmp);
  const fs::path& dir = tmp.path();
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  auto store = LocalObjectStore::Open(dir / "lake");
  ASSERT_TRUE(store.ok());
  TableOptions options;
  options.partitions = {PartitionField::DateOf("ts")};
  options.scratch_dir = dir / "scratch";
  for (const char* name : {"vehicle_data", "gps_data"}) {
    auto t = DeltaTable::Open(store->get(), db->get(), name, EventSchema(), options);
    ASSERT_TRUE(t.ok()) << t.status().message();
    for (int e = 1; e <= 4; ++e) {
      ASSERT_TRUE(
          (*t)->Append(*MakeEvents(EventSchema(), (e - 1) * 30 + 1, 30, kJan5At23h, kMinute)).ok());
      ASSERT_TRUE((*t)->Commit("app", e).ok());
    }
  }
  const std::string smartcity = std::string(SMARTCITY_BINARY_DIR) + "/src/cli/smartcity";
  std::string out;
  ASSERT_EQ(RunCommand({smartcity, "compact", "--lake", (dir / "lake").string(), "--table",
                        "vehicle_data"},
                       &out),
            0)
      << out;
  EXPECT_NE(
      out.find(
          "vehicle_data: 4 small files in 1 partitions -> 1 files, 120 rows rewritten, version 5"),
      std::string::npos)
      << out;
  out.clear();
  // Every table by default; vehicle_data has nothing left to merge.
  ASSERT_EQ(RunCommand({smartcity, "compact", "--lake", (dir / "lake").string(), "--vacuum",
                        "--retention", "0s"},
                       &out),
            0)
      << out;
  EXPECT_NE(out.find("gps_data: 4 small files"), std::string::npos) << out;
  EXPECT_NE(out.find("vehicle_data: nothing to compact"), std::string::npos) << out;
  EXPECT_NE(out.find("vehicle_data: deleted 4 unreferenced data files"), std::string::npos) << out;
  EXPECT_NE(out.find("gps_data: deleted 4 unreferenced data files"), std::string::npos) << out;
  for (const char* name : {"vehicle_data", "gps_data"}) {
    EXPECT_EQ(testing::ReadSeqs(store->get(), db->get(), name), testing::Range(1, 120)) << name;
  }
  out.clear();
  EXPECT_EQ(RunCommand({smartcity, "compact", "--lake", (dir / "missing").string()}, &out), 2)
      << out;
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
}

}  // namespace
}  // namespace smartcity::lake
