#include "warehouse/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/memory.h"
#include "lake/s3_object_store.h"
#include "model/schema.h"
#include "warehouse/names.h"

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
  SC_RETURN_IF_ERROR(l->OpenReader());
  return l;
}

void Loader::CloseReader() {
  reader_.reset();  // the connection before its database
  reader_db_.reset();
}

Status Loader::OpenReader() {
  CloseReader();
  engine::DatabaseOptions o;
  o.settings["threads"] = "1";
  // Each data file is read once: DuckDB's cache of file contents would only keep a record of
  // every file ever read (they add up over a long run).
  o.settings["enable_external_file_cache"] = "false";
  if (!options_.reader_memory_limit.empty()) {
    o.settings["memory_limit"] = options_.reader_memory_limit;
    engine::HandBackFreedMemorySoon(&o);
  }
  SC_ASSIGN_OR_RETURN(reader_db_, engine::Database::Open("", o));
  SC_ASSIGN_OR_RETURN(reader_, reader_db_->Connect());
  // The reader fetches data files by ReaderUri (s3:// on an S3 lake).
  Status s = lake::PrepareDuckDbReads(*store_, reader_.get());
  if (!s.ok()) CloseReader();  // the next pass tries again
  return s;
}

void Loader::Progress(const std::string& line) {
  if (options_.progress) options_.progress(line);
}

bool Loader::Sleep(std::chrono::milliseconds d, const std::atomic<bool>* stop) {
  return SleepUntil(*clock_, clock_->Now() + d, stop);
}

Status Loader::LoadOnce(const std::atomic<bool>* stop, bool settle) {
  const ProcessingTime t0 = clock_->Now();
  RetryPolicy::Attempts attempts = retry_.Start();
  Status st;
  while (true) {
    {
      // The turn's end hands back what the pass freed before the lake maintenance takes its turn.
      MemoryTurn turn(options_.exclusive);
      st = LoadPass(settle);
      if (st.ok() && conn_ && options_.reopen_after_rows > 0 &&
          summary_.rows - rows_at_connect_ >= options_.reopen_after_rows) {
        conn_.reset();  // the next pass opens it again
        // The reader too (it reads a table's Delta checkpoint when it loads the table anew): DuckDB
        // 1.4 queues each freed read buffer for eviction and empties the queue only under memory
        // pressure, which a reader without a file cache never comes under, so every file it read
        // left a little of the C heap behind (fixed in later DuckDB releases; measured in
        // bench/RESULTS.md). Its snapshots are ours, not DuckDB's: nothing is read again. The
        // next pass opens it.
        CloseReader();
      }
    }
    if (!st.ok() && st.IsRetryable()) {
      // The session may be broken: drop it. Whatever its open transaction held is rolled back by
      // the warehouse; the bookkeeping table says where to resume.
      conn_.reset();
    }
    if (!attempts.ShouldRetry(&st)) break;
    ++summary_.retries;
    Progress(fmt::format("load: {}; retrying in {:.1f}s", st.message(),
                         std::chrono::duration<double>(attempts.next_delay()).count()));
    if (options_.on_lag) {
      // The lag grows while the warehouse is away: tell it, with what is wrong.
      for (const std::string& t : options_.tables) (void)UpdateSnapshot(t);
      PublishLag(st.message());
    }
    if (!attempts.Wait(stop)) return Status::Aborted("stopped while waiting for the warehouse");
  }
  if (!st.ok()) PublishLag(st.message());
  summary_.elapsed += clock_->Now() - t0;
  return st;
}

Status Loader::Loop(const std::atomic<bool>& stop, std::chrono::milliseconds interval,
                    bool final_pass) {
  while (!stop.load()) {
    Status st = LoadOnce(&stop, /*settle=*/false);
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
  if (final_pass) return LoadOnce(nullptr, /*settle=*/true);
  return Status::OK();
}

Status Loader::UpdateSnapshot(const std::string& table) {
  lake::DeltaLog log(store_, table);
  auto it = snapshots_.find(table);
  if (it == snapshots_.end()) {
    SC_ASSIGN_OR_RETURN(lake::Snapshot snap, log.Load(reader_.get()));
    snapshots_.emplace(table, std::move(snap));
    return Status::OK();
  }
  return log.Update(&it->second).status();
}

bool Loader::HasWork(const std::string& table, bool settle) const {
  auto s = snapshots_.find(table);
  if (s == snapshots_.end() || !s->second.exists()) return false;  // nothing committed yet
  auto c = cursors_.find(table);
  if (c == cursors_.end() || !c->second.ready) return true;
  const Cursor& cur = c->second;
  return cur.through < s->second.version || (settle && cur.recorded < cur.through);
}

namespace {

// A failure that concerns one table only (its log is damaged, its schema changed, a data file is
// gone): the other tables are still loaded. A retryable failure (the warehouse or the lake is
// away) concerns the whole pass.
bool TableScoped(const Status& s) {
  return !s.ok() && !s.IsRetryable() && s.kind() != ErrorKind::kAborted &&
         s.kind() != ErrorKind::kPermissionDenied && s.kind() != ErrorKind::kInternal;
}

}  // namespace

Status Loader::LoadPass(bool settle) {
  // Tables that cannot be loaded this pass, with why; the others go on.
  std::vector<std::pair<std::string, Status>> failed;
  auto skip = [&](const std::string& t) {
    return std::any_of(failed.begin(), failed.end(), [&](const auto& f) { return f.first == t; });
  };
  // 1. The lake: each table's newest version (one Get and one Head when nothing changed).
  if (!reader_) SC_RETURN_IF_ERROR(OpenReader());  // closed with the warehouse (LoadOnce)
  for (const std::string& t : options_.tables) {
    Status s = UpdateSnapshot(t);
    if (TableScoped(s)) {
      failed.emplace_back(t, s);
      continue;
    }
    SC_RETURN_IF_ERROR(s);
  }
  SC_RETURN_IF_ERROR(LoadTables(settle, &failed, skip));
  PublishLag();
  if (failed.empty()) return Status::OK();
  std::string message;
  for (const auto& [t, s] : failed) {
    message += fmt::format("{}cannot load {}: {}", message.empty() ? "" : "; ", t, s.message());
  }
  if (failed.size() < options_.tables.size()) message += " (the other tables were loaded)";
  if (std::any_of(failed.begin(), failed.end(),
                  [](const auto& f) { return f.second.kind() == ErrorKind::kCorruption; })) {
    message += "; restore the damaged object from a backup, or leave the table out with --tables";
  }
  return Status(failed.front().second.kind(), message);
}

Status Loader::LoadTables(bool settle, std::vector<std::pair<std::string, Status>>* failed,
                          const std::function<bool(const std::string&)>& skip) {
  // 2. Nothing new anywhere: no warehouse work (after the first pass, which checks the warehouse).
  const bool work =
      std::any_of(options_.tables.begin(), options_.tables.end(),
                  [&](const std::string& t) { return !skip(t) && HasWork(t, settle); });
  if (conn_ && bookkeeping_ready_ && !work) return Status::OK();
  if (!conn_) {
    SC_ASSIGN_OR_RETURN(conn_, connect_());
    bookkeeping_ready_ = false;
    rows_at_connect_ = summary_.rows;
  }
  if (!bookkeeping_ready_) {
    SC_RETURN_IF_ERROR(conn_->Execute(conn_->dialect().CreateBookkeeping()));
    bookkeeping_ready_ = true;
  }
  for (const std::string& t : options_.tables) {
    if (skip(t)) continue;
    Status s = LoadTable(t, settle);
    if (TableScoped(s)) {
      failed->emplace_back(t, s);
      continue;
    }
    SC_RETURN_IF_ERROR(s);
  }
  return Status::OK();
}

void Loader::PublishLag(const std::string& retrying) {
  if (!options_.on_lag) return;
  LoadLag lag;
  lag.retrying = retrying;
  for (const std::string& t : options_.tables) {
    TableLag tl;
    tl.table = t;
    auto s = snapshots_.find(t);
    const int64_t lake_version = s == snapshots_.end() ? -1 : s->second.version;
    auto c = cursors_.find(t);
    if (lake_version < 0) {
      tl.known = s != snapshots_.end();  // no table in the lake: nothing to load
    } else if (c != cursors_.end() && c->second.ready) {
      Cursor& cur = c->second;
      tl.known = true;
      tl.lake_version = lake_version;
      tl.loaded_version = cur.through;
      if (cur.through < lake_version) {
        // The commit time of the oldest version not loaded (read once per version).
        const int64_t next = cur.through + 1;
        if (cur.pending_version != next) {
          cur.pending_version = next;
          cur.pending_at.reset();
          lake::DeltaLog log(store_, t);
          if (auto commit = log.ReadCommit(next); commit.ok() && commit->commit_info) {
            cur.pending_at = WallTime(Micros(commit->commit_info->timestamp_ms * 1000));
          } else if (auto head = store_->Head(log.CommitKey(next)); head.ok()) {
            cur.pending_at =
                WallTime(std::chrono::duration_cast<Micros>(head->modified.time_since_epoch()));
          }
        }
        tl.oldest_pending = cur.pending_at;
      }
    } else {
      tl.lake_version = lake_version;
    }
    lag.tables.push_back(std::move(tl));
  }
  options_.on_lag(lag);
}

Status Loader::EnsureTable(const std::string& table, const Schema& lake_schema,
                           TargetColumns* columns) {
  SC_ASSIGN_OR_RETURN(std::vector<WarehouseColumn> existing, conn_->Columns(table));
  const Dialect& d = conn_->dialect();
  std::vector<std::string> lake_names;
  for (const ColumnSpec& c : lake_schema.columns) lake_names.push_back(c.name);
  const std::vector<std::string> names = WarehouseColumnNames(lake_names);
  auto warehouse_name = [&](std::string_view lake_name) {
    return names[static_cast<size_t>(lake_schema.IndexOf(lake_name))];
  };
  if (existing.empty()) {
    TableLayout layout = LayoutFor(table, lake_schema);
    for (std::string& k : layout.key) k = warehouse_name(k);
    for (std::string& i : layout.indexes) i = warehouse_name(i);
    Schema named = lake_schema;
    for (size_t i = 0; i < names.size(); ++i) named.columns[i].name = names[i];
    SC_RETURN_IF_ERROR(conn_->Begin());
    for (const std::string& sql : d.CreateTable(table, named, layout.key, layout.indexes)) {
      if (Status s = conn_->Execute(sql); !s.ok()) {
        (void)conn_->Rollback();
        return s;
      }
    }
    SC_RETURN_IF_ERROR(conn_->Commit());
    Progress(fmt::format("load {}: created table {} in {}", table, table, conn_->Describe()));
    columns->lake = lake_schema;
    columns->names = names;
    return Status::OK();
  }
  // A table created before the warehouse names has the lake's: a column named as a lake column
  // whose warehouse name differs (deviceId), and that is no warehouse name itself.
  auto is_warehouse_name = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  std::vector<std::pair<std::string, std::string>> renames;  // lake-named column -> its new name
  for (const WarehouseColumn& w : existing) {
    const int idx = lake_schema.IndexOf(w.name);
    if (idx >= 0 && names[idx] != w.name && !is_warehouse_name(w.name)) {
      renames.emplace_back(w.name, names[idx]);
    }
  }
  bool lake_named = !renames.empty();
  if (lake_named && options_.rename_columns) {
    SC_RETURN_IF_ERROR(RenameColumns(table, renames));
    SC_ASSIGN_OR_RETURN(existing, conn_->Columns(table));
    lake_named = false;
  } else if (lake_named && lake_named_noticed_.insert(table).second) {
    std::string examples;
    for (size_t i = 0; i < renames.size() && i < 3; ++i) {
      examples +=
          fmt::format("{}\"{}\" -> {}", i > 0 ? ", " : "", renames[i].first, renames[i].second);
    }
    Progress(fmt::format(
        "load {}: the warehouse table keeps the lake's column names it was created with, which "
        "must be quoted; `smartcity load --rename-columns` renames them once ({}{})",
        table, examples, renames.size() > 3 ? ", ..." : ""));
  }
  // Which lake column each warehouse column holds: by its warehouse name, or, in a table that
  // keeps the lake's names, by its lake name.
  TargetColumns out;
  std::vector<bool> have(lake_schema.columns.size(), false);
  for (const WarehouseColumn& w : existing) {
    int idx = -1;
    if (lake_named) {
      idx = lake_schema.IndexOf(w.name);
    } else if (auto it = std::find(names.begin(), names.end(), w.name); it != names.end()) {
      idx = static_cast<int>(it - names.begin());
    }
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
    out.lake.columns.push_back(c);
    out.lake.columns.back().nullable = true;
    out.names.push_back(w.name);
    have[idx] = true;
  }
  std::vector<size_t> added;
  for (size_t i = 0; i < lake_schema.columns.size(); ++i) {
    if (!have[i]) added.push_back(i);
  }
  if (!added.empty()) {
    SC_RETURN_IF_ERROR(conn_->Begin());
    std::string list;
    for (size_t i : added) {
      ColumnSpec c = lake_schema.columns[i];
      const std::string name = lake_named ? c.name : names[i];
      out.lake.columns.push_back(c);
      c.name = name;
      if (Status s = conn_->Execute(d.AddColumn(table, c)); !s.ok()) {
        (void)conn_->Rollback();
        return s;
      }
      out.names.push_back(name);
      list += (list.empty() ? "" : ", ") + name;
    }
    SC_RETURN_IF_ERROR(conn_->Commit());
    Progress(fmt::format("load {}: added column(s) {} (new in the lake)", table, list));
  }
  *columns = std::move(out);
  return Status::OK();
}

Status Loader::RenameColumns(const std::string& table,
                             const std::vector<std::pair<std::string, std::string>>& renames) {
  const bool indexes = conn_->dialect().kind() == DialectKind::kPostgres;
  SC_RETURN_IF_ERROR(conn_->Begin());
  for (const auto& [from, to] : renames) {
    std::vector<std::string> sql = {fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}",
                                                QuoteIdentifier(table), QuoteIdentifier(from),
                                                QuoteIdentifier(to))};
    // The index this loader created on the column (Dialect::CreateTable) follows its name.
    if (indexes) {
      sql.push_back(fmt::format("ALTER INDEX IF EXISTS {} RENAME TO {}",
                                QuoteIdentifier(table + "_" + from + "_idx"),
                                QuoteIdentifier(table + "_" + to + "_idx")));
    }
    for (const std::string& s : sql) {
      if (Status st = conn_->Execute(s); !st.ok()) {
        (void)conn_->Rollback();
        return st;
      }
    }
  }
  SC_RETURN_IF_ERROR(conn_->Commit());
  std::string list;
  for (const auto& [from, to] : renames) {
    list += fmt::format("{}\"{}\" -> {}", list.empty() ? "" : ", ", from, to);
  }
  Progress(fmt::format("load {}: renamed {} column(s) to their warehouse names: {}", table,
                       renames.size(), list));
  return Status::OK();
}

Status Loader::CopyFile(const std::string& table, const TargetColumns& columns,
                        const lake::DeltaLog& log, const lake::AddFile& add, int64_t* rows) {
  const Schema& schema = columns.lake;
  const std::string key = log.KeyPrefix() + add.path;
  const std::string uri = store_->ReaderUri(key);
  if (uri.empty()) {
    return Status::InvalidArgument(
        fmt::format("the lake ({}) cannot be read by DuckDB", store_->Describe()));
  }
  // Which columns the file has: files written before a column was added lack it (NULL).
  std::vector<std::string> in_file;
  {
    auto r = reader_->Query("SELECT name FROM parquet_schema(" + QuoteLiteral(uri) + ")");
    if (!r.ok()) {
      return Status::NotFound(fmt::format(
          "cannot read data file {} of {} version history ({}); if `compact --vacuum` deleted it, "
          "the warehouse fell behind the retention",
          key, table, r.status().message()));
    }
    for (size_t i = 0; i < r->row_count(); ++i) in_file.push_back(r->GetString(0, i));
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> partition_values(
      add.partition_values.begin(), add.partition_values.end());
  const std::string select =
      LakeFileSelectList(schema, partition_values, in_file, TimestampAs::kEpochMicros);
  SC_ASSIGN_OR_RETURN(
      engine::QueryResult r,
      reader_->Query("SELECT " + select + " FROM read_parquet(" + QuoteLiteral(uri) + ")"));
  // The batch's columns are the warehouse table's, by their warehouse names.
  auto batch_schema = std::make_shared<Schema>(schema);
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    batch_schema->columns[c].name = columns.names[c];
    batch_schema->columns[c].nullable = true;
  }
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

Status Loader::LoadTable(const std::string& table, bool settle) {
  if (!HasWork(table, settle)) return Status::OK();
  const lake::Snapshot& snap = snapshots_.at(table);
  lake::DeltaLog log(store_, table);
  Schema lake_schema = WarehouseSchema(snap.metadata.schema);
  TargetColumns columns;
  SC_RETURN_IF_ERROR(EnsureTable(table, lake_schema, &columns));
  SC_ASSIGN_OR_RETURN(int64_t loaded, conn_->LoadedVersion(table));
  TableLoadStats& stats = summary_.tables[table];
  stats.loaded_version = loaded;
  if (loaded > snap.version) {
    return Status::InvalidArgument(fmt::format(
        "refusing to load {}: the warehouse holds version {} but the lake table only has {} (was "
        "the lake table recreated?); drop the warehouse table and its {} rows to reload",
        table, loaded, snap.version, kLoadsTable));
  }
  Cursor& cur = cursors_[table];
  // The versions found without rows after the recorded one still need nothing while the warehouse
  // holds at least what it did then (another loader may have moved it on; a dropped table has
  // gone back).
  cur.through = cur.ready && loaded >= cur.recorded ? std::max(cur.through, loaded) : loaded;
  cur.recorded = loaded;
  cur.ready = true;
  // One transaction: versions [first, last], opened at the first version with rows — their
  // data-changing adds' rows + the bookkeeping row. Versions without rows before it need none.
  bool open = false;
  int64_t first = 0, last = 0, rows = 0;
  ProcessingTime t0{};
  // Redshift, and a DuckDB warehouse beside a local lake, read the files themselves: they are
  // collected, then copied by the warehouse (no rows pass through this process).
  const bool warehouse_reads_files =
      conn_->CopiesFiles() || (conn_->ReadsLocalFiles() && store_->LocalPath(log.KeyPrefix()));
  std::vector<ParquetFile> files;
  auto fail = [&](Status st) {
    if (open) (void)conn_->Rollback();
    return st;
  };
  for (int64_t v = cur.through + 1; v <= snap.version; ++v) {
    auto commit = log.ReadCommit(v);
    if (!commit.ok()) return fail(commit.status());
    for (const lake::RemoveFile& rm : commit->removes) {
      if (rm.data_change) {
        return fail(Status::InvalidArgument(fmt::format(
            "refusing to load {} version {}: it deletes rows (remove with dataChange=true), "
            "which an append-only warehouse load cannot apply",
            table, v)));
      }
    }
    // Compaction output (dataChange=false) holds rows loaded from the original files.
    const bool has_rows = std::any_of(commit->adds.begin(), commit->adds.end(),
                                      [](const lake::AddFile& a) { return a.data_change; });
    if (!open && !has_rows) {
      cur.through = v;
      continue;
    }
    if (!open) {
      t0 = clock_->Now();
      SC_RETURN_IF_ERROR(conn_->Begin());
      open = true;
      first = v;
      rows = 0;
    }
    for (const lake::AddFile& add : commit->adds) {
      if (!add.data_change) continue;
      if (warehouse_reads_files) {
        ParquetFile f{store_->ReaderUri(log.KeyPrefix() + add.path), {}};
        for (const auto& [k, val] : add.partition_values) f.partition_values.emplace_back(k, val);
        files.push_back(std::move(f));
        rows += std::max<int64_t>(add.NumRecords(), 0);
      } else if (Status st = CopyFile(table, columns, log, add, &rows); !st.ok()) {
        return fail(st);
      }
    }
    last = v;
    if (rows >= options_.rows_per_transaction || v == snap.version) {
      open = false;
      SC_RETURN_IF_ERROR(CommitLoad(table, columns, first, last, rows, &files, t0));
    }
  }
  if (settle && cur.recorded < cur.through) {
    // Record the versions without rows, so the warehouse's version is the lake's at a stop.
    SC_RETURN_IF_ERROR(conn_->Begin());
    Status st = conn_->Execute(fmt::format(
        "INSERT INTO {} (table_name, delta_version, row_count, loaded_at) VALUES ({}, {}, 0, "
        "CURRENT_TIMESTAMP)",
        QuoteIdentifier(kLoadsTable), QuoteLiteral(table), cur.through));
    if (!st.ok()) {
      (void)conn_->Rollback();
      return st;
    }
    SC_RETURN_IF_ERROR(conn_->Commit());
    Progress(fmt::format("load {}: versions {}..{} add no rows; the warehouse is at version {}",
                         table, cur.recorded + 1, cur.through, cur.through));
    cur.recorded = cur.through;
    stats.loaded_version = cur.through;
  }
  return Status::OK();
}

Status Loader::CommitLoad(const std::string& table, const TargetColumns& columns, int64_t first,
                          int64_t last, int64_t rows, std::vector<ParquetFile>* files,
                          ProcessingTime t0) {
  Status st;
  if (!files->empty()) st = conn_->CopyParquetFiles(table, columns, *files);
  files->clear();
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
  Progress(fmt::format("load {}: versions {}..{} -> {} rows in {:.2f}s ({:.0f} rows/s)", table,
                       first, last, rows, secs, secs > 0 ? static_cast<double>(rows) / secs : 0.0));
  TableLoadStats& stats = summary_.tables[table];
  stats.rows += rows;
  stats.versions += last - first + 1;
  stats.transactions += 1;
  stats.loaded_version = last;
  summary_.rows += rows;
  summary_.versions += last - first + 1;
  summary_.transactions += 1;
  Cursor& cur = cursors_[table];
  cur.recorded = cur.through = last;
  if (options_.on_load) {
    LoadEvent e;
    e.table = table;
    e.first_version = first;
    e.last_version = last;
    e.rows = rows;
    e.committed_at = clock_->WallNow();
    e.elapsed = std::chrono::duration<double>(secs);
    e.lake_version = snapshots_.at(table).version;
    options_.on_load(e);
  }
  PublishLag();
  return Status::OK();
}

bool LoadLag::known() const {
  return std::all_of(tables.begin(), tables.end(), [](const TableLag& t) { return t.known; });
}

int64_t LoadLag::versions() const {
  int64_t n = 0;
  for (const TableLag& t : tables) n += t.versions();
  return n;
}

std::optional<WallTime> LoadLag::oldest_pending() const {
  std::optional<WallTime> oldest;
  for (const TableLag& t : tables) {
    if (t.oldest_pending && (!oldest || *t.oldest_pending < *oldest)) oldest = t.oldest_pending;
  }
  return oldest;
}

std::chrono::duration<double> LoadLag::Age(std::optional<WallTime> oldest_pending, WallTime now) {
  if (!oldest_pending || now <= *oldest_pending) return std::chrono::duration<double>(0);
  return now - *oldest_pending;
}

}  // namespace smartcity::warehouse
