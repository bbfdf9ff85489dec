// The embedded warehouse: a DuckDB database file, reached through src/engine (DuckDB is wrapped
// there once). Rows go in through DuckDB's appender inside the open transaction, so they commit or
// vanish together with the bookkeeping row; a process killed mid-load leaves an uncommitted
// transaction in the WAL that DuckDB discards on the next open.
#include "warehouse/duckdb_warehouse.h"

#include <fmt/format.h>

#include <numeric>

#include "engine/engine.h"

namespace smartcity::warehouse {

namespace {

class DuckDbConnection final : public WarehouseConnection {
 public:
  // `db` may be null when the database is borrowed (ConnectDuckDbWarehouse).
  DuckDbConnection(std::string path, std::unique_ptr<engine::Database> db,
                   std::unique_ptr<engine::Connection> conn)
      : path_(std::move(path)), db_(std::move(db)), conn_(std::move(conn)) {}
  ~DuckDbConnection() override {
    conn_.reset();  // before the database
  }

  const Dialect& dialect() const override { return dialect_; }
  Status Begin() override { return conn_->Execute("BEGIN TRANSACTION"); }
  Status Commit() override { return conn_->Execute("COMMIT"); }
  Status Rollback() override { return conn_->Execute("ROLLBACK"); }
  Status Execute(std::string_view sql) override { return conn_->Execute(sql); }
  Result<std::vector<std::vector<std::optional<std::string>>>> Query(
      std::string_view sql) override {
    SC_ASSIGN_OR_RETURN(engine::QueryResult r, conn_->Query(sql));
    std::vector<std::vector<std::optional<std::string>>> rows(r.row_count());
    for (size_t i = 0; i < r.row_count(); ++i) {
      rows[i].resize(r.column_count());
      for (size_t c = 0; c < r.column_count(); ++c) {
        if (!r.IsNull(c, i)) rows[i][c] = r.GetString(c, i);
      }
    }
    return rows;
  }
  Status CopyBatch(const std::string& table, const RecordBatch& batch) override {
    if (batch.num_rows() == 0) return Status::OK();
    SC_ASSIGN_OR_RETURN(auto app, conn_->MakeAppender(table));
    std::vector<int> cols(batch.num_columns());
    std::iota(cols.begin(), cols.end(), 0);
    SC_RETURN_IF_ERROR(app->AppendColumns(batch, cols, 0, batch.num_rows()));
    return app->Close();
  }
  // The files are local (the loader asks only then): DuckDB reads them in the warehouse's own
  // transaction, so their rows never pass through a second database or the C heap.
  bool ReadsLocalFiles() const override { return true; }
  Status CopyParquetFiles(const std::string& table, const TargetColumns& columns,
                          const std::vector<ParquetFile>& files) override {
    for (const ParquetFile& f : files) {
      const std::string uri = engine::QuoteLiteral(f.uri);
      auto names = conn_->Query("SELECT name FROM parquet_schema(" + uri + ")");
      if (!names.ok()) {
        return Status::NotFound(fmt::format(
            "cannot read data file {} of {} ({}); if `compact --vacuum` deleted it, the warehouse "
            "fell behind the retention",
            f.uri, table, names.status().message()));
      }
      std::vector<std::string> in_file;
      for (size_t i = 0; i < names->row_count(); ++i) in_file.push_back(names->GetString(0, i));
      // By position: the select list is in the table's column order.
      SC_RETURN_IF_ERROR(conn_->Execute(fmt::format(
          "INSERT INTO {} SELECT {} FROM read_parquet({})", engine::QuoteIdentifier(table),
          LakeFileSelectList(columns.lake, f.partition_values, in_file, TimestampAs::kTimestampTz),
          uri)));
    }
    return Status::OK();
  }
  std::string Describe() const override { return "DuckDB warehouse " + path_; }

 private:
  Dialect dialect_{DialectKind::kDuckDb};
  std::string path_;
  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<engine::Connection> conn_;
};

}  // namespace

Result<std::unique_ptr<WarehouseConnection>> OpenDuckDbWarehouse(const std::string& path,
                                                                 const std::string& memory_limit) {
  engine::DatabaseOptions o;
  o.settings["threads"] = "2";
  // A checkpoint (every 16 MiB of log, and at each close) otherwise loads the metadata of every row
  // group of a table it writes to, so its memory grows with the warehouse: 6 MiB of heap at 10 M
  // rows, 13 MiB at 33 M, about 3 MiB with this at both (one append and a checkpoint, measured on
  // warehouses that `run` loaded over one and three city days). The follower appends only, and
  // reopens the file every million rows, so each reopen paid it again.
  o.settings["experimental_metadata_reuse"] = "true";
  if (!memory_limit.empty()) {
    // Sized (`run`'s follower beside the stream): one thread, whose buffers are all it holds
    // besides the buffer pool; a follower loads a few epochs at a time, not a backlog.
    o.settings["threads"] = "1";
    o.settings["memory_limit"] = memory_limit;
    engine::HandBackFreedMemorySoon(&o);
  }
  auto db = engine::Database::Open(path, o);
  if (!db.ok()) {
    if (IsPermanentConnectFailure(db.status().message())) {
      return Status::InvalidArgument(
          fmt::format("cannot open the DuckDB warehouse {} ({}); name a DuckDB database file, or a "
                      "new file in an existing folder",
                      path, db.status().message()));
    }
    // Another process holding the file is the usual cause; it may go away (retry helps).
    return Status::Unavailable(fmt::format(
        "cannot open the DuckDB warehouse {} ({}); is another smartcity process using it?", path,
        db.status().message()));
  }
  SC_ASSIGN_OR_RETURN(auto conn, (*db)->Connect());
  return std::unique_ptr<WarehouseConnection>(
      new DuckDbConnection(path, std::move(db).value(), std::move(conn)));
}

Result<std::unique_ptr<WarehouseConnection>> ConnectDuckDbWarehouse(engine::Database* db,
                                                                    const std::string& describe) {
  SC_ASSIGN_OR_RETURN(auto conn, db->Connect());
  return std::unique_ptr<WarehouseConnection>(
      new DuckDbConnection(describe, nullptr, std::move(conn)));
}

}  // namespace smartcity::warehouse
