// Tables upgraded by other engines, as hand-written log JSON in the form Spark (delta-spark 3.2)
// writes it: parsing of the full protocol and of the fields we do not interpret, the protocol
// checks and their one-sentence refusals, checkpoints that keep it all, and compaction leaving
// files with deletion vectors alone.
#include "lake/delta_features.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "lake/compaction.h"
#include "lake/delta_log.h"
#include "testing/files.h"

namespace smartcity::lake {
namespace {

constexpr const char* kSchema =
    R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},)"
    R"({"name":"s","type":"string","nullable":true,"metadata":{"CURRENT_DEFAULT":"'x'"}},)"
    R"({"name":"date","type":"string","nullable":true,"metadata":{}}]})";

std::string MetaDataLine(const std::string& configuration = "{}",
                         const std::string& schema = kSchema) {
  nlohmann::ordered_json md{
      {"id", "ba9ec172-9cfe-4df8-bb06-3d6b0de43c06"},
      {"description", "from spark"},
      {"format", {{"provider", "parquet"}, {"options", nlohmann::json::object()}}},
      {"schemaString", schema},
      {"partitionColumns", {"date"}},
      {"configuration", nlohmann::json::parse(configuration)},
      {"createdTime", 1796504097640}};
  return nlohmann::ordered_json{{"metaData", md}}.dump() + "\n";
}

const std::string kDvAdd =
    R"({"add":{"path":"date=2026-01-05/part-00000-a.c000.snappy.parquet","partitionValues":{"date":"2026-01-05"},)"
    R"("size":768,"modificationTime":1796504105345,"dataChange":true,)"
    R"("stats":"{\"numRecords\":10,\"tightBounds\":false}","tags":{"INSERTION_TIME":"1796504105345000"},)"
    R"("deletionVector":{"storageType":"u","pathOrInlineDv":"?$PQ>y7T5MOu%l]cM^Fn","offset":1,"sizeInBytes":38,"cardinality":3},)"
    R"("baseRowId":7,"defaultRowCommitVersion":2,"clusteringProvider":"liquid"}})"
    "\n";
const std::string kDvRemove =
    R"({"remove":{"path":"date=2026-01-05/part-00000-a.c000.snappy.parquet","deletionTimestamp":1796504163471,)"
    R"("dataChange":true,"extendedFileMetadata":true,"partitionValues":{"date":"2026-01-05"},"size":768,)"
    R"("stats":"{\"numRecords\":10}"}})"
    "\n";

std::string ProtocolLine(int reader, int writer, const std::string& rf, const std::string& wf) {
  std::string s = R"({"protocol":{"minReaderVersion":)" + std::to_string(reader) +
                  R"(,"minWriterVersion":)" + std::to_string(writer);
  if (!rf.empty()) s += R"(,"readerFeatures":)" + rf;
  if (!wf.empty()) s += R"(,"writerFeatures":)" + wf;
  return s + "}}\n";
}

Snapshot SnapshotOf(const std::string& ndjson) {
  auto c = ParseCommit(ndjson);
  EXPECT_TRUE(c.ok()) << c.status().message();
  Snapshot s;
  if (c.ok()) s.Apply(*c, 0);
  return s;
}

Status Check(const std::string& ndjson, TableAccess access) {
  return CheckProtocol(SnapshotOf(ndjson), access, "lake/t");
}

TEST(DeltaFeaturesTest, ParsesAndWritesTheFullProtocol) {
  auto c = ParseCommit(ProtocolLine(3, 7, R"(["deletionVectors"])",
                                    R"(["deletionVectors","appendOnly","invariants"])"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->protocol.has_value());
  EXPECT_EQ(c->protocol->reader_features, std::vector<std::string>{"deletionVectors"});
  EXPECT_EQ(c->protocol->writer_features,
            (std::vector<std::string>{"deletionVectors", "appendOnly", "invariants"}));
  auto again = ParseCommit(SerializeCommit(*c));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->protocol, *c->protocol);
  // Legacy versions carry no lists.
  CommitActions legacy;
  legacy.protocol = Protocol{};
  EXPECT_EQ(SerializeCommit(legacy),
            "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n");
  // Writer features alone (reader version 1): only writerFeatures is written.
  CommitActions wf;
  wf.protocol = Protocol{1, 7, {}, {"allowColumnDefaults"}};
  EXPECT_EQ(SerializeCommit(wf),
            "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":7,\"writerFeatures\":["
            "\"allowColumnDefaults\"]}}\n");
}

TEST(DeltaFeaturesTest, AddKeepsDeletionVectorAndEveryUninterpretedField) {
  auto c = ParseCommit(kDvAdd + kDvRemove);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->adds.size(), 1u);
  const AddFile& a = c->adds[0];
  ASSERT_TRUE(a.deletion_vector.has_value());
  EXPECT_EQ(a.deletion_vector->storage_type, "u");
  EXPECT_EQ(a.deletion_vector->path_or_inline_dv, "?$PQ>y7T5MOu%l]cM^Fn");
  EXPECT_EQ(a.deletion_vector->offset, 1);
  EXPECT_EQ(a.deletion_vector->size_in_bytes, 38);
  EXPECT_EQ(a.deletion_vector->cardinality, 3);
  EXPECT_EQ(a.NumRecords(), 10);
  EXPECT_EQ(a.LiveRecords(), 7);
  // Written back, the add has every field it came with, with the same values.
  auto back = nlohmann::json::parse(SerializeCommit(*c).substr(0, SerializeCommit(*c).find('\n')));
  auto orig = nlohmann::json::parse(kDvAdd);
  EXPECT_EQ(back, orig);
  ASSERT_EQ(c->removes.size(), 1u);
  EXPECT_NE(c->removes[0].extra.find("numRecords"), std::string::npos) << "remove.stats is kept";
  // Spark's DELETE: add and remove of the same path in one commit; the file stays, with its DV.
  Snapshot s = SnapshotOf(kDvAdd + kDvRemove);
  EXPECT_EQ(s.files.size(), 1u);
  EXPECT_EQ(s.files_with_deletion_vectors, 1);
  EXPECT_EQ(s.NumRecords(), 7);
}

TEST(DeltaFeaturesTest, MetadataKeepsFieldMetadataAndUnknownFields) {
  auto c = ParseCommit(MetaDataLine(R"({"delta.enableDeletionVectors":"true"})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const Metadata& m = *c->metadata;
  EXPECT_EQ(m.field_metadata_keys, std::vector<std::string>{"CURRENT_DEFAULT"});
  // A writer adding a column keeps the other fields' metadata and the description.
  Metadata grown = m;
  grown.schema.fields.push_back({"extra", LogicalType::kInt32, true});
  CommitActions w;
  w.metadata = grown;
  auto back = nlohmann::json::parse(SerializeCommit(w));
  EXPECT_EQ(back["metaData"]["description"], "from spark");
  auto schema = nlohmann::json::parse(back["metaData"]["schemaString"].get<std::string>());
  ASSERT_EQ(schema["fields"].size(), 4u);
  EXPECT_EQ(schema["fields"][1]["metadata"]["CURRENT_DEFAULT"], "'x'");
  EXPECT_EQ(schema["fields"][3]["name"], "extra");
}

TEST(DeltaFeaturesTest, SupportedProtocols) {
  const std::string md = MetaDataLine();
  EXPECT_TRUE(Check(ProtocolLine(1, 2, "", "") + md, TableAccess::kWrite).ok());
  // Spark's allowColumnDefaults upgrade.
  EXPECT_TRUE(
      Check(ProtocolLine(1, 7, "", R"(["appendOnly","invariants","allowColumnDefaults"])") + md,
            TableAccess::kWrite)
          .ok());
  // Change data feed, legacy and as a feature; append-only.
  EXPECT_TRUE(
      Check(ProtocolLine(1, 4, "", "") +
                MetaDataLine(R"({"delta.enableChangeDataFeed":"true","delta.appendOnly":"true"})"),
            TableAccess::kWrite)
          .ok());
  // Check-constraint and column-mapping versions with none in use.
  EXPECT_TRUE(Check(ProtocolLine(2, 5, "", "") + md, TableAccess::kWrite).ok());
  // Deletion vectors enabled: everything works while no file has one.
  const std::string dv = ProtocolLine(3, 7, R"(["deletionVectors"])",
                                      R"(["deletionVectors","appendOnly","invariants"])") +
                         md;
  for (TableAccess a : {TableAccess::kRead, TableAccess::kInspect, TableAccess::kWrite}) {
    EXPECT_TRUE(Check(dv, a).ok());
  }
  // With a file that has one: writing and inspecting work, reading as plain Parquet does not.
  EXPECT_TRUE(Check(dv + kDvAdd, TableAccess::kWrite).ok());
  EXPECT_TRUE(Check(dv + kDvAdd, TableAccess::kInspect).ok());
  Status s = Check(dv + kDvAdd, TableAccess::kRead);
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "table lake/t has 1 data files with deletion vectors (rows deleted by another engine), "
            "which smartcity's Parquet readers cannot apply; purge them with Spark (REORG TABLE … "
            "APPLY (PURGE)) or read the table with an engine that applies them");
}

TEST(DeltaFeaturesTest, RefusalsNameTheTableTheFeatureAndWhatToDo) {
  const std::string md = MetaDataLine();
  Status s =
      Check(ProtocolLine(1, 3, "", "") + MetaDataLine(R"({"delta.constraints.pos":"id >= 0"})"),
            TableAccess::kWrite);
  EXPECT_EQ(s.message(),
            "table lake/t has the CHECK constraint pos (id >= 0), which smartcity does not "
            "enforce; drop it (ALTER TABLE … DROP CONSTRAINT pos) or point smartcity at a new "
            "table");
  EXPECT_TRUE(
      Check(ProtocolLine(1, 3, "", "") + MetaDataLine(R"({"delta.constraints.pos":"id >= 0"})"),
            TableAccess::kRead)
          .ok())
      << "a constraint does not stop readers";

  const std::string cm =
      ProtocolLine(2, 5, "", "") + MetaDataLine(R"({"delta.columnMapping.mode":"name"})");
  s = Check(cm, TableAccess::kRead);
  EXPECT_EQ(s.message(),
            "table lake/t uses column mapping (delta.columnMapping.mode = name: data files name "
            "their columns by physical names), which smartcity cannot read; read it with an "
            "engine that supports the feature (e.g. Spark with delta-spark or the deltalake "
            "package)");
  s = Check(cm, TableAccess::kWrite);
  EXPECT_NE(s.message().find("which smartcity cannot write to; write to it with an engine"),
            std::string::npos)
      << s.message();

  s = Check(ProtocolLine(1, 7, "", R"(["rowTracking","domainMetadata"])") + md,
            TableAccess::kWrite);
  EXPECT_EQ(s.message(),
            "table lake/t uses the writer table feature rowTracking, which smartcity cannot write "
            "to; write to it with an engine that supports the feature (e.g. Spark with "
            "delta-spark) or point smartcity at a new table");
  EXPECT_TRUE(Check(ProtocolLine(1, 7, "", R"(["rowTracking"])") + md, TableAccess::kRead).ok())
      << "writer features do not stop readers";

  s = Check(ProtocolLine(3, 7, R"(["v2Checkpoint"])", R"(["v2Checkpoint"])") + md,
            TableAccess::kInspect);
  EXPECT_NE(s.message().find("the reader table feature v2Checkpoint, which smartcity cannot read"),
            std::string::npos)
      << s.message();
  s = Check(ProtocolLine(4, 8, "", "") + md, TableAccess::kRead);
  EXPECT_NE(s.message().find("Delta reader version 4"), std::string::npos) << s.message();
  s = Check(ProtocolLine(1, 8, "", "") + md, TableAccess::kWrite);
  EXPECT_NE(s.message().find("Delta writer version 8"), std::string::npos) << s.message();

  // Generated and identity columns, invariants: refused when in use.
  const std::string gen =
      R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":)"
      R"({"delta.generationExpression":"1"}},{"name":"date","type":"string","nullable":true,"metadata":{}}]})";
  s = Check(ProtocolLine(1, 4, "", "") + MetaDataLine("{}", gen), TableAccess::kWrite);
  EXPECT_NE(s.message().find("generated columns"), std::string::npos) << s.message();
  const std::string ident =
      R"({"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":)"
      R"({"delta.identity.start":1}},{"name":"date","type":"string","nullable":true,"metadata":{}}]})";
  s = Check(ProtocolLine(1, 6, "", "") + MetaDataLine("{}", ident), TableAccess::kWrite);
  EXPECT_NE(s.message().find("identity columns"), std::string::npos) << s.message();
}

TEST(DeltaFeaturesTest, LoadAndUpdateRefuseForTheirAccess) {
  InMemoryObjectStore store;
  ASSERT_TRUE(store
                  .Put("t/_delta_log/00000000000000000000.json",
                       ProtocolLine(1, 2, "", "") + MetaDataLine())
                  .ok());
  DeltaLog reader(&store, "t", TableAccess::kRead), writer(&store, "t", TableAccess::kWrite);
  auto rs = reader.Load();
  auto ws = writer.Load();
  ASSERT_TRUE(rs.ok() && ws.ok());
  // Another engine adds a CHECK constraint: the writer's next Update refuses, the reader goes on.
  ASSERT_TRUE(
      store
          .Put("t/_delta_log/00000000000000000001.json",
               ProtocolLine(1, 3, "", "") + MetaDataLine(R"({"delta.constraints.pos":"id >= 0"})"))
          .ok());
  EXPECT_TRUE(reader.Update(&*rs).ok());
  auto u = writer.Update(&*ws);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("CHECK constraint pos"), std::string::npos);
  EXPECT_FALSE(writer.Load().ok());
}

TEST(DeltaFeaturesTest, CheckpointKeepsFeaturesDeletionVectorsAndTags) {
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  InMemoryObjectStore store;
  DeltaLog log(&store, "t", TableAccess::kWrite);
  const std::string protocol = ProtocolLine(3, 7, R"(["deletionVectors"])",
                                            R"(["deletionVectors","appendOnly","invariants"])");
  ASSERT_TRUE(store.Put(log.CommitKey(0), protocol + MetaDataLine()).ok());
  ASSERT_TRUE(store.Put(log.CommitKey(1), kDvAdd + kDvRemove).ok());
  auto snap = log.Load();
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  test::TempDir scratch("smartcity-lake-test");
  ASSERT_TRUE(log.WriteCheckpoint(*snap, conn->get(), scratch.string()).ok());
  ASSERT_TRUE(store.Delete(log.CommitKey(0)).ok());
  ASSERT_TRUE(store.Delete(log.CommitKey(1)).ok());
  auto from_cp = log.Load(conn->get());
  ASSERT_TRUE(from_cp.ok()) << from_cp.status().message();
  EXPECT_EQ(from_cp->protocol, snap->protocol);
  EXPECT_EQ(from_cp->metadata.schema_string, snap->metadata.schema_string);
  EXPECT_EQ(from_cp->metadata.extra, snap->metadata.extra);
  ASSERT_EQ(from_cp->files.size(), 1u);
  const AddFile& a = from_cp->files.begin()->second;
  const AddFile& b = snap->files.begin()->second;
  EXPECT_EQ(a.deletion_vector, b.deletion_vector);
  EXPECT_EQ(nlohmann::json::parse(a.extra), nlohmann::json::parse(b.extra));
  EXPECT_EQ(from_cp->files_with_deletion_vectors, 1);

  // A field the checkpoint schema has no column for is refused, not dropped.
  Snapshot odd = *snap;
  odd.files.begin()->second.extra = R"({"futureField":1})";
  Status s = log.WriteCheckpoint(odd, conn->get(), scratch.string());
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s.message().find("futureField"), std::string::npos) << s.message();
}

TEST(DeltaFeaturesTest, CompactionLeavesFilesWithDeletionVectorsAlone) {
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  InMemoryObjectStore store;
  const std::string protocol = ProtocolLine(3, 7, R"(["deletionVectors"])",
                                            R"(["deletionVectors","appendOnly","invariants"])");
  ASSERT_TRUE(store.Put("t/_delta_log/00000000000000000000.json", protocol + MetaDataLine()).ok());
  // Two small files of one partition, both with deletion vectors (their data is never read).
  std::string b = kDvAdd;
  b.replace(b.find("part-00000-a"), 12, "part-00001-b");
  ASSERT_TRUE(store.Put("t/_delta_log/00000000000000000001.json", kDvAdd + b).ok());
  auto r = CompactTable(&store, db->get(), "t");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->files_removed, 0);
  EXPECT_EQ(r->table_version, 1) << "nothing committed";
}

}  // namespace
}  // namespace smartcity::lake
