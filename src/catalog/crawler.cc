// Crawl(): finds the tables under a lake root and describes each one (see catalog.h).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "catalog/catalog.h"
#include "common/time.h"
#include "lake/delta_log.h"
#include "lake/iceberg.h"

namespace smartcity::catalog {

namespace {

std::string IsoTime(std::chrono::system_clock::time_point t) {
  return FormatTimestamp(std::chrono::time_point_cast<Micros>(t));
}

std::string IsoMillis(int64_t ms) {
  return FormatTimestamp(EventTime(Micros(ms * 1000)));
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.emplace_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string CatalogTypeName(LogicalType t) {
  switch (t) {
    case LogicalType::kString:
      return "VARCHAR";
    case LogicalType::kInt32:
      return "INTEGER";
    case LogicalType::kInt64:
      return "BIGINT";
    case LogicalType::kDouble:
      return "DOUBLE";
    case LogicalType::kTimestamp:
      return "TIMESTAMP WITH TIME ZONE";
    case LogicalType::kBool:
      return "BOOLEAN";
    case LogicalType::kDate:
      return "DATE";
  }
  return "VARCHAR";
}

namespace {

// "a%3Ab" -> "a:b" (Hive folder escaping); __HIVE_DEFAULT_PARTITION__ -> null.
std::optional<std::string> UnescapeHive(std::string_view v) {
  if (v == "__HIVE_DEFAULT_PARTITION__") return std::nullopt;
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

// A SQL-friendly table name from a folder path: "sales/eu" -> "sales_eu".
std::string TableName(const std::string& prefix) {
  if (prefix.empty()) return "lake_root";
  std::string out;
  for (char c : prefix) {
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  }
  return out;
}

std::string Sql(std::string_view s) {
  return engine::QuoteLiteral(s);
}

// Infers the type of a Hive partition column from its folder values, as DuckDB's
// hive_partitioning does: all integers -> BIGINT, all dates -> DATE, else VARCHAR.
std::string InferPartitionType(const std::vector<std::optional<std::string>>& values) {
  bool all_int = true, all_date = true, any = false;
  for (const auto& v : values) {
    if (!v) continue;
    any = true;
    const std::string& s = *v;
    bool is_int = !s.empty() && s.size() < 19;
    for (size_t i = 0; i < s.size(); ++i) {
      if (!(std::isdigit(static_cast<unsigned char>(s[i])) ||
            (i == 0 && s[i] == '-' && s.size() > 1))) {
        is_int = false;
      }
    }
    bool is_date = s.size() == 10 && s[4] == '-' && s[7] == '-';
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
      if (is_date && !std::isdigit(static_cast<unsigned char>(s[i]))) is_date = false;
    }
    all_int = all_int && is_int;
    all_date = all_date && is_date;
  }
  if (!any) return "VARCHAR";
  if (all_int) return "BIGINT";
  if (all_date) return "DATE";
  return "VARCHAR";
}

void AddPartition(std::map<std::string, Partition>* parts, const Partition& key_values,
                  const std::vector<std::string>& pcols, int64_t rows, int64_t bytes) {
  Partition& p = (*parts)[key_values.Path(pcols)];
  p.values = key_values.values;
  p.files += 1;
  p.rows += rows;
  p.bytes += bytes;
}

TableEntry CrawlDelta(lake::ObjectStore* store, engine::Connection* conn, const std::string& prefix,
                      const std::string& crawled_at) {
  TableEntry t;
  t.prefix = prefix;
  t.name = TableName(prefix);
  t.format = "delta";
  t.location = store->ReaderUri(prefix.empty() ? std::string("_delta_log") : prefix);
  if (prefix.empty() && !t.location.empty()) t.location.resize(t.location.size() - 10);
  lake::DeltaLog log(store, prefix, lake::TableAccess::kInspect);
  auto snap = log.Load(conn);
  if (!snap.ok()) {
    t.problems.push_back("the Delta log cannot be read: " + snap.status().message());
    t.unreadable = true;
    return t;
  }
  if (!snap->exists()) {
    t.problems.push_back("the _delta_log folder holds no commit yet");
    return t;
  }
  t.delta_version = snap->version;
  auto iceberg = lake::LoadIcebergState(store, prefix);
  if (!iceberg.ok()) {
    t.problems.push_back("the Iceberg metadata cannot be read: " + iceberg.status().message());
  } else if (iceberg->metadata_version > 0) {
    t.iceberg_metadata = iceberg->metadata_key.substr(prefix.empty() ? 0 : prefix.size() + 1);
  }
  const auto& pcols = snap->metadata.partition_columns;
  std::set<std::string> pset(pcols.begin(), pcols.end());
  for (const lake::DeltaField& f : snap->metadata.schema.fields) {
    if (pset.count(f.name)) continue;
    t.columns.push_back({f.name, CatalogTypeName(f.type)});
  }
  for (const std::string& pc : pcols) {
    int i = snap->metadata.schema.IndexOf(pc);
    t.partition_columns.push_back(
        {pc, i >= 0 ? CatalogTypeName(snap->metadata.schema.fields[i].type) : "VARCHAR"});
  }
  std::map<std::string, Partition> parts;
  int64_t unknown_rows = 0;
  int64_t newest_file_ms = 0;
  for (const auto& [path, add] : snap->files) {
    int64_t rows = add.LiveRecords();  // rows deleted by a deletion vector do not count
    if (rows < 0) {
      ++unknown_rows;
      rows = 0;
    }
    Partition pv;
    for (const std::string& pc : pcols) {
      auto it = add.partition_values.find(pc);
      pv.values[pc] = it == add.partition_values.end() ? std::nullopt : it->second;
    }
    AddPartition(&parts, pv, pcols, rows, add.size);
    t.file_count += 1;
    t.row_count += rows;
    t.size_bytes += add.size;
    newest_file_ms = std::max(newest_file_ms, add.modification_time_ms);
  }
  if (unknown_rows > 0) {
    t.problems.push_back(fmt::format(
        "{} data files have no numRecords statistic; the row count leaves them out", unknown_rows));
  }
  for (auto& [path, p] : parts) {
    if (!pcols.empty()) t.partitions.push_back(std::move(p));
  }
  auto head = store->Head(log.CommitKey(snap->version));
  t.last_modified = head.ok() ? IsoTime(head->modified) : IsoMillis(newest_file_ms);
  t.schema_versions.push_back({1, t.AllColumns(), crawled_at, ChangeKind::kInitial, {}});
  return t;
}

struct FileSchema {
  std::vector<Column> columns;
  int64_t rows = 0;
};

Result<FileSchema> ReadParquetFooter(engine::Connection* conn, const std::string& uri) {
  FileSchema fs;
  SC_ASSIGN_OR_RETURN(
      auto d, conn->Query(fmt::format(
                  "DESCRIBE SELECT * FROM read_parquet({}, hive_partitioning = false)", Sql(uri))));
  int name = d.ColumnIndex("column_name"), type = d.ColumnIndex("column_type");
  for (size_t r = 0; r < d.row_count(); ++r) {
    fs.columns.push_back({d.GetString(name, r), d.GetString(type, r)});
  }
  SC_ASSIGN_OR_RETURN(
      auto n, conn->Query(fmt::format(
                  "SELECT count(*) FROM read_parquet({}, hive_partitioning = false)", Sql(uri))));
  fs.rows = n.GetInt64(0, 0);
  return fs;
}

struct RawFile {
  lake::ObjectInfo info;
  std::string rel;  // relative to the table prefix
  Partition partition;
  std::vector<std::string> partition_keys;  // in folder order
};

TableEntry CrawlParquet(lake::ObjectStore* store, engine::Connection* conn,
                        const std::string& prefix, std::vector<RawFile> files,
                        const std::string& crawled_at) {
  TableEntry t;
  t.prefix = prefix;
  t.name = TableName(prefix);
  t.location = store->ReaderUri(prefix.empty() ? std::string("x") : prefix);
  if (prefix.empty() && !t.location.empty()) t.location.pop_back();
  // Partition order, then write order inside a partition: "later" files come later.
  std::sort(files.begin(), files.end(), [](const RawFile& a, const RawFile& b) {
    auto da = a.rel.substr(0, a.rel.rfind('/') + 1), db = b.rel.substr(0, b.rel.rfind('/') + 1);
    if (da != db) return da < db;
    if (a.info.modified != b.info.modified) return a.info.modified < b.info.modified;
    return a.rel < b.rel;
  });
  std::optional<std::vector<std::string>> layout;
  std::vector<std::string> skipped_not_parquet, unreadable, other_layout;
  std::vector<Column> current;
  std::map<std::string, Partition> parts;
  std::chrono::system_clock::time_point newest{};
  std::map<std::string, std::vector<std::optional<std::string>>> pvalues;
  std::vector<std::pair<RawFile, FileSchema>> good;
  for (RawFile& f : files) {
    bool parquet_name = EndsWith(f.rel, ".parquet") || EndsWith(f.rel, ".parq");
    if (!parquet_name) {
      // Files without the extension (Spark/Hive writers) count if they carry the Parquet magic.
      auto tail = f.info.size >= 12 ? store->GetRange(f.info.key, f.info.size - 4, 4)
                                    : Result<std::string>(std::string());
      if (!tail.ok() || *tail != "PAR1") {
        skipped_not_parquet.push_back(f.rel);
        continue;
      }
    }
    if (!layout) layout = f.partition_keys;
    if (*layout != f.partition_keys) {
      other_layout.push_back(f.rel);
      continue;
    }
    std::string uri = store->ReaderUri(f.info.key);
    if (uri.empty()) {
      unreadable.push_back(f.rel + " (the store cannot be read by DuckDB)");
      continue;
    }
    auto fs = ReadParquetFooter(conn, uri);
    if (!fs.ok()) {
      unreadable.push_back(f.rel);
      continue;
    }
    good.emplace_back(std::move(f), std::move(*fs));
  }
  std::set<std::string> pkeys;
  if (layout) pkeys.insert(layout->begin(), layout->end());
  int version = 0;
  for (auto& [f, fs] : good) {
    // Columns that are also partition keys come from the folder (Hive's rule).
    std::vector<Column> cols;
    for (const Column& c : fs.columns)
      if (!pkeys.count(c.name)) cols.push_back(c);
    if (version == 0) {
      current = cols;
      t.schema_versions.push_back({++version, cols, crawled_at, ChangeKind::kInitial, {}});
    } else if (cols != current) {
      std::vector<std::string> details;
      ChangeKind kind = ClassifySchemaChange(current, cols, &details);
      if (kind == ChangeKind::kCompatible) {
        // Keep the old order, append the new columns.
        std::vector<Column> merged = current;
        for (const Column& c : cols) {
          if (std::none_of(merged.begin(), merged.end(),
                           [&](const Column& m) { return m.name == c.name; }))
            merged.push_back(c);
        }
        current = merged;
      } else if (!details.empty()) {
        current = cols;
      }
      if (!details.empty()) {
        SchemaVersion v{++version, current, crawled_at, kind, details};
        for (std::string& d : v.details) d += " (from " + f.rel + ")";
        t.schema_versions.push_back(std::move(v));
      }
    }
    t.files.push_back({f.rel, fs.rows, static_cast<int64_t>(f.info.size)});
    t.file_count += 1;
    t.row_count += fs.rows;
    t.size_bytes += static_cast<int64_t>(f.info.size);
    newest = std::max(newest, f.info.modified);
    for (const auto& [k, v] : f.partition.values) pvalues[k].push_back(v);
    AddPartition(&parts, f.partition, f.partition_keys, fs.rows, static_cast<int64_t>(f.info.size));
  }
  t.columns = current;
  // Schema versions hold data + partition columns (the view's columns).
  if (layout) {
    for (const std::string& k : *layout)
      t.partition_columns.push_back({k, InferPartitionType(pvalues[k])});
  }
  for (SchemaVersion& v : t.schema_versions) {
    v.columns.insert(v.columns.end(), t.partition_columns.begin(), t.partition_columns.end());
  }
  t.format = t.partition_columns.empty() ? "parquet" : "hive-parquet";
  for (auto& [path, p] : parts)
    if (!t.partition_columns.empty()) t.partitions.push_back(std::move(p));
  if (newest != std::chrono::system_clock::time_point{}) t.last_modified = IsoTime(newest);
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 3; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 3) s += fmt::format(", ... ({} more)", v.size() - 3);
    return s;
  };
  if (!skipped_not_parquet.empty()) {
    t.problems.push_back(fmt::format("{} files are not Parquet and were skipped (mixed folder): {}",
                                     skipped_not_parquet.size(), list(skipped_not_parquet)));
  }
  if (!unreadable.empty()) {
    t.problems.push_back(fmt::format("{} Parquet files cannot be read and were skipped: {}",
                                     unreadable.size(), list(unreadable)));
  }
  if (!other_layout.empty()) {
    t.problems.push_back(fmt::format(
        "{} files use a different partition layout than {} and were skipped: {}",
        other_layout.size(),
        layout && !layout->empty() ? fmt::format("{}", fmt::join(*layout, "/")) : "the table root",
        list(other_layout)));
  }
  return t;
}

}  // namespace

Result<Catalog> Crawl(lake::ObjectStore* store, engine::Connection* conn,
                      const std::string& lake_location) {
  Catalog c;
  c.lake = lake_location;
  c.crawled_at = IsoTime(std::chrono::system_clock::now());
  SC_ASSIGN_OR_RETURN(std::vector<lake::ObjectInfo> objects, store->List(""));
  // Delta tables first: every key below a table with a _delta_log belongs to it.
  std::set<std::string> delta_roots;
  for (const lake::ObjectInfo& o : objects) {
    size_t at = o.key.find("_delta_log/");
    if (at == std::string::npos || (at > 0 && o.key[at - 1] != '/')) continue;
    std::string root = o.key.substr(0, at);
    if (!root.empty()) root.pop_back();
    delta_roots.insert(root);
  }
  auto under_delta = [&](const std::string& key) {
    for (const std::string& r : delta_roots) {
      if (r.empty() || key.rfind(r + "/", 0) == 0) return true;
    }
    return false;
  };
  std::map<std::string, std::vector<RawFile>> parquet_tables;
  for (const lake::ObjectInfo& o : objects) {
    if (under_delta(o.key)) continue;
    std::vector<std::string> segs = Split(o.key, '/');
    // Hidden files and folders (_SUCCESS, .crc, _catalog/, .staging/, _checkpoints/) are not data.
    bool hidden = std::any_of(segs.begin(), segs.end(), [](const std::string& s) {
      return s.empty() || s[0] == '_' || s[0] == '.';
    });
    if (hidden || segs.size() < 2) continue;
    RawFile f;
    f.info = o;
    size_t first_kv = segs.size() - 1;
    for (size_t i = 0; i + 1 < segs.size(); ++i) {
      if (segs[i].find('=') != std::string::npos) {
        first_kv = i;
        break;
      }
    }
    std::string prefix;
    for (size_t i = 0; i < first_kv; ++i) prefix += (i ? "/" : "") + segs[i];
    if (prefix.empty()) continue;  // partition folders directly in the lake root: no table name
    bool bad = false;
    for (size_t i = first_kv; i + 1 < segs.size(); ++i) {
      size_t eq = segs[i].find('=');
      if (eq == std::string::npos || eq == 0) {
        bad = true;
        break;
      }
      std::string k = segs[i].substr(0, eq);
      f.partition_keys.push_back(k);
      f.partition.values[k] = UnescapeHive(std::string_view(segs[i]).substr(eq + 1));
    }
    f.rel = o.key.substr(prefix.size() + 1);
    if (bad) f.partition_keys.push_back("?");  // reported as a different layout
    parquet_tables[prefix].push_back(std::move(f));
  }
  for (const std::string& root : delta_roots)
    c.tables.push_back(CrawlDelta(store, conn, root, c.crawled_at));
  for (auto& [prefix, files] : parquet_tables) {
    c.tables.push_back(CrawlParquet(store, conn, prefix, std::move(files), c.crawled_at));
  }
  // Unique names (a/b and a_b would both be "a_b").
  std::sort(c.tables.begin(), c.tables.end(),
            [](const TableEntry& a, const TableEntry& b) { return a.prefix < b.prefix; });
  std::map<std::string, int> seen;
  for (TableEntry& t : c.tables) {
    int n = seen[t.name]++;
    if (n > 0) t.name += fmt::format("_{}", n + 1);
  }
  std::sort(c.tables.begin(), c.tables.end(),
            [](const TableEntry& a, const TableEntry& b) { return a.name < b.name; });
  return c;
}

}  // namespace smartcity::catalog
