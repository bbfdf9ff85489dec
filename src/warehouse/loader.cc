#include "warehouse/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "lake/s3_object_store.h"
#include "model/schema.h"

namespace smartcity::warehouse {

using engine::QuoteIdentifier;
using engine::QuoteLiteral;

TableLayout LayoutFor(const std::string& table, const Schema& schema) {
  TableLayout l;
  auto has = [&](std::string_view c) { return schema.IndexOf(c) >= 0; };
  auto key_if = [&](std::vector<std::string> cols) {
    for (const auto& c : cols) {
      if (!has(c)) return;
    }
    l.key = std::move(cols);
  };
  if (std::optional<model::Table> t = model::TableFromName(table)) {
    // Our own table: the model says which columns identify a row (none for _late_events).
    std::vector<std::string> key;
    for (int c : model::Def(*t).identity) key.emplace_back(model::ColumnName(*t, c));
    if (!key.empty()) key_if(std::move(key));
  } else {
    // Another table in the raw tables' layout: their provenance identifies a row.
    key_if({std::string(model::kPartitionColumn), std::string(model::kOffsetColumn)});
  }
  // Time first (an event's, a late event's, a dead letter's), then the device.
  using model::Table;
  for (std::string_view c :
       {model::kTimestampField,
        model::ColumnName(Table::kLateEvents, model::late_event_col::kEventTime),
        model::ColumnName(Table::kDeadLetters, model::dead_letter_col::kReceivedAt),
        model::kDeviceIdField}) {
    if (has(c)) l.indexes.emplace_back(c);
  }
  return l;
}

Schema WarehouseSchema(const lake::DeltaSchema& delta) {
  Schema s;
  for (const lake::DeltaField& f : delta.fields) s.columns.push_back({f.name, f.type, f.nullable});
  return s;
}

namespace {

RetryOptions RetryOptionsOf(const LoaderOptions& o) {
  RetryOptions r;
  r.initial_backoff = o.initial_backoff;
  r.max_backoff = o.max_backoff;
  r.multiplier = 2.0;
  r.deadline = o.retry_for;
  return r;
}

}  // namespace

Loader::Loader(lake::ObjectStore* store, Connector connect, LoaderOptions options)
    : store_(store),
      connect_(std::move(connect)),
      options_(std::move(options)),
      clock_(Clock::OrReal(options_.clock)),
      retry_(RetryOptionsOf(options_), clock_) {}

Result<std::unique_ptr<Loader>> Loader::Create(lake::ObjectStore* store, Connector connect,
                                               LoaderOptions options) {
  std::unique_ptr<Loader> l(new Loader(store, std::move(connect), std::move(options)));
  engine::DatabaseOptions o;
  o.settings["threads"] = "1";
  if (!l->options_.reader_memory_limit.empty()) {
    o.settings["memory_limit"] = l->options_.reader_memory_limit;
    o.settings["allocator_flush_threshold"] = "16MiB";
    o.settings["allocator_bulk_deallocation_flush_threshold"] = "16MiB";
  }
  SC_ASSIGN_OR_RETURN(l->reader_db_, engine::Database::Open("", o));
  SC_ASSIGN_OR_RETURN(l->reader_, l->reader_db_->Connect());
  // The reader fetches data files by ReaderUri (s3:// on an S3 lake).
  SC_RETURN_IF_ERROR(lake::PrepareDuckDbReads(*store, l->reader_.get()));
  return l;
}

void Loader::Progress(const std::string& line) {
  if (options_.progress) options_.progress(line);
}

bool Loader::Sleep(std::chrono::milliseconds d, const std::atomic<bool>* stop) {
  return SleepUntil(*clock_, clock_->Now() + d, stop);
}

Status Loader::LoadOnce(const std::atomic<bool>* stop) {
  const ProcessingTime t0 = clock_->Now();
  RetryPolicy::Attempts attempts = retry_.Start();
  Status st;
  while (true) {
    st = LoadPass();
    if (!st.ok() && st.IsRetryable()) {
      // The session may be broken: drop it. Whatever its open transaction held is rolled back by
      // the warehouse; the bookkeeping table says where to resume.
      conn_.reset();
    }
    if (!attempts.ShouldRetry(&st)) break;
    ++summary_.retries;
    Progress(fmt::format("load: {}; retrying in {:.1f}s", st.message(),
                         std::chrono::duration<double>(attempts.next_delay()).count()));
    if (!attempts.Wait(stop)) return Status::Aborted("stopped while waiting for the warehouse");
  }
  summary_.elapsed += clock_->Now() - t0;
  return st;
}

Status Loader::Loop(const std::atomic<bool>& stop, std::chrono::milliseconds interval,
                    bool final_pass) {
  while (!stop.load()) {
    Status st = LoadOnce(&stop);
    if (!st.ok() && st.kind() != ErrorKind::kAborted) {
      if (!st.IsRetryable()) return st;
      // Retry budget used up (ours, or the lake store's): in a loop we keep waiting.
    }
    if (interval.count() > 0) {
      Sleep(interval, &stop);
      continue;
    }
    if (!st.ok()) {
      // The failed pass may have read commits it did not load: try again, without waiting for a
      // newer commit.
      Sleep(options_.poll_interval, &stop);
      continue;
    }
    // Event-driven: wait until some table has a commit after the one we loaded up to.
    while (!stop.load()) {
      bool fresh = false;
      for (const std::string& t : options_.tables) {
        auto it = snapshots_.find(t);
        const int64_t next = it == snapshots_.end() ? 0 : it->second.version + 1;
        lake::DeltaLog log(store_, t);
        if (store_->Head(log.CommitKey(next)).ok()) fresh = true;
      }
      if (fresh) break;
      Sleep(options_.poll_interval, &stop);
    }
  }
  if (final_pass) return LoadOnce(nullptr);
  return Status::OK();
}

Status Loader::LoadPass() {
  if (!conn_) {
    SC_ASSIGN_OR_RETURN(conn_, connect_());
    bookkeeping_ready_ = false;
  }
  if (!bookkeeping_ready_) {
    SC_RETURN_IF_ERROR(conn_->Execute(conn_->dialect().CreateBookkeeping()));
    bookkeeping_ready_ = true;
  }
  for (const std::string& t : options_.tables) SC_RETURN_IF_ERROR(LoadTable(t));
  return Status::OK();
}

Status Loader::EnsureTable(const std::string& table, const Schema& lake_schema,
                           Schema* warehouse_order) {
  SC_ASSIGN_OR_RETURN(std::vector<WarehouseColumn> existing, conn_->Columns(table));
  const Dialect& d = conn_->dialect();
  if (existing.empty()) {
    const TableLayout layout = LayoutFor(table, lake_schema);
    SC_RETURN_IF_ERROR(conn_->Begin());
    for (const std::string& sql : d.CreateTable(table, lake_schema, layout.key, layout.indexes)) {
      if (Status s = conn_->Execute(sql); !s.ok()) {
        (void)conn_->Rollback();
        return s;
      }
    }
    SC_RETURN_IF_ERROR(conn_->Commit());
    Progress(fmt::format("load {}: created table {} in {}", table, table, conn_->Describe()));
    *warehouse_order = lake_schema;
    return Status::OK();
  }
  Schema order;
  std::set<std::string> have;
  for (const WarehouseColumn& w : existing) {
    const int idx = lake_schema.IndexOf(w.name);
    if (idx < 0) {
      return Status::InvalidArgument(fmt::format(
          "refusing to load {}: warehouse column \"{}\" no longer exists in the lake table (a "
          "breaking schema change); drop or rename the warehouse table {} to reload it",
          table, w.name, table));
    }
    const ColumnSpec& c = lake_schema.columns[idx];
    if (!d.SameType(w.data_type, c.type)) {
      return Status::InvalidArgument(fmt::format(
          "refusing to load {}: column \"{}\" is {} in the warehouse but {} ({}) in the lake (a "
          "breaking schema change); drop or rename the warehouse table {} to reload it",
          table, w.name, w.data_type, d.TypeName(c.type), LogicalTypeName(c.type), table));
    }
    order.columns.push_back(c);
    order.columns.back().nullable = true;
    have.insert(w.name);
  }
  std::vector<ColumnSpec> added;
  for (const ColumnSpec& c : lake_schema.columns) {
    if (!have.contains(c.name)) added.push_back(c);
  }
  if (!added.empty()) {
    SC_RETURN_IF_ERROR(conn_->Begin());
    for (const ColumnSpec& c : added) {
      if (Status s = conn_->Execute(d.AddColumn(table, c)); !s.ok()) {
        (void)conn_->Rollback();
        return s;
      }
      order.columns.push_back(c);
    }
    SC_RETURN_IF_ERROR(conn_->Commit());
    std::string names;
    for (const ColumnSpec& c : added) names += (names.empty() ? "" : ", ") + c.name;
    Progress(fmt::format("load {}: added column(s) {} (new in the lake)", table, names));
  }
  *warehouse_order = std::move(order);
  return Status::OK();
}

Status Loader::CopyFile(const std::string& table, const Schema& schema, const lake::DeltaLog& log,
                        const lake::AddFile& add, int64_t* rows) {
  const std::string key = log.KeyPrefix() + add.path;
  const std::string uri = store_->ReaderUri(key);
  if (uri.empty()) {
    return Status::InvalidArgument(
        fmt::format("the lake ({}) cannot be read by DuckDB", store_->Describe()));
  }
  // Which columns the file has: files written before a column was added lack it (NULL).
  std::set<std::string> in_file;
  {
    auto r = reader_->Query("SELECT name FROM parquet_schema(" + QuoteLiteral(uri) + ")");
    if (!r.ok()) {
      return Status::NotFound(fmt::format(
          "cannot read data file {} of {} version history ({}); if `compact --vacuum` deleted it, "
          "the warehouse fell behind the retention",
          key, table, r.status().message()));
    }
    for (size_t i = 0; i < r->row_count(); ++i) in_file.insert(r->GetString(0, i));
  }
  std::string select;
  for (const ColumnSpec& c : schema.columns) {
    if (!select.empty()) select += ", ";
    const std::string type = std::string(engine::SqlTypeName(c.type));
    auto pv = add.partition_values.find(c.name);
    if (pv != add.partition_values.end()) {
      select += pv->second ? "CAST(" + QuoteLiteral(*pv->second) + " AS " + type + ")" : "NULL";
    } else if (!in_file.contains(c.name)) {
      select += "NULL";
    } else if (c.type == LogicalType::kTimestamp) {
      select += "epoch_us(" + QuoteIdentifier(c.name) + ")";
    } else {
      select += "CAST(" + QuoteIdentifier(c.name) + " AS " + type + ")";
    }
  }
  SC_ASSIGN_OR_RETURN(
      engine::QueryResult r,
      reader_->Query("SELECT " + select + " FROM read_parquet(" + QuoteLiteral(uri) + ")"));
  auto batch_schema = std::make_shared<Schema>(schema);
  for (auto& c : batch_schema->columns) c.nullable = true;
  RecordBatch batch(batch_schema);
  const size_t n = r.row_count();
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    Column& col = batch.column(c);
    col.Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (r.IsNull(c, i)) {
        col.AppendNull();
        continue;
      }
      switch (col.type()) {
        case LogicalType::kString:
          col.AppendString(r.GetString(c, i));
          break;
        case LogicalType::kInt32:
          col.AppendInt32(static_cast<int32_t>(r.GetInt64(c, i)));
          break;
        case LogicalType::kInt64:
        case LogicalType::kTimestamp:
          col.AppendInt64(r.GetInt64(c, i));
          break;
        case LogicalType::kDouble:
          col.AppendDouble(r.GetDouble(c, i));
          break;
        case LogicalType::kBool:
          col.AppendBool(r.GetBool(c, i));
          break;
        case LogicalType::kDate:
          col.AppendDate(static_cast<int32_t>(r.GetInt64(c, i)));
          break;
      }
    }
  }
  if (add.NumRecords() >= 0 && add.NumRecords() != static_cast<int64_t>(n)) {
    return Status::Corruption(fmt::format("data file {} has {} rows but the Delta log says {}", key,
                                          n, add.NumRecords()));
  }
  SC_RETURN_IF_ERROR(conn_->CopyBatch(table, batch));
  *rows += static_cast<int64_t>(n);
  return Status::OK();
}

Status Loader::LoadTable(const std::string& table) {
  lake::DeltaLog log(store_, table);
  auto it = snapshots_.find(table);
  if (it == snapshots_.end()) {
    SC_ASSIGN_OR_RETURN(lake::Snapshot snap, log.Load(reader_.get()));
    it = snapshots_.emplace(table, std::move(snap)).first;
  } else {
    SC_RETURN_IF_ERROR(log.Update(&it->second).status());
  }
  const lake::Snapshot& snap = it->second;
  if (!snap.exists()) return Status::OK();  // nothing committed yet
  Schema lake_schema = WarehouseSchema(snap.metadata.schema);
  Schema schema;
  SC_RETURN_IF_ERROR(EnsureTable(table, lake_schema, &schema));
  SC_ASSIGN_OR_RETURN(int64_t loaded, conn_->LoadedVersion(table));
  TableLoadStats& stats = summary_.tables[table];
  stats.loaded_version = loaded;
  if (loaded > snap.version) {
    return Status::InvalidArgument(fmt::format(
        "refusing to load {}: the warehouse holds version {} but the lake table only has {} (was "
        "the lake table recreated?); drop the warehouse table and its {} rows to reload",
        table, loaded, snap.version, kLoadsTable));
  }
  int64_t v = loaded + 1;
  while (v <= snap.version) {
    const ProcessingTime t0 = clock_->Now();
    // One transaction: versions [v, last] — rows of their data-changing adds + the bookkeeping row.
    SC_RETURN_IF_ERROR(conn_->Begin());
    int64_t rows = 0;
    int64_t last = v - 1;
    std::vector<ParquetFile> files;  // Redshift: collected, then copied by the warehouse
    Status st;
    while (st.ok() && last < snap.version && rows < options_.rows_per_transaction) {
      auto commit = log.ReadCommit(last + 1);
      if (!commit.ok()) {
        st = commit.status();
        break;
      }
      for (const lake::RemoveFile& rm : commit->removes) {
        if (rm.data_change) {
          st = Status::InvalidArgument(fmt::format(
              "refusing to load {} version {}: it deletes rows (remove with dataChange=true), "
              "which an append-only warehouse load cannot apply",
              table, last + 1));
        }
      }
      for (const lake::AddFile& add : commit->adds) {
        if (!st.ok()) break;
        if (!add.data_change) continue;  // compaction output: rows loaded from the original files
        if (conn_->CopiesFiles()) {
          ParquetFile f{store_->ReaderUri(log.KeyPrefix() + add.path), {}};
          for (const auto& [k, val] : add.partition_values) f.partition_values.emplace_back(k, val);
          files.push_back(std::move(f));
          rows += std::max<int64_t>(add.NumRecords(), 0);
        } else {
          st = CopyFile(table, schema, log, add, &rows);
        }
      }
      if (st.ok()) ++last;
    }
    if (st.ok() && !files.empty()) st = conn_->CopyParquetFiles(table, schema, files);
    if (st.ok()) {
      st = conn_->Execute(fmt::format(
          "INSERT INTO {} (table_name, delta_version, row_count, loaded_at) VALUES ({}, {}, {}, "
          "CURRENT_TIMESTAMP)",
          QuoteIdentifier(kLoadsTable), QuoteLiteral(table), last, rows));
    }
    if (!st.ok()) {
      (void)conn_->Rollback();
      return st;
    }
    SC_RETURN_IF_ERROR(conn_->Commit());
    const double secs = std::chrono::duration<double>(clock_->Now() - t0).count();
    Progress(fmt::format("load {}: versions {}..{} -> {} rows in {:.2f}s ({:.0f} rows/s)", table, v,
                         last, rows, secs, secs > 0 ? static_cast<double>(rows) / secs : 0.0));
    stats.rows += rows;
    stats.versions += last - v + 1;
    stats.transactions += 1;
    stats.loaded_version = last;
    summary_.rows += rows;
    summary_.versions += last - v + 1;
    summary_.transactions += 1;
    if (options_.on_load) {
      LoadEvent e;
      e.table = table;
      e.first_version = v;
      e.last_version = last;
      e.rows = rows;
      e.committed_at = clock_->WallNow();
      e.elapsed = std::chrono::duration<double>(secs);
      e.lake_version = snap.version;
      options_.on_load(e);
    }
    v = last + 1;
  }
  return Status::OK();
}

}  // namespace smartcity::warehouse
