// Iceberg metadata beside the Delta log (issue 23): the Avro container round trip, every commit
// and compaction mirrored with the live file set, a crash between the Delta and the Iceberg commit
// healed by the next writer, and lost put-if-absent races.
#include "lake/iceberg.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lake/avro_file.h"
#include "lake/compaction.h"
#include "lake/delta_table.h"
#include "lake/lake_testutil.h"
#include "testing/files.h"

namespace smartcity::lake {
namespace {

using nlohmann::json;
using testing::CommitEvents;
using testing::EventSchema;
using testing::kJan5At23h;
using testing::kMinute;
using testing::MakeEvents;
using Op = FaultInjectingObjectStore::Op;

constexpr const char* kTable = "lake/events";

std::string DaysOf(const std::string& date) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  EXPECT_EQ(std::sscanf(date.c_str(), "%d-%u-%u", &y, &m, &d), 3);
  const std::chrono::sys_days days{std::chrono::year(y) / std::chrono::month(m) /
                                   std::chrono::day(d)};
  return std::to_string(days.time_since_epoch().count());
}

TEST(AvroFileTest, RoundTripsRecordsAndHeaderMetadata) {
  AvroFile f;
  f.schema_json = R"({"type":"record","name":"r","fields":[
    {"name":"a","type":"long","field-id":1},
    {"name":"b","type":["null","string"],"default":null,"field-id":2},
    {"name":"c","type":{"type":"array","items":"bytes","element-id":4},"field-id":3},
    {"name":"d","type":"boolean","field-id":5}]})";
  f.meta = {{"format-version", "2"}, {"schema", "{}"}};
  f.records = {
      {{"a", 1}, {"b", "x"}, {"c", json::array({std::string("\x01\x02", 2)})}, {"d", true}},
      {{"a", -5000000000LL}, {"b", nullptr}, {"c", json::array()}, {"d", false}}};
  auto bytes = EncodeAvroFile(f);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto back = DecodeAvroFile(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  // The schema is written as given: Iceberg's field ids survive.
  EXPECT_EQ(back->schema_json, f.schema_json);
  EXPECT_EQ(back->meta, f.meta);
  ASSERT_EQ(back->records.size(), 2u);
  EXPECT_EQ(back->records[0], f.records[0]);
  EXPECT_EQ(back->records[1], f.records[1]);

  EXPECT_EQ(DecodeAvroFile("not avro").status().kind(), ErrorKind::kCorruption);
  AvroFile bad = f;
  bad.records = {{{"a", "not a number"}}};
  EXPECT_EQ(EncodeAvroFile(bad).status().kind(), ErrorKind::kInvalidArgument);
}

TEST(IcebergSchemaTest, FieldIdsFollowTheDeltaSchemaOrder) {
  DeltaSchema s;
  s.fields = {{"id", LogicalType::kString, false},
              {"ts", LogicalType::kTimestamp, true},
              {"n", LogicalType::kInt64, true},
              {"date", LogicalType::kString, false}};
  auto f = IcebergFieldsOf(s, {"date"});
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].id, 1);
  EXPECT_TRUE(f[0].required);
  EXPECT_EQ(f[1].id, 2);
  EXPECT_EQ(IcebergTypeName(f[1].type), "timestamptz");
  EXPECT_FALSE(f[1].required);
  EXPECT_EQ(f[3].id, 4);
  EXPECT_EQ(f[3].name, "date");
  EXPECT_FALSE(f[3].required);  // a partition column: readers fill it from the partition tuple
}

class IcebergTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = engine::Database::Open("", WriterDatabaseOptions());
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }
  TableOptions Options(bool iceberg) {
    TableOptions o;
    o.partitions = {PartitionField::DateOf("ts")};
    o.scratch_dir = tmp_.path();
    o.iceberg = iceberg;
    return o;
  }
  std::unique_ptr<DeltaTable> OpenTable(ObjectStore* store, bool iceberg) {
    auto t = DeltaTable::Open(store, db_.get(), kTable, EventSchema(), Options(iceberg));
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? std::move(*t) : nullptr;
  }
  // The Delta snapshot at `version` (replayed from the JSON commits).
  Snapshot DeltaAt(ObjectStore* store, int64_t version) {
    DeltaLog log(store, kTable);
    Snapshot s;
    for (int64_t v = 0; v <= version; ++v) {
      auto c = log.ReadCommit(v);
      EXPECT_TRUE(c.ok()) << c.status().message();
      if (c.ok()) s.Apply(*c, v);
    }
    return s;
  }
  json Metadata(ObjectStore* store) {
    auto st = LoadIcebergState(store, kTable);
    EXPECT_TRUE(st.ok()) << st.status().message();
    return st.ok() && st->metadata_version > 0 ? json::parse(st->metadata_json) : json();
  }
  // The live entries of the current Iceberg snapshot, by file path (in memory: the object key).
  std::map<std::string, IcebergDataFile> IcebergFiles(ObjectStore* store) {
    std::map<std::string, IcebergDataFile> out;
    json md = Metadata(store);
    const int64_t current = md["current-snapshot-id"].get<int64_t>();
    for (const json& s : md["snapshots"]) {
      if (s["snapshot-id"] != current) continue;
      auto list = store->Get(s["manifest-list"].get<std::string>());
      EXPECT_TRUE(list.ok());
      auto manifests = ReadIcebergManifestList(*list);
      EXPECT_TRUE(manifests.ok()) << manifests.status().message();
      for (const IcebergManifest& m : *manifests) {
        auto bytes = store->Get(m.path);
        EXPECT_TRUE(bytes.ok());
        EXPECT_EQ(m.length, static_cast<int64_t>(bytes->size()));
        auto entries = ReadIcebergManifest(*bytes);
        EXPECT_TRUE(entries.ok()) << entries.status().message();
        for (IcebergDataFile& f : *entries) {
          if (f.status == 1) {
            EXPECT_FALSE(f.snapshot_id.has_value());
            f.snapshot_id = m.added_snapshot_id;
          }
          if (f.status != 2) out[f.path] = f;
        }
      }
    }
    return out;
  }
  // The Iceberg snapshot lists exactly the Delta snapshot's files, with their partitions and
  // record counts, and says which Delta version it mirrors.
  void ExpectMirrors(ObjectStore* store, const Snapshot& delta) {
    auto st = LoadIcebergState(store, kTable);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->delta_version, delta.version);
    auto files = IcebergFiles(store);
    std::set<std::string> want;
    std::set<std::string> got;
    for (const auto& [path, f] : delta.files) {
      const std::string key = std::string(kTable) + "/" + path;
      want.insert(key);
      auto it = files.find(key);
      if (it == files.end()) continue;
      EXPECT_EQ(it->second.record_count, f.NumRecords());
      EXPECT_EQ(it->second.file_size, f.size);
      // The test table's partition column is a Delta date: Iceberg's tuple holds days since 1970.
      PartitionValues want_partition;
      for (const auto& [k, v] : f.partition_values) want_partition[k] = v ? DaysOf(*v) : v;
      EXPECT_EQ(it->second.partition, want_partition);
    }
    for (const auto& [path, f] : files) got.insert(path);
    EXPECT_EQ(got, want);
  }

  ::smartcity::test::TempDir tmp_;
  std::unique_ptr<engine::Database> db_;
};

TEST_F(IcebergTest, EveryCommitIsMirroredWithTheLiveFiles) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, true);
  ASSERT_TRUE(t);
  // The empty table at its creation is mirrored too (metadata v1, no snapshot files).
  ExpectMirrors(&store, t->snapshot());
  CommitResult r1 = CommitEvents(t.get(), 1, 90, kJan5At23h, 1);  // two dates
  EXPECT_EQ(r1.iceberg_error, "");
  ExpectMirrors(&store, t->snapshot());
  CommitResult r2 = CommitEvents(t.get(), 91, 30, kJan5At23h + 90 * kMinute, 2);
  ExpectMirrors(&store, t->snapshot());

  json md = Metadata(&store);
  EXPECT_EQ(md["format-version"], 2);
  EXPECT_EQ(md["table-uuid"], t->snapshot().metadata.id);
  EXPECT_EQ(md["last-sequence-number"], 3);
  ASSERT_EQ(md["snapshots"].size(), 3u);
  const json& last = md["snapshots"][2];
  EXPECT_EQ(last["snapshot-id"], r2.table_version + 1);
  EXPECT_EQ(last["parent-snapshot-id"], r1.table_version + 1);
  EXPECT_EQ(last["summary"]["operation"], "append");
  EXPECT_EQ(last["summary"]["added-data-files"], std::to_string(r2.files_added));
  EXPECT_EQ(last["summary"]["added-records"], "30");
  EXPECT_EQ(last["summary"]["total-records"], "120");
  EXPECT_EQ(last["summary"][std::string(kIcebergDeltaVersionKey)],
            std::to_string(r2.table_version));
  // Files of the first commit are carried over as existing, with the snapshot that added them.
  int from_first = 0;
  for (const auto& [path, f] : IcebergFiles(&store)) {
    if (f.status == 0) {
      EXPECT_EQ(f.snapshot_id, r1.table_version + 1);
      EXPECT_EQ(f.sequence_number, 2);
      ++from_first;
    } else {
      EXPECT_EQ(f.snapshot_id, r2.table_version + 1);
    }
  }
  EXPECT_EQ(from_first, r1.files_added);
  // Schema: the Delta schema with ids in its order; identity partition on the date column.
  const json& fields = md["schemas"][0]["fields"];
  const DeltaSchema& ds = t->delta_schema();
  ASSERT_EQ(fields.size(), ds.fields.size());
  for (size_t i = 0; i < ds.fields.size(); ++i) {
    EXPECT_EQ(fields[i]["id"], i + 1);
    EXPECT_EQ(fields[i]["name"], ds.fields[i].name);
    EXPECT_EQ(fields[i]["type"], std::string(IcebergTypeName(ds.fields[i].type)));
  }
  const json& spec = md["partition-specs"][0]["fields"][0];
  EXPECT_EQ(spec["transform"], "identity");
  EXPECT_EQ(spec["source-id"], ds.IndexOf("date") + 1);
  EXPECT_EQ(spec["field-id"], 1000);
  EXPECT_TRUE(md["properties"].contains("schema.name-mapping.default"));
  auto hint = store.Get(std::string(kTable) + "/metadata/version-hint.text");
  ASSERT_TRUE(hint.ok());
  EXPECT_EQ(*hint, "3");
}

TEST_F(IcebergTest, CompactionIsMirroredAsAReplace) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, true);
  ASSERT_TRUE(t);
  for (int e = 1; e <= 3; ++e) CommitEvents(t.get(), e * 10, 10, kJan5At23h - 3 * 3600000000LL, e);
  CompactionOptions co;
  co.scratch_dir = tmp_.path();
  auto c = CompactTable(&store, db_.get(), kTable, co);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->files_removed, 3);
  EXPECT_EQ(c->iceberg_error, "");
  DeltaLog log(&store, kTable);
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok());
  ExpectMirrors(&store, *snap);
  json md = Metadata(&store);
  const json& summary = md["snapshots"].back()["summary"];
  EXPECT_EQ(summary["operation"], "replace");
  EXPECT_EQ(summary["deleted-data-files"], "3");
  EXPECT_EQ(summary["deleted-records"], "30");
  EXPECT_EQ(summary["added-records"], "30");
  EXPECT_EQ(summary["total-records"], "30");
}

// Every data file, a writer's or a compaction's, with Iceberg on or not, carries each column's
// Iceberg field id as its Parquet field id.
TEST_F(IcebergTest, DataFilesCarryTheFieldIdsOfTheIcebergSchema) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, false);
  ASSERT_TRUE(t);
  for (int e = 1; e <= 3; ++e) CommitEvents(t.get(), e * 10, 10, kJan5At23h - 3 * 3600000000LL, e);
  auto conn = db_->Connect();
  ASSERT_TRUE(conn.ok());
  // Field ids of the live files: {column: id} per file.
  auto ids_of_live_files = [&] {
    std::vector<std::map<std::string, int64_t>> out;
    DeltaLog log(&store, kTable);
    auto snap = log.Load();
    EXPECT_TRUE(snap.ok());
    for (const auto& [path, f] : snap->files) {
      auto bytes = store.Get(std::string(kTable) + "/" + path);
      EXPECT_TRUE(bytes.ok());
      const std::string local = (tmp_.path() / "read.parquet").string();
      std::FILE* fp = std::fopen(local.c_str(), "wb");
      EXPECT_EQ(std::fwrite(bytes->data(), 1, bytes->size(), fp), bytes->size());
      std::fclose(fp);
      auto r = (*conn)->Query("SELECT name, field_id FROM parquet_schema(" +
                              engine::QuoteLiteral(local) + ") WHERE num_children IS NULL");
      EXPECT_TRUE(r.ok()) << r.status().message();
      std::map<std::string, int64_t> ids;
      for (size_t i = 0; i < r->row_count(); ++i)
        ids[r->GetString(0, i)] = r->IsNull(1, i) ? -1 : r->GetInt64(1, i);
      out.push_back(ids);
    }
    return out;
  };
  // The Iceberg schema's ids of the columns in the data files (the partition column is not).
  std::map<std::string, int64_t> want;
  for (const IcebergField& f : IcebergFieldsOf(t->delta_schema(), {"date"}))
    if (f.name != "date") want[f.name] = f.id;
  auto written = ids_of_live_files();
  ASSERT_EQ(written.size(), 3u);
  for (const auto& ids : written) EXPECT_EQ(ids, want);

  CompactionOptions co;
  co.scratch_dir = tmp_.path();
  auto c = CompactTable(&store, db_.get(), kTable, co);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->files_removed, 3);
  auto compacted = ids_of_live_files();
  ASSERT_EQ(compacted.size(), 1u);
  EXPECT_EQ(compacted[0], want);
}

TEST_F(IcebergTest, ACrashBetweenTheDeltaAndTheIcebergCommitIsHealedByTheNextWriter) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&store, true);
  ASSERT_TRUE(t);
  CommitEvents(t.get(), 1, 10, kJan5At23h, 1);
  // The process dies right after the Delta commit of epoch 2: before its Iceberg manifest.
  FaultInjectingObjectStore::Rule crash;
  crash.op = Op::kPut;
  crash.key_contains = "/metadata/";
  crash.crash = true;
  store.AddRule(crash);
  ASSERT_TRUE(t->Append(*MakeEvents(EventSchema(), 11, 10, kJan5At23h, kMinute)).ok());
  auto r = t->Commit("app", 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->iceberg_error, "");
  t.reset();
  store.Revive();
  store.ClearRules();
  auto lagging = LoadIcebergState(&base, kTable);
  ASSERT_TRUE(lagging.ok());
  EXPECT_EQ(lagging->delta_version, 1);
  // The restarted writer (even one not asked for Iceberg: the table has it) heals it at open.
  auto t2 = OpenTable(&store, false);
  ASSERT_TRUE(t2);
  EXPECT_EQ(t2->snapshot().version, 2);
  ExpectMirrors(&base, t2->snapshot());
  // And keeps it in step afterwards.
  CommitEvents(t2.get(), 21, 10, kJan5At23h, 3);
  ExpectMirrors(&base, t2->snapshot());
}

TEST_F(IcebergTest, ACrashAfterTheMetadataPutBeforeTheHintIsFoundByProbing) {
  InMemoryObjectStore base;
  FaultInjectingObjectStore store(&base);
  auto t = OpenTable(&store, true);
  ASSERT_TRUE(t);
  FaultInjectingObjectStore::Rule crash;
  crash.op = Op::kPut;
  crash.key_contains = "version-hint.text";
  crash.crash = true;
  store.AddRule(crash);
  CommitEvents(t.get(), 1, 10, kJan5At23h, 1);
  t.reset();
  store.Revive();
  store.ClearRules();
  auto hint = base.Get(std::string(kTable) + "/metadata/version-hint.text");
  ASSERT_TRUE(hint.ok());
  EXPECT_EQ(*hint, "1");  // still the version of the creation
  ExpectMirrors(&base, DeltaAt(&base, 1));
}

TEST_F(IcebergTest, ALostPutIfAbsentRaceReloadsAndRetriesOrGivesWay) {
  InMemoryObjectStore base;
  auto t = OpenTable(&base, false);
  ASSERT_TRUE(t);
  for (int e = 1; e <= 3; ++e) CommitEvents(t.get(), e * 10, 10, kJan5At23h, e);
  const Snapshot s1 = DeltaAt(&base, 1);
  const Snapshot s2 = DeltaAt(&base, 2);
  const Snapshot s3 = DeltaAt(&base, 3);
  ASSERT_TRUE(MirrorToIceberg(&base, kTable, s1).ok());

  // Another writer commits metadata v2 (Delta version 2) just before we put v2 for version 3: we
  // lose, reload and commit v3.
  FaultInjectingObjectStore store(&base);
  FaultInjectingObjectStore::Rule race;
  race.op = Op::kPutIfAbsent;
  race.key_contains = "v2.metadata.json";
  race.error = ErrorKind::kOk;
  race.on_fire = [&] { ASSERT_TRUE(MirrorToIceberg(&base, kTable, s2).ok()); };
  store.AddRule(race);
  auto r = MirrorToIceberg(&store, kTable, s3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->written);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->metadata_version, 3);
  EXPECT_EQ(r->files_added, 1);
  ExpectMirrors(&base, s3);
  // The loser's manifest and manifest list were deleted: only the three snapshots' remain.
  auto listed = base.List(std::string(kTable) + "/metadata/");
  ASSERT_TRUE(listed.ok());
  int avro = 0;
  for (const ObjectInfo& o : *listed) avro += o.key.ends_with(".avro") ? 1 : 0;
  EXPECT_EQ(avro, 6);

  // A writer mirroring an older version than the winner's gives way.
  store.ClearRules();
  auto older = MirrorToIceberg(&store, kTable, s2);
  ASSERT_TRUE(older.ok());
  EXPECT_FALSE(older->written);
  EXPECT_EQ(older->delta_version, 3);
}

TEST_F(IcebergTest, VacuumDeletesTheMetadataFilesNoLongerReferenced) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, true);
  ASSERT_TRUE(t);
  const int commits = kIcebergSnapshotsKept + 5;
  for (int e = 1; e <= commits; ++e) CommitEvents(t.get(), e * 10, 10, kJan5At23h, e);
  auto count = [&] {
    auto listed = store.List(std::string(kTable) + "/metadata/");
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? static_cast<int>(listed->size()) : -1;
  };
  // Per commit (and the creation): a metadata file, a manifest list and a manifest; and the hint.
  EXPECT_EQ(count(), 3 * (commits + 1) + 1);
  VacuumOptions vo;
  vo.retention = std::chrono::seconds(3600);
  auto young = VacuumTable(&store, kTable, vo);
  ASSERT_TRUE(young.ok()) << young.status().message();
  EXPECT_EQ(young->iceberg_files_deleted, 0);  // all younger than the retention

  vo.retention = std::chrono::seconds(0);
  auto old = VacuumTable(&store, kTable, vo);
  ASSERT_TRUE(old.ok()) << old.status().message();
  // Kept: the kept snapshots' lists and manifests, the newest metadata file and its metadata-log.
  EXPECT_EQ(count(), 2 * kIcebergSnapshotsKept + (kIcebergSnapshotsKept + 1) + 1);
  EXPECT_EQ(old->iceberg_files_deleted, 3 * (commits + 1) + 1 - count());
  ExpectMirrors(&store, t->snapshot());
  // Every snapshot the metadata keeps can still be read.
  json md = Metadata(&store);
  for (const json& s : md["snapshots"]) {
    auto list = store.Get(s["manifest-list"].get<std::string>());
    ASSERT_TRUE(list.ok()) << s.dump();
    auto manifests = ReadIcebergManifestList(*list);
    ASSERT_TRUE(manifests.ok());
    for (const IcebergManifest& m : *manifests) EXPECT_TRUE(store.Head(m.path).ok()) << m.path;
  }
  // And the next commit goes on from there.
  CommitEvents(t.get(), 1000, 10, kJan5At23h, commits + 1);
  ExpectMirrors(&store, t->snapshot());
}

TEST_F(IcebergTest, TablesWithoutTheOptionGetNoIcebergMetadata) {
  InMemoryObjectStore store;
  auto t = OpenTable(&store, false);
  ASSERT_TRUE(t);
  CommitEvents(t.get(), 1, 10, kJan5At23h, 1);
  auto has = HasIcebergMetadata(&store, kTable);
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(*has);
  auto listed = store.List(std::string(kTable) + "/metadata/");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace smartcity::lake
