// lake_digest: "our reader" for the exactly-once tests. Replays a Delta table's log with our
// DeltaLog (JSON commits and checkpoints), checks that every active file exists in the store, and
// runs a query over exactly those files with DuckDB. The tests compute the same query over the
// table as read by the Python deltalake package and by DuckDB's delta extension, and compare.
//
//   lake_digest LAKE_ROOT TABLE 'SELECT ... FROM {rel}'
//
// Prints the query's rows, tab-separated; "EMPTY" if the table has no active file; exit 1 with a
// message if the table is missing, a referenced file is missing, or the query fails.
#include <cstdio>
#include <string>

#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"

using namespace smartcity;

namespace {

int Fail(const std::string& m) {
  std::fprintf(stderr, "lake_digest: %s\n", m.c_str());
  return 1;
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return Fail("usage: lake_digest LAKE_ROOT TABLE 'SELECT ... FROM {rel}'");
  auto store = lake::OpenLakeStore(argv[1]);
  if (!store.ok()) return Fail(store.status().ToString());
  auto db = engine::Database::Open("");
  if (!db.ok()) return Fail(db.status().ToString());
  auto conn = (*db)->Connect();
  if (!conn.ok()) return Fail(conn.status().ToString());
  lake::DeltaLog log(store->get(), argv[2]);
  auto snap = log.Load(conn->get());
  if (!snap.ok()) return Fail(snap.status().ToString());
  if (!snap->exists()) return Fail(std::string("no Delta table ") + argv[2]);
  if (snap->files.empty()) {
    std::printf("EMPTY\n");
    return 0;
  }
  std::string list;
  for (const auto& [path, add] : snap->files) {
    const std::string key = log.KeyPrefix() + path;
    auto head = (*store)->Head(key);
    if (!head.ok())
      return Fail("committed file " + key + " is missing: " + head.status().ToString());
    if (static_cast<int64_t>(head->size) != add.size) {
      return Fail("committed file " + key + " has " + std::to_string(head->size) +
                  " bytes, the log says " + std::to_string(add.size));
    }
    list += (list.empty() ? "" : ", ") + Quote((*store)->ReaderUri(key));
  }
  std::string sql = argv[3];
  const size_t at = sql.find("{rel}");
  if (at == std::string::npos) return Fail("the query has no {rel}");
  sql.replace(at, 5, "read_parquet([" + list + "])");
  auto r = (*conn)->Query("SET TimeZone='UTC'");
  if (!r.ok()) return Fail(r.status().ToString());
  r = (*conn)->Query(sql);
  if (!r.ok()) return Fail(r.status().ToString());
  for (size_t row = 0; row < r->row_count(); ++row) {
    for (size_t c = 0; c < r->column_count(); ++c) {
      std::printf("%s%s", c ? "\t" : "", r->GetString(c, row).c_str());
    }
    std::printf("\n");
  }
  return 0;
}
