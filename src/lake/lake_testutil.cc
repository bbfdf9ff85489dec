#include "lake/lake_testutil.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "lake/delta_log.h"

namespace smartcity::lake::testing {

std::shared_ptr<const Schema> EventSchema() {
  auto s = std::make_shared<Schema>();
  s->columns = {{"deviceId", LogicalType::kString, false}, {"ts", LogicalType::kTimestamp, false},
                {"speed", LogicalType::kDouble, true},     {"lane", LogicalType::kInt32, false},
                {"seq", LogicalType::kInt64, false},       {"ok", LogicalType::kBool, true}};
  return s;
}

std::shared_ptr<const Schema> EventSchemaWithNote() {
  auto s = std::make_shared<Schema>(*EventSchema());
  s->columns.push_back({"note", LogicalType::kString, true});
  return s;
}

std::unique_ptr<RecordBatch> MakeEvents(const std::shared_ptr<const Schema>& schema, int64_t first,
                                        int n, int64_t start_micros, int64_t step_micros) {
  auto b = std::make_unique<RecordBatch>(schema);
  const bool note = schema->IndexOf("note") >= 0;
  for (int i = 0; i < n; ++i) {
    const int64_t seq = first + i;
    b->column(0).AppendString(fmt::format("vehicle-{}", seq % 3));
    b->column(1).AppendInt64(start_micros + i * step_micros);
    if (seq % 7 == 0) {
      b->column(2).AppendNull();
    } else {
      b->column(2).AppendDouble(40.0 + static_cast<double>(seq % 50) / 2);
    }
    b->column(3).AppendInt32(static_cast<int32_t>(seq % 4));
    b->column(4).AppendInt64(seq);
    if (seq % 5 == 0) {
      b->column(5).AppendNull();
    } else {
      b->column(5).AppendBool(seq % 2 == 0);
    }
    if (note) {
      if (seq % 2 == 0) {
        b->column(6).AppendString(fmt::format("n{}", seq));
      } else {
        b->column(6).AppendNull();
      }
    }
  }
  return b;
}

std::vector<int64_t> ReadSeqs(ObjectStore* store, engine::Database* db, const std::string& table) {
  DeltaLog log(store, table);
  auto conn = db->Connect();
  EXPECT_TRUE(conn.ok());
  if (!conn.ok()) return {};
  auto snap = log.Load(conn->get());
  EXPECT_TRUE(snap.ok()) << snap.status().message();
  if (!snap.ok()) return {};
  std::vector<int64_t> seqs;
  namespace fs = std::filesystem;
  for (const auto& [path, f] : snap->files) {
    std::string key = log.KeyPrefix() + path;
    std::string local;
    std::string temp;
    if (auto p = store->LocalPath(key)) {
      local = p->string();
    } else {
      auto bytes = store->Get(key);
      EXPECT_TRUE(bytes.ok()) << bytes.status().message();
      if (!bytes.ok()) return {};
      temp = (fs::temp_directory_path() / fmt::format("lake-test-{}.parquet", NewUuid())).string();
      std::ofstream(temp, std::ios::binary) << *bytes;
      local = temp;
    }
    auto r =
        (*conn)->Query(fmt::format("SELECT seq FROM read_parquet({}, hive_partitioning = false)",
                                   engine::QuoteLiteral(local)));
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (r.ok()) {
      EXPECT_EQ(static_cast<int64_t>(r->row_count()), f.NumRecords()) << path;
      for (size_t i = 0; i < r->row_count(); ++i) seqs.push_back(r->GetInt64(0, i));
    }
    if (!temp.empty()) fs::remove(temp);
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

std::vector<int64_t> Range(int64_t first, int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

CommitResult CommitEvents(DeltaTable* t, int64_t first, int n, int64_t start_micros,
                          int64_t epoch) {
  EXPECT_TRUE(t->Append(*MakeEvents(EventSchema(), first, n, start_micros, kMinute)).ok());
  auto r = t->Commit("app", epoch);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : CommitResult{};
}

}  // namespace smartcity::lake::testing
