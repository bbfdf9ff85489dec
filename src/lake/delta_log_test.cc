#include "lake/delta_log.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "lake/parquet_writer.h"
#include "testing/files.h"

namespace smartcity::lake {
namespace {

CommitActions SampleCommit() {
  CommitActions c;
  CommitInfo ci;
  ci.timestamp_ms = 1767607200000;
  ci.operation = "STREAMING UPDATE";
  ci.operation_parameters = {{"epochId", "3"}};
  ci.is_blind_append = true;
  ci.txn_id = "t-1";
  c.commit_info = ci;
  c.protocol = Protocol{};
  Metadata md;
  md.id = NewUuid();
  md.schema.fields = {{"deviceId", LogicalType::kString, false},
                      {"ts", LogicalType::kTimestamp, false},
                      {"speed", LogicalType::kDouble, true},
                      {"date", LogicalType::kDate, false}};
  md.partition_columns = {"date"};
  md.configuration = {{"delta.appendOnly", "true"}};
  md.created_time_ms = 1767607200000;
  c.metadata = md;
  c.txns = {Txn{"stream-1", 3, 1767607200001}};
  AddFile a;
  a.path = "date=2026-01-05/part-00000-x y.c000.zstd.parquet";
  a.partition_values = {{"date", "2026-01-05"}};
  a.size = 1234;
  a.modification_time_ms = 1767607200002;
  a.stats = R"({"numRecords":42,"minValues":{},"maxValues":{},"nullCount":{}})";
  c.adds = {a};
  RemoveFile r;
  r.path = "date=2026-01-04/old.parquet";
  r.deletion_timestamp_ms = 5;
  r.data_change = false;
  r.partition_values = {{"date", std::nullopt}};
  r.size = 9;
  c.removes = {r};
  return c;
}

TEST(DeltaLogTest, CommitRoundTripsThroughNdjson) {
  CommitActions c = SampleCommit();
  std::string text = SerializeCommit(c);
  // One action per line, each a JSON object with one key.
  size_t lines = 0;
  for (char ch : text) lines += ch == '\n';
  EXPECT_EQ(lines, 6u);
  EXPECT_NE(text.find(R"("path":"date=2026-01-05/part-00000-x%20y.c000.zstd.parquet")"),
            std::string::npos)
      << "paths are URI-encoded in the log";
  EXPECT_NE(text.find(R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})"),
            std::string::npos);
  auto back = ParseCommit(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->adds.at(0).path, c.adds[0].path);
  EXPECT_EQ(back->adds.at(0).NumRecords(), 42);
  EXPECT_EQ(back->adds.at(0).partition_values, c.adds[0].partition_values);
  EXPECT_EQ(back->removes.at(0).partition_values.at("date"), std::nullopt);
  EXPECT_FALSE(back->removes.at(0).data_change);
  EXPECT_EQ(back->metadata->schema, c.metadata->schema);
  EXPECT_EQ(back->metadata->partition_columns, c.metadata->partition_columns);
  EXPECT_EQ(back->metadata->configuration, c.metadata->configuration);
  EXPECT_EQ(back->txns.at(0).app_id, "stream-1");
  EXPECT_EQ(back->txns.at(0).version, 3);
  EXPECT_EQ(back->commit_info->operation, "STREAMING UPDATE");
}

TEST(DeltaLogTest, SchemaStringIsSparkStructTypeJson) {
  DeltaSchema s;
  s.fields = {{"a", LogicalType::kInt32, true}, {"b", LogicalType::kBool, false}};
  auto j = nlohmann::json::parse(SchemaToJson(s));
  EXPECT_EQ(j["type"], "struct");
  EXPECT_EQ(j["fields"][0]["name"], "a");
  EXPECT_EQ(j["fields"][0]["type"], "integer");
  EXPECT_EQ(j["fields"][1]["nullable"], false);
  EXPECT_TRUE(j["fields"][1]["metadata"].is_object());
  EXPECT_EQ(*SchemaFromJson(SchemaToJson(s)), s);
  auto nested = SchemaFromJson(
      R"({"type":"struct","fields":[{"name":"m","type":{"type":"map"},"nullable":true,"metadata":{}}]})");
  EXPECT_EQ(nested.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(ParseDeltaType("decimal(10,2)").status().kind(), ErrorKind::kInvalidArgument);
}

// The Delta edge both ways: every LogicalType has a Delta name that parses back to it, and a
// schemaString of all of them reads back equal.
TEST(DeltaLogTest, EveryLogicalTypeRoundTripsThroughItsDeltaName) {
  const std::map<LogicalType, std::string_view> names = {{LogicalType::kString, "string"},
                                                         {LogicalType::kInt32, "integer"},
                                                         {LogicalType::kInt64, "long"},
                                                         {LogicalType::kDouble, "double"},
                                                         {LogicalType::kTimestamp, "timestamp"},
                                                         {LogicalType::kBool, "boolean"},
                                                         {LogicalType::kDate, "date"}};
  DeltaSchema all;
  for (LogicalType t : kAllLogicalTypes) {
    EXPECT_EQ(DeltaTypeName(t), names.at(t));
    auto parsed = ParseDeltaType(DeltaTypeName(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, t);
    all.fields.push_back({std::string(LogicalTypeName(t)), t, true});
  }
  EXPECT_EQ(*SchemaFromJson(SchemaToJson(all)), all);
  EXPECT_EQ(ParseDeltaType("timestamp_ntz").status().kind(), ErrorKind::kInvalidArgument);
}

TEST(DeltaLogTest, ParserIgnoresUnknownActionsAndRejectsGarbage) {
  auto c = ParseCommit(
      "{\"domainMetadata\":{\"domain\":\"x\"}}\n\n{\"add\":{\"path\":\"a%3Ab.parquet\","
      "\"partitionValues\":{},"
      "\"size\":1,\"modificationTime\":2,\"dataChange\":true,\"futureField\":7}}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->adds.at(0).path, "a:b.parquet");
  EXPECT_EQ(ParseCommit("{not json}\n").status().kind(), ErrorKind::kCorruption);
}

TEST(DeltaLogTest, PathAndPartitionEscaping) {
  EXPECT_EQ(EncodePath("date=2026-01-05/part-0.parquet"), "date=2026-01-05/part-0.parquet");
  EXPECT_EQ(EncodePath("ts=2026-01-05 10%3A00/p.parquet"), "ts=2026-01-05%2010%253A00/p.parquet");
  EXPECT_EQ(*DecodePath("ts=2026-01-05%2010%253A00/p.parquet"), "ts=2026-01-05 10%3A00/p.parquet");
  EXPECT_FALSE(DecodePath("bad%2").ok());
  EXPECT_EQ(EscapePartitionValue(std::string("10:00/x")), "10%3A00%2Fx");
  EXPECT_EQ(EscapePartitionValue(std::nullopt), "__HIVE_DEFAULT_PARTITION__");
  EXPECT_EQ(EscapePartitionValue(std::string("")), "__HIVE_DEFAULT_PARTITION__");
}

TEST(DeltaLogTest, WriteCommitIsPutIfAbsentAndLoadReplays) {
  InMemoryObjectStore store;
  DeltaLog log(&store, "lake/t");
  auto empty = log.Load();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->exists());

  CommitActions c0 = SampleCommit();
  c0.adds.clear();
  c0.removes.clear();
  ASSERT_TRUE(log.WriteCommit(0, c0).ok());
  EXPECT_EQ(log.WriteCommit(0, c0).kind(), ErrorKind::kAlreadyExists)
      << "a version is written once";
  EXPECT_TRUE(store.Head("lake/t/_delta_log/00000000000000000000.json").ok());

  CommitActions c1;
  c1.adds = SampleCommit().adds;
  c1.txns = {Txn{"stream-1", 4, 1}};
  ASSERT_TRUE(log.WriteCommit(1, c1).ok());
  CommitActions c2;
  RemoveFile r;
  r.path = c1.adds[0].path;
  c2.removes = {r};
  AddFile other = c1.adds[0];
  other.path = "date=2026-01-05/merged.parquet";
  c2.adds = {other};
  ASSERT_TRUE(log.WriteCommit(2, c2).ok());

  auto snap = log.Load();
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  EXPECT_EQ(snap->version, 2);
  ASSERT_EQ(snap->files.size(), 1u);
  EXPECT_EQ(snap->files.begin()->first, "date=2026-01-05/merged.parquet");
  EXPECT_EQ(snap->TxnVersion("stream-1"), 4);
  EXPECT_EQ(snap->TxnVersion("other"), std::nullopt);
  EXPECT_EQ(snap->metadata.partition_columns, std::vector<std::string>{"date"});
  EXPECT_EQ(snap->NumRecords(), 42);

  // Update reads only what is new.
  Snapshot old = *snap;
  auto none = log.Update(&old);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
}

TEST(DeltaLogTest, LoadReportsAGapInTheLog) {
  InMemoryObjectStore store;
  DeltaLog log(&store, "t");
  ASSERT_TRUE(
      store.Put("t/_delta_log/00000000000000000003.json", SerializeCommit(SampleCommit())).ok());
  EXPECT_EQ(log.Load().status().kind(), ErrorKind::kCorruption);
}

TEST(DeltaLogTest, CheckpointReproducesTheSnapshot) {
  auto db = engine::Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  InMemoryObjectStore store;
  DeltaLog log(&store, "t");
  CommitActions c0 = SampleCommit();
  c0.adds.clear();
  c0.removes.clear();
  ASSERT_TRUE(log.WriteCommit(0, c0).ok());
  for (int v = 1; v <= 12; ++v) {
    CommitActions c;
    AddFile a = SampleCommit().adds[0];
    a.path = "date=2026-01-05/part-" + std::to_string(v) + ".parquet";
    a.partition_values = {
        {"date", v % 2 ? std::optional<std::string>("2026-01-05") : std::nullopt}};
    c.adds = {a};
    c.txns = {Txn{"app", v, 100 + v}};
    if (v == 6) c.removes = {RemoveFile{"date=2026-01-05/part-2.parquet", 1, false, {}, 0, {}, {}}};
    ASSERT_TRUE(log.WriteCommit(v, c).ok());
  }
  auto replayed = log.Load();
  ASSERT_TRUE(replayed.ok());
  test::TempDir scratch("smartcity-lake-test");
  ASSERT_TRUE(log.WriteCheckpoint(*replayed, conn->get(), scratch.string()).ok());
  EXPECT_TRUE(store.Head("t/_delta_log/00000000000000000012.checkpoint.parquet").ok());
  EXPECT_TRUE(store.Head("t/_delta_log/_last_checkpoint").ok());
  // One more commit after the checkpoint.
  CommitActions c13;
  c13.txns = {Txn{"app", 13, 113}};
  ASSERT_TRUE(log.WriteCommit(13, c13).ok());
  // Remove the early JSON commits: only the checkpoint can now explain the table.
  for (int v = 0; v <= 12; ++v) ASSERT_TRUE(store.Delete(log.CommitKey(v)).ok());
  auto from_cp = log.Load(conn->get());
  ASSERT_TRUE(from_cp.ok()) << from_cp.status().message();
  EXPECT_EQ(from_cp->version, 13);
  EXPECT_EQ(from_cp->TxnVersion("app"), 13);
  ASSERT_EQ(from_cp->files.size(), replayed->files.size());
  for (const auto& [path, f] : replayed->files) {
    ASSERT_EQ(from_cp->files.count(path), 1u) << path;
    const AddFile& g = from_cp->files.at(path);
    EXPECT_EQ(g.partition_values, f.partition_values) << path;
    EXPECT_EQ(g.size, f.size);
    EXPECT_EQ(g.stats, f.stats);
  }
  EXPECT_EQ(from_cp->metadata.schema, replayed->metadata.schema);
  EXPECT_EQ(from_cp->metadata.id, replayed->metadata.id);
  EXPECT_EQ(from_cp->metadata.configuration, replayed->metadata.configuration);
}

TEST(ParquetStatsTest, MinMaxNullCountPerColumn) {
  auto schema = std::make_shared<Schema>();
  schema->columns = {{"s", LogicalType::kString, true}, {"i", LogicalType::kInt32, false},
                     {"d", LogicalType::kDouble, true}, {"t", LogicalType::kTimestamp, false},
                     {"b", LogicalType::kBool, true},   {"long", LogicalType::kString, false}};
  RecordBatch b(schema);
  b.column(0).AppendString("m");
  b.column(0).AppendNull();
  b.column(0).AppendString("a");
  for (int v : {5, -3, 9}) b.column(1).AppendInt32(v);
  b.column(2).AppendDouble(1.5);
  b.column(2).AppendDouble(std::nan(""));
  b.column(2).AppendNull();
  b.column(3).AppendInt64(1767607200000500LL);  // .000500
  b.column(3).AppendInt64(1767607200123001LL);  // .123001
  b.column(3).AppendInt64(1767607200001000LL);
  b.column(4).AppendNull();
  b.column(4).AppendNull();
  b.column(4).AppendNull();
  for (int k = 0; k < 3; ++k) b.column(5).AppendString(std::string(40, static_cast<char>('a' + k)));
  std::vector<int> cols{0, 1, 2, 3, 4, 5};
  FileStats st = ComputeStats(b, cols, 0, 3);
  auto j = nlohmann::json::parse(st.ToDeltaJson());
  EXPECT_EQ(j["numRecords"], 3);
  EXPECT_EQ(j["minValues"]["s"], "a");
  EXPECT_EQ(j["maxValues"]["s"], "m");
  EXPECT_EQ(j["nullCount"]["s"], 1);
  EXPECT_EQ(j["minValues"]["i"], -3);
  EXPECT_EQ(j["maxValues"]["i"], 9);
  EXPECT_FALSE(j["minValues"].contains("d")) << "NaN: no bounds";
  EXPECT_EQ(j["nullCount"]["d"], 1);
  EXPECT_EQ(j["minValues"]["t"], "2026-01-05T10:00:00.000Z")
      << "min rounds down to the millisecond";
  EXPECT_EQ(j["maxValues"]["t"], "2026-01-05T10:00:00.124Z") << "max rounds up";
  EXPECT_FALSE(j["minValues"].contains("b"));
  EXPECT_EQ(j["nullCount"]["b"], 3);
  EXPECT_EQ(j["minValues"]["long"], std::string(32, 'a')) << "long strings: a truncated min";
  EXPECT_FALSE(j["maxValues"].contains("long")) << "and no max";
}

// Statistics of rows spread over several batches are those of the same rows in one batch, for
// every type: a column null in one part and not in another, a NaN or a too-long string in a later
// part, bounds found in different parts.
TEST(ParquetStatsTest, RowsOfSeveralBatchesHaveTheStatsOfOneBatch) {
  auto schema = std::make_shared<Schema>();
  schema->columns = {{"s", LogicalType::kString, true},    {"i", LogicalType::kInt32, true},
                     {"dt", LogicalType::kDate, true},     {"n", LogicalType::kInt64, true},
                     {"t", LogicalType::kTimestamp, true}, {"d", LogicalType::kDouble, true},
                     {"b", LogicalType::kBool, true},      {"nan", LogicalType::kDouble, true},
                     {"long", LogicalType::kString, true}, {"none", LogicalType::kInt64, true}};
  RecordBatch whole(schema);
  const size_t n = 300;
  for (size_t r = 0; r < n; ++r) {
    const auto v = static_cast<int64_t>((r * 7919) % 1000);
    auto col = [&](size_t c) -> Column& { return whole.column(c); };
    if (r < 100 || r % 5 == 0) {
      col(0).AppendNull();  // the first part has no string at all
    } else {
      col(0).AppendString("k" + std::to_string(v));
    }
    for (size_t c = 1; c <= 6; ++c) {
      if (r % 9 == c) {
        col(c).AppendNull();
        continue;
      }
      switch (c) {
        case 1:
          col(c).AppendInt32(static_cast<int32_t>(v) - 500);
          break;
        case 2:
          col(c).AppendDate(static_cast<int32_t>(20000 + v));
          break;
        case 3:
          col(c).AppendInt64(v * 1000003 - 7);
          break;
        case 4:
          col(c).AppendInt64(1767607200000000LL + v * 1001);
          break;
        case 5:
          col(c).AppendDouble(static_cast<double>(v) / 3 - 50);
          break;
        case 6:
          col(c).AppendBool(v % 3 == 0 && r > 150);
          break;
      }
    }
    col(7).AppendDouble(r == 250 ? std::nan("") : 1.0);
    col(8).AppendString(r == 280 ? std::string(40, 'z') : "short");
    col(9).AppendNull();
  }
  std::vector<int> cols{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const FileStats expected = ComputeStats(whole, cols, 20, 290);
  std::vector<RecordBatch> parts;
  for (auto [b, e] : {std::pair<size_t, size_t>{0, 100}, {100, 101}, {101, 260}, {260, n}}) {
    parts.emplace_back(schema);
    parts.back().AppendRows(whole, b, e);
  }
  const std::vector<RowRange> ranges{{&parts[0], 20, 100},
                                     {&parts[1], 0, 1},
                                     {&parts[2], 0, 0},
                                     {&parts[2], 0, 159},
                                     {&parts[3], 0, 30}};
  const FileStats got = ComputeStats(ranges, cols);
  EXPECT_EQ(got.ToDeltaJson(), expected.ToDeltaJson());
  auto j = nlohmann::json::parse(got.ToDeltaJson());
  EXPECT_EQ(j["numRecords"], 270);
  EXPECT_TRUE(j["minValues"].contains("s"));  // found past the first part
  EXPECT_FALSE(j["minValues"].contains("nan"));
  EXPECT_FALSE(j["maxValues"].contains("long"));
  EXPECT_FALSE(j["minValues"].contains("none"));
  EXPECT_EQ(j["nullCount"]["none"], 270);
}

}  // namespace
}  // namespace smartcity::lake
