#include "lake/compaction.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/time.h"
#include "lake/delta_log.h"
#include "lake/iceberg.h"
#include "lake/symlink_manifest.h"

namespace smartcity::lake {

namespace fs = std::filesystem;

namespace {

struct Group {
  std::string dir;  // partition folder, "" for an unpartitioned table
  PartitionValues values;
  std::vector<AddFile> inputs;
  AddFile output;
  int64_t rows = 0;
};

int64_t WallMillis(Clock* clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             Clock::OrReal(clock)->WallNow().time_since_epoch())
      .count();
}

std::chrono::system_clock::time_point SystemTimeOf(WallTime t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(t.time_since_epoch()));
}

// The version of a _delta_log object name: "<20 digits>.json" or "<20
// digits>.checkpoint.parquet"; -1 for anything else.
int64_t LogVersion(std::string_view name, std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return -1;
  int64_t v = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// The partition folder of a data file: its path up to the last '/'.
std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// Delta stats of a Parquet file, computed by DuckDB.
Result<std::string> StatsOfFile(engine::Connection* conn, const std::string& file, int64_t* rows) {
  const std::string src =
      fmt::format("read_parquet({}, hive_partitioning = false)", engine::QuoteLiteral(file));
  SC_ASSIGN_OR_RETURN(auto desc, conn->Query("DESCRIBE SELECT * FROM " + src));
  std::vector<std::pair<std::string, std::string>> cols;  // name, DuckDB type
  for (size_t r = 0; r < desc.row_count(); ++r)
    cols.emplace_back(desc.GetString(0, r), desc.GetString(1, r));
  std::string sql = "SELECT count(*)";
  for (const auto& [name, type] : cols) {
    const std::string q = engine::QuoteIdentifier(name);
    if (type == "TIMESTAMP WITH TIME ZONE" || type == "TIMESTAMP") {
      sql += fmt::format(", epoch_us(min({0})), epoch_us(max({0}))", q);
    } else if (type == "VARCHAR" || type == "BIGINT" || type == "INTEGER" || type == "DOUBLE" ||
               type == "BOOLEAN") {
      sql += fmt::format(", min({0}), max({0})", q);
    } else {
      sql += ", NULL, NULL";
    }
    sql += fmt::format(", count(*) - count({})", q);
  }
  SC_ASSIGN_OR_RETURN(auto r, conn->Query(sql + " FROM " + src));
  nlohmann::ordered_json mins = nlohmann::ordered_json::object(),
                         maxs = nlohmann::ordered_json::object(),
                         nulls = nlohmann::ordered_json::object();
  *rows = r.GetInt64(0, 0);
  for (size_t i = 0; i < cols.size(); ++i) {
    const auto& [name, type] = cols[i];
    const size_t lo = 1 + 3 * i, hi = lo + 1, nc = lo + 2;
    nulls[name] = r.GetInt64(nc, 0);
    if (r.IsNull(lo, 0) || r.IsNull(hi, 0)) continue;
    if (type == "VARCHAR") {
      const std::string a = r.GetString(lo, 0), b = r.GetString(hi, 0);
      mins[name] = std::string(Utf8Prefix(a, kMaxStatStringBytes));
      if (b.size() <= kMaxStatStringBytes) maxs[name] = b;
    } else if (type == "DOUBLE") {
      double a = r.GetDouble(lo, 0), b = r.GetDouble(hi, 0);
      if (std::isfinite(a) && std::isfinite(b)) {
        mins[name] = a;
        maxs[name] = b;
      }
    } else if (type == "BOOLEAN") {
      mins[name] = r.GetBool(lo, 0);
      maxs[name] = r.GetBool(hi, 0);
    } else if (type.rfind("TIMESTAMP", 0) == 0) {
      mins[name] = StatsTimestamp(r.GetInt64(lo, 0), false);
      maxs[name] = StatsTimestamp(r.GetInt64(hi, 0), true);
    } else {
      mins[name] = r.GetInt64(lo, 0);
      maxs[name] = r.GetInt64(hi, 0);
    }
  }
  return nlohmann::ordered_json{
      {"numRecords", *rows}, {"minValues", mins}, {"maxValues", maxs}, {"nullCount", nulls}}
      .dump();
}

// One bound of a column's values (min or max) taken from several files' Delta stats.
class BoundMerger {
 public:
  BoundMerger(LogicalType type, bool want_max) : type_(type), want_max_(want_max) {}

  // A file with `value` (null: the file recorded none) and whether all its rows are null there.
  void Add(const nlohmann::json* value, bool all_null) {
    if (!known_) return;
    if (value == nullptr || value->is_null()) {
      if (!all_null) known_ = false;  // the file has values but no bound: the merge has none
      return;
    }
    if (best_.is_null() || Better(*value, best_)) best_ = *value;
    if (!known_) best_ = nullptr;
  }

  // The merged bound, or null when unknown (or every file had only nulls).
  const nlohmann::json& bound() const {
    static const nlohmann::json kNone;
    return known_ ? best_ : kNone;
  }

 private:
  // Whether `a` is a tighter bound than `b` (smaller for a min, larger for a max).
  bool Better(const nlohmann::json& a, const nlohmann::json& b) {
    if (type_ == LogicalType::kTimestamp) {
      // Writers spell a timestamp differently ("…00.000Z", "…00Z", "+00:00"): compare instants.
      auto ta = InstantOf(a), tb = InstantOf(b);
      if (!ta || !tb) {
        known_ = false;
        return false;
      }
      return want_max_ ? *tb < *ta : *ta < *tb;
    }
    const bool comparable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                            (a.is_boolean() && b.is_boolean());
    if (!comparable) {
      known_ = false;
      return false;
    }
    return want_max_ ? b < a : a < b;  // strings: byte order, as Delta's
  }

  static std::optional<EventTime> InstantOf(const nlohmann::json& v) {
    if (!v.is_string()) return std::nullopt;
    auto t = ParseTimestamp(v.get<std::string>());
    return t.ok() ? std::optional<EventTime>(*t) : std::nullopt;
  }

  LogicalType type_;
  bool want_max_;
  bool known_ = true;
  nlohmann::json best_;
};

// The Delta stats of the file that holds exactly the rows of `inputs`, from their own stats, so
// that compaction need not read its output again: numRecords and nullCount add up, a min is the
// least of the mins and a max the greatest of the maxes. A bound an input lacks (a long string, a
// NaN) is dropped, unless that input has only nulls in the column. None when an input has no stats
// or no null count for a column of the file (then the caller reads the output).
std::optional<std::string> MergedStats(const Metadata& metadata,
                                       const std::vector<AddFile>& inputs) {
  std::vector<const DeltaField*> columns;  // the data file's columns: all but the partition ones
  for (const DeltaField& f : metadata.schema.fields) {
    if (std::find(metadata.partition_columns.begin(), metadata.partition_columns.end(), f.name) ==
        metadata.partition_columns.end()) {
      columns.push_back(&f);
    }
  }
  std::vector<BoundMerger> mins, maxs;
  std::vector<int64_t> nulls(columns.size(), 0);
  for (const DeltaField* c : columns) {
    mins.emplace_back(c->type, false);
    maxs.emplace_back(c->type, true);
  }
  int64_t records = 0;
  for (const AddFile& f : inputs) {
    if (f.stats.empty()) return std::nullopt;
    auto st = nlohmann::json::parse(f.stats, nullptr, /*allow_exceptions=*/false);
    if (!st.is_object() || !st.contains("numRecords") || !st["numRecords"].is_number_integer() ||
        !st.contains("nullCount") || !st["nullCount"].is_object()) {
      return std::nullopt;
    }
    const int64_t n = st["numRecords"].get<int64_t>();
    records += n;
    const auto& nc = st["nullCount"];
    const nlohmann::json none;
    const auto& lo = st.contains("minValues") ? st["minValues"] : none;
    const auto& hi = st.contains("maxValues") ? st["maxValues"] : none;
    for (size_t i = 0; i < columns.size(); ++i) {
      const std::string& name = columns[i]->name;
      auto it = nc.find(name);
      if (it == nc.end() || !it->is_number_integer()) return std::nullopt;
      const int64_t col_nulls = it->get<int64_t>();
      nulls[i] += col_nulls;
      const bool all_null = col_nulls >= n;
      auto bound = [&](const nlohmann::json& side) -> const nlohmann::json* {
        if (!side.is_object()) return nullptr;
        auto b = side.find(name);
        return b == side.end() ? nullptr : &*b;
      };
      mins[i].Add(bound(lo), all_null);
      maxs[i].Add(bound(hi), all_null);
    }
  }
  nlohmann::ordered_json lo = nlohmann::ordered_json::object(),
                         hi = nlohmann::ordered_json::object(),
                         nc = nlohmann::ordered_json::object();
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string& name = columns[i]->name;
    nc[name] = nulls[i];
    if (!mins[i].bound().is_null()) lo[name] = mins[i].bound();
    if (!maxs[i].bound().is_null()) hi[name] = maxs[i].bound();
  }
  return nlohmann::ordered_json{
      {"numRecords", records}, {"minValues", lo}, {"maxValues", hi}, {"nullCount", nc}}
      .dump();
}

// A local file with the object's bytes: the object itself on a local store, else a downloaded copy
// (recorded in `temps` for removal).
Result<std::string> LocalCopy(ObjectStore* store, const std::string& key, const fs::path& scratch,
                              std::vector<fs::path>* temps) {
  if (auto p = store->LocalPath(key)) return p->string();
  SC_ASSIGN_OR_RETURN(std::string bytes, store->Get(key));
  fs::path tmp = scratch / fmt::format("compact-in-{}.parquet", NewUuid());
  std::ofstream out(tmp, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good())
    return Status::IOError(fmt::format("cannot write scratch file {}", tmp.string()));
  temps->push_back(tmp);
  return tmp.string();
}

// Rewrites one group's inputs into one uploaded file; fills g->output and g->rows.
Status Rewrite(ObjectStore* store, engine::Connection* conn, const DeltaLog& log,
               const Metadata& metadata, const CompactionOptions& o, Group* g) {
  std::vector<fs::path> temps;
  std::string list;
  int64_t expected = 0;
  bool expected_known = true;
  Status s;
  for (const AddFile& f : g->inputs) {
    auto local = LocalCopy(store, log.KeyPrefix() + f.path, o.scratch_dir, &temps);
    if (!local.ok()) {
      s = local.status();
      break;
    }
    list += (list.empty() ? "" : ", ") + engine::QuoteLiteral(*local);
    const int64_t n = f.NumRecords();
    if (n < 0) expected_known = false;
    expected += std::max<int64_t>(0, n);
  }
  const std::string name =
      fmt::format("part-00000-{}.c000.compact.{}.parquet", NewUuid(), o.parquet.compression);
  const fs::path out = o.scratch_dir / ("compact-out-" + name);
  int64_t rows = 0;
  // hive_partitioning=false: the partition values live in the log, never in the data files.
  const std::string select = fmt::format(
      "SELECT * FROM read_parquet([{}], union_by_name = true, hive_partitioning = false)", list);
  engine::ParquetCopyOptions copy = CopyOptionsOf(o.parquet);
  if (s.ok()) {
    // The merged file's columns get their field ids, as a writer's files do (lake/iceberg.h).
    auto described = conn->Query("DESCRIBE " + select);
    if (described.ok()) {
      std::vector<std::string> names;
      const int name_col = described->ColumnIndex("column_name");
      for (size_t r = 0; name_col >= 0 && r < described->row_count(); ++r)
        names.push_back(described->GetString(static_cast<size_t>(name_col), r));
      copy.field_ids = ParquetFieldIdsOf(metadata.schema, names);
    } else {
      s = described.status();
    }
  }
  if (s.ok()) {
    // COPY answers the number of rows it wrote.
    auto copied =
        conn->Query(fmt::format("COPY ({}) TO {} ({})", select, engine::QuoteLiteral(out.string()),
                                engine::ParquetCopyOptionsSql(copy)));
    if (copied.ok()) {
      rows = copied->GetInt64(0, 0);
    } else {
      s = copied.status();
    }
  }
  std::string stats;
  if (s.ok()) {
    // The inputs' stats add up to the output's; reading the new file back for them cost about a
    // fifth of a compaction. Inputs without usable stats (another writer's) are read instead.
    if (auto merged = MergedStats(metadata, g->inputs)) {
      stats = std::move(*merged);
    } else {
      int64_t read_rows = 0;
      auto st = StatsOfFile(conn, out.string(), &read_rows);
      if (st.ok()) {
        stats = std::move(*st);
      } else {
        s = st.status();
      }
    }
  }
  if (s.ok() && expected_known && rows != expected) {
    s = Status::Internal(
        fmt::format("compaction of {} read {} rows but the log says {}; nothing was changed",
                    g->dir, rows, expected));
  }
  std::error_code ec;
  uint64_t size = s.ok() ? fs::file_size(out, ec) : 0;
  const std::string path = g->dir + name;
  if (s.ok()) s = store->PutFile(log.KeyPrefix() + path, out);
  fs::remove(out, ec);
  for (const fs::path& t : temps) fs::remove(t, ec);
  if (!s.ok()) return s;
  g->rows = rows;
  g->output.path = path;
  g->output.partition_values = g->values;
  g->output.size = static_cast<int64_t>(size);
  g->output.modification_time_ms = WallMillis(o.clock);
  g->output.data_change = false;
  g->output.stats = std::move(stats);
  return Status::OK();
}

}  // namespace

uint64_t CompactionRowGroupRows(uint64_t memory_bytes) {
  constexpr uint64_t kVector = 2048, kMin = 5 * kVector, kMax = 60 * kVector;
  if (memory_bytes == 0) return kMax;
  const uint64_t rows = memory_bytes / 1600 / kVector * kVector;
  return std::clamp(rows, kMin, kMax);
}

Result<CompactionResult> CompactTable(ObjectStore* store, engine::Database* db,
                                      const std::string& table_prefix,
                                      const CompactionOptions& options) {
  CompactionOptions o = options;
  if (o.scratch_dir.empty()) o.scratch_dir = fs::temp_directory_path() / "smartcity-lake";
  std::error_code ec;
  fs::create_directories(o.scratch_dir, ec);
  DeltaLog log(store, table_prefix, TableAccess::kWrite);
  SC_ASSIGN_OR_RETURN(auto conn, db->Connect());
  SC_ASSIGN_OR_RETURN(Snapshot snap, log.Load(conn.get()));
  CompactionResult result;
  result.table_version = snap.version;
  if (!snap.exists()) {
    return Status::NotFound(
        fmt::format("no Delta table at {} in {}", table_prefix, store->Describe()));
  }

  // Small files per partition folder, oldest first, packed into groups of about the target size.
  std::map<std::string, std::vector<AddFile>> small;
  for (const auto& [path, f] : snap.files) {
    // A file with a deletion vector (rows deleted by another engine) is never rewritten: its
    // rows are not all live, and dropping the vector would bring deleted rows back.
    if (f.deletion_vector) continue;
    if (static_cast<uint64_t>(f.size) < o.small_file_bytes) small[DirOf(path)].push_back(f);
  }
  std::vector<Group> groups;
  for (auto& [dir, files] : small) {
    if (files.size() < 2) continue;
    if (o.select ? !o.select(files.front().partition_values, static_cast<int>(files.size()))
                 : static_cast<int>(files.size()) < o.min_files) {
      continue;
    }
    std::sort(files.begin(), files.end(), [](const AddFile& a, const AddFile& b) {
      return a.modification_time_ms != b.modification_time_ms
                 ? a.modification_time_ms < b.modification_time_ms
                 : a.path < b.path;
    });
    Group g;
    uint64_t bytes = 0;
    auto close = [&] {
      if (g.inputs.size() >= 2) groups.push_back(std::move(g));
      g = Group{};
      bytes = 0;
    };
    for (AddFile& f : files) {
      if (!g.inputs.empty() && bytes + static_cast<uint64_t>(f.size) > o.target_file_bytes) close();
      g.dir = dir;
      g.values = f.partition_values;
      bytes += static_cast<uint64_t>(f.size);
      g.inputs.push_back(std::move(f));
    }
    close();
  }
  if (groups.empty()) return result;

  std::vector<Group> done;
  for (Group& g : groups) {
    Status s = Rewrite(store, conn.get(), log, snap.metadata, o, &g);
    if (!s.ok()) {
      for (const Group& d : done) (void)store->Delete(log.KeyPrefix() + d.output.path);
      return s.WithContext(fmt::format("compacting table {}", table_prefix));
    }
    done.push_back(std::move(g));
  }

  for (int attempt = 1; attempt <= o.max_commit_attempts; ++attempt) {
    result.attempts = attempt;
    // Give up groups whose inputs are no longer all active (another compaction got there first).
    std::vector<Group> keep;
    for (Group& g : done) {
      bool all_active = std::all_of(g.inputs.begin(), g.inputs.end(), [&](const AddFile& f) {
        // Still active and still without a deletion vector (a DELETE by another engine adds
        // one to the same path).
        auto it = snap.files.find(f.path);
        return it != snap.files.end() && !it->second.deletion_vector;
      });
      if (all_active) {
        keep.push_back(std::move(g));
      } else {
        ++result.groups_abandoned;
        (void)store->Delete(log.KeyPrefix() + g.output.path);
      }
    }
    done = std::move(keep);
    if (done.empty()) return result;

    CommitActions c;
    CommitInfo ci;
    ci.timestamp_ms = WallMillis(o.clock);
    ci.operation = "OPTIMIZE";
    ci.operation_parameters = {{"predicate", "[]"},
                               {"targetSize", std::to_string(o.target_file_bytes)}};
    ci.is_blind_append = false;
    ci.txn_id = NewUuid();
    c.commit_info = ci;
    std::set<std::string> dirs;
    for (const Group& g : done) {
      dirs.insert(g.dir);
      c.adds.push_back(g.output);
      for (const AddFile& f : g.inputs) {
        RemoveFile r;
        r.path = f.path;
        r.deletion_timestamp_ms = ci.timestamp_ms;
        r.data_change = false;
        r.partition_values = f.partition_values;
        r.size = f.size;
        r.extra = f.extra;
        c.removes.push_back(std::move(r));
      }
    }
    const int64_t version = snap.version + 1;
    Status s = log.WriteCommit(version, c);
    if (s.ok()) {
      result.table_version = version;
      result.partitions_compacted = static_cast<int>(dirs.size());
      result.files_removed = static_cast<int>(c.removes.size());
      result.files_added = static_cast<int>(c.adds.size());
      for (const Group& g : done) result.rows_rewritten += g.rows;
      for (const AddFile& f : c.adds) result.bytes_added += static_cast<uint64_t>(f.size);
      for (const RemoveFile& r : c.removes) result.bytes_removed += static_cast<uint64_t>(r.size);
      snap.Apply(c, version);
      if (o.checkpoint_interval > 0 && version % o.checkpoint_interval == 0) {
        // Only a shortcut for readers (and what log clean-up keeps): failing to write it loses
        // nothing.
        (void)log.WriteCheckpoint(snap, conn.get(), o.scratch_dir.string());
      }
      // A table with Iceberg metadata gets the compaction's snapshot there too (after the commit,
      // never part of it: a failure leaves the Delta commit standing).
      auto has_iceberg = HasIcebergMetadata(store, table_prefix);
      Status mirrored = has_iceberg.ok() ? Status::OK() : has_iceberg.status();
      if (has_iceberg.ok() && *has_iceberg) {
        auto m = MirrorToIceberg(store, table_prefix, snap);
        if (!m.ok()) mirrored = m.status();
      }
      if (!mirrored.ok()) {
        result.iceberg_error = mirrored.message();
        std::fprintf(stderr,
                     "smartcity: warning: table %s: compaction committed as version %lld, but its "
                     "Iceberg metadata was not written (the next commit retries): %s\n",
                     table_prefix.c_str(), static_cast<long long>(version),
                     result.iceberg_error.c_str());
      }
      if (SymlinkManifestEnabled(snap.metadata)) {
        // The compaction removed files: the manifests must stop naming them. A failure does not
        // undo the commit; the next commit of the table rewrites the manifests.
        auto m = UpdateSymlinkManifest(&log, store, &snap, conn.get());
        if (!m.ok()) {
          result.manifest_error = m.status().message();
          std::fprintf(stderr,
                       "smartcity: warning: table %s: compaction committed as version %lld, but "
                       "its symlink manifest was not rewritten (the next commit retries): %s\n",
                       table_prefix.c_str(), static_cast<long long>(version),
                       result.manifest_error.c_str());
        }
      }
      return result;
    }
    if (s.kind() != ErrorKind::kAlreadyExists) {
      // Outcome unknown: leave the new files (orphans if the commit did not land; vacuum removes
      // them).
      return s.WithContext(fmt::format("committing the compaction of table {}", table_prefix));
    }
    SC_ASSIGN_OR_RETURN(int applied, log.Update(&snap));
    (void)applied;
  }
  for (const Group& g : done) (void)store->Delete(log.KeyPrefix() + g.output.path);
  return Status::Unavailable(
      fmt::format("compaction of table {} lost the race for a commit version {} times",
                  table_prefix, o.max_commit_attempts));
}

Result<VacuumResult> VacuumTable(ObjectStore* store, const std::string& table_prefix,
                                 const VacuumOptions& options) {
  DeltaLog log(store, table_prefix, TableAccess::kWrite);
  std::unique_ptr<engine::Connection> conn;
  if (options.db != nullptr) {
    SC_ASSIGN_OR_RETURN(conn, options.db->Connect());
  }
  SC_ASSIGN_OR_RETURN(Snapshot snap, log.Load(conn.get()));
  if (!snap.exists()) {
    return Status::NotFound(
        fmt::format("no Delta table at {} in {}", table_prefix, store->Describe()));
  }
  const std::string prefix = log.KeyPrefix();
  const auto cutoff = SystemTimeOf(Clock::OrReal(options.clock)->WallNow()) - options.retention;
  // Files removed by a commit made after the cutoff stay: a reader may still be on a snapshot that
  // has them. (Such a commit is in the JSON log: log clean-up keeps at least the retention.)
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> log_objects, store->List(prefix + "_delta_log/"));
  std::set<std::string> recently_removed;
  for (const ObjectInfo& o : log_objects) {
    const int64_t v = LogVersion(std::string_view(o.key).substr(o.key.rfind('/') + 1), ".json");
    if (v < 0 || o.modified <= cutoff) continue;
    auto c = log.ReadCommit(v);
    if (!c.ok()) {
      if (c.status().kind() == ErrorKind::kNotFound) continue;  // cleaned up meanwhile
      return c.status();
    }
    for (const RemoveFile& r : c->removes) recently_removed.insert(r.path);
  }
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store->List(prefix));
  VacuumResult result;
  for (const ObjectInfo& o : objects) {
    std::string rel = o.key.substr(prefix.size());
    if (rel.rfind("_delta_log/", 0) == 0) continue;
    // Another table nested below this one keeps its own files.
    if (rel.find("/_delta_log/") != std::string::npos) continue;
    if (rel.size() < 8 || rel.substr(rel.size() - 8) != ".parquet") continue;
    if (snap.files.count(rel) != 0 || o.modified > cutoff) continue;
    if (recently_removed.count(rel) != 0) continue;
    if (!options.dry_run) SC_RETURN_IF_ERROR(store->Delete(o.key));
    ++result.files_deleted;
    result.bytes_deleted += o.size;
    result.deleted.push_back(o.key);
  }
  // Iceberg metadata beside the log: files of snapshots and metadata versions it no longer keeps.
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> unreferenced,
                      UnreferencedIcebergFiles(store, table_prefix));
  for (const ObjectInfo& o : unreferenced) {
    if (o.modified > cutoff) continue;
    if (!options.dry_run) SC_RETURN_IF_ERROR(store->Delete(o.key));
    ++result.iceberg_files_deleted;
    result.bytes_deleted += o.size;
    result.deleted.push_back(o.key);
  }
  return result;
}

Result<LogCleanupResult> CleanupLog(ObjectStore* store, const std::string& table_prefix,
                                    std::chrono::seconds retention, Clock* clock,
                                    std::optional<int64_t> keep_after) {
  DeltaLog log(store, table_prefix, TableAccess::kWrite);
  const std::string dir = log.KeyPrefix() + "_delta_log/";
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store->List(dir));
  const auto cutoff = SystemTimeOf(Clock::OrReal(clock)->WallNow()) - retention;
  LogCleanupResult result;
  std::map<int64_t, const ObjectInfo*> commits, checkpoints;
  for (const ObjectInfo& o : objects) {
    const std::string_view name = std::string_view(o.key).substr(dir.size());
    if (int64_t v = LogVersion(name, ".json"); v >= 0) commits[v] = &o;
    if (int64_t v = LogVersion(name, ".checkpoint.parquet"); v >= 0) checkpoints[v] = &o;
  }
  // C: the newest checkpoint written before the cutoff.
  int64_t c = -1;
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
    if (keep_after && it->first > *keep_after + 1) continue;
    if (it->second->modified <= cutoff) {
      c = it->first;
      break;
    }
  }
  if (c <= 0) return result;
  // Readers start at _last_checkpoint: it must name C or a newer checkpoint that exists, or they
  // would need what is about to go.
  auto last = store->Get(log.LastCheckpointKey());
  if (!last.ok()) {
    if (last.status().kind() == ErrorKind::kNotFound) return result;
    return last.status();
  }
  const nlohmann::json j = nlohmann::json::parse(*last, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("version") ||
      !j["version"].is_number_integer()) {
    return result;
  }
  const int64_t named = j["version"].get<int64_t>();
  if (named < c || checkpoints.count(named) == 0) return result;
  result.checkpoint_version = c;
  // Oldest first: a crash in the middle leaves checkpoint C and an unbroken run of commits.
  for (const auto& [v, o] : commits) {
    if (v >= c) break;
    SC_RETURN_IF_ERROR(store->Delete(o->key));
    ++result.commits_deleted;
  }
  for (const auto& [v, o] : checkpoints) {
    if (v >= c) break;
    SC_RETURN_IF_ERROR(store->Delete(o->key));
    ++result.checkpoints_deleted;
  }
  return result;
}

Result<std::vector<std::string>> ListTables(ObjectStore* store, const std::string& root_prefix) {
  std::string prefix = root_prefix;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store->List(prefix));
  std::set<std::string> tables;
  for (const ObjectInfo& o : objects) {
    size_t at = o.key.find("_delta_log/");
    if (at == std::string::npos || (at > 0 && o.key[at - 1] != '/')) continue;
    std::string t = o.key.substr(0, at);
    if (!t.empty()) t.pop_back();
    tables.insert(t);
  }
  return std::vector<std::string>(tables.begin(), tables.end());
}

}  // namespace smartcity::lake
