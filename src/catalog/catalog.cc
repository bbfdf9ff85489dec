// Catalog model: JSON form, persistence, re-crawl comparison and the Athena / Glue exports.
#include "catalog/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/time.h"
#include "lake/delta_log.h"
#include "lake/symlink_manifest.h"

namespace smartcity::catalog {

namespace {
using ojson = nlohmann::ordered_json;

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

ojson ColumnsJson(const std::vector<Column>& cols) {
  ojson a = ojson::array();
  for (const Column& c : cols) a.push_back({{"name", c.name}, {"type", c.type}});
  return a;
}

std::vector<Column> ColumnsFrom(const ojson& a) {
  std::vector<Column> out;
  for (const auto& c : a)
    out.push_back({c.at("name").get<std::string>(), c.at("type").get<std::string>()});
  return out;
}

ChangeKind ChangeKindFrom(const std::string& s) {
  if (s == "compatible") return ChangeKind::kCompatible;
  if (s == "breaking") return ChangeKind::kBreaking;
  return ChangeKind::kInitial;
}

std::string PartitionsKey(const Partition& p) {
  std::string k;
  for (const auto& [name, v] : p.values) k += name + "=" + v.value_or("\x01null") + "/";
  return k;
}

}  // namespace

std::string_view ChangeKindName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kInitial:
      return "initial";
    case ChangeKind::kCompatible:
      return "compatible";
    case ChangeKind::kBreaking:
      return "breaking";
  }
  return "initial";
}

std::string Partition::Path(const std::vector<std::string>& partition_columns) const {
  std::string out;
  for (const std::string& c : partition_columns) {
    auto it = values.find(c);
    std::optional<std::string> v = it == values.end() ? std::nullopt : it->second;
    if (!out.empty()) out += '/';
    out += c + "=" + lake::EscapePartitionValue(v);
  }
  return out;
}

std::vector<Column> TableEntry::AllColumns() const {
  std::vector<Column> out = columns;
  out.insert(out.end(), partition_columns.begin(), partition_columns.end());
  return out;
}

const Column* TableEntry::FindColumn(std::string_view name) const {
  for (const Column& c : columns)
    if (c.name == name) return &c;
  for (const Column& c : partition_columns)
    if (c.name == name) return &c;
  return nullptr;
}

const TableEntry* Catalog::Find(std::string_view name) const {
  for (const TableEntry& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

bool CrawlDiff::any_breaking() const {
  return std::any_of(changes.begin(), changes.end(),
                     [](const TableChange& c) { return c.breaking; });
}

// ------------------------------------------------------------------------------------------ JSON

std::string ToJson(const Catalog& c) {
  ojson doc;
  doc["format"] = "smartcity-catalog";
  doc["format_version"] = c.format_version;
  doc["lake"] = c.lake;
  doc["crawled_at"] = c.crawled_at;
  ojson tables = ojson::array();
  for (const TableEntry& t : c.tables) {
    ojson j;
    j["name"] = t.name;
    j["prefix"] = t.prefix;
    j["location"] = t.location;
    j["format"] = t.format;
    j["columns"] = ColumnsJson(t.columns);
    j["partition_columns"] = ColumnsJson(t.partition_columns);
    j["file_count"] = t.file_count;
    j["row_count"] = t.row_count;
    j["size_bytes"] = t.size_bytes;
    j["last_modified"] = t.last_modified;
    if (t.delta_version >= 0) j["delta_version"] = t.delta_version;
    if (!t.iceberg_metadata.empty()) j["iceberg_metadata"] = t.iceberg_metadata;
    ojson parts = ojson::array();
    for (const Partition& p : t.partitions) {
      ojson v = ojson::object();
      for (const auto& [name, val] : p.values) v[name] = val ? ojson(*val) : ojson(nullptr);
      parts.push_back({{"values", v}, {"files", p.files}, {"rows", p.rows}, {"bytes", p.bytes}});
    }
    j["partitions"] = parts;
    if (t.format != "delta") {
      ojson files = ojson::array();
      for (const DataFile& f : t.files)
        files.push_back({{"path", f.path}, {"rows", f.rows}, {"bytes", f.bytes}});
      j["files"] = files;
    }
    ojson versions = ojson::array();
    for (const SchemaVersion& v : t.schema_versions) {
      versions.push_back({{"version", v.version},
                          {"since", v.since},
                          {"change", std::string(ChangeKindName(v.change))},
                          {"details", v.details},
                          {"columns", ColumnsJson(v.columns)}});
    }
    j["schema_versions"] = versions;
    j["problems"] = t.problems;
    tables.push_back(std::move(j));
  }
  doc["tables"] = tables;
  return doc.dump(2) + "\n";
}

Result<Catalog> CatalogFromJson(std::string_view text) {
  Catalog c;
  try {
    ojson doc = ojson::parse(text);
    if (doc.value("format", "") != "smartcity-catalog") {
      return Status::Corruption(
          "the catalog file is not a smartcity catalog (no \"format\": \"smartcity-catalog\")");
    }
    c.format_version = doc.at("format_version").get<int>();
    if (c.format_version > kCatalogFormatVersion) {
      return Status::InvalidArgument(
          fmt::format("the catalog has format version {}, newer than this smartcity reads ({}): "
                      "upgrade smartcity",
                      c.format_version, kCatalogFormatVersion));
    }
    c.lake = doc.value("lake", "");
    c.crawled_at = doc.value("crawled_at", "");
    for (const auto& j : doc.at("tables")) {
      TableEntry t;
      t.name = j.at("name").get<std::string>();
      t.prefix = j.value("prefix", "");
      t.location = j.value("location", "");
      t.format = j.at("format").get<std::string>();
      t.columns = ColumnsFrom(j.at("columns"));
      t.partition_columns = ColumnsFrom(j.at("partition_columns"));
      t.file_count = j.value("file_count", int64_t{0});
      t.row_count = j.value("row_count", int64_t{0});
      t.size_bytes = j.value("size_bytes", int64_t{0});
      t.last_modified = j.value("last_modified", "");
      t.delta_version = j.value("delta_version", int64_t{-1});
      t.iceberg_metadata = j.value("iceberg_metadata", "");
      for (const auto& pj : j.value("partitions", ojson::array())) {
        Partition p;
        for (const auto& [k, v] : pj.at("values").items()) {
          p.values[k] =
              v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>());
        }
        p.files = pj.value("files", int64_t{0});
        p.rows = pj.value("rows", int64_t{0});
        p.bytes = pj.value("bytes", int64_t{0});
        t.partitions.push_back(std::move(p));
      }
      for (const auto& fj : j.value("files", ojson::array())) {
        t.files.push_back({fj.at("path").get<std::string>(), fj.value("rows", int64_t{0}),
                           fj.value("bytes", int64_t{0})});
      }
      for (const auto& vj : j.value("schema_versions", ojson::array())) {
        SchemaVersion v;
        v.version = vj.at("version").get<int>();
        v.since = vj.value("since", "");
        v.change = ChangeKindFrom(vj.value("change", "initial"));
        v.details = vj.value("details", std::vector<std::string>{});
        v.columns = ColumnsFrom(vj.at("columns"));
        t.schema_versions.push_back(std::move(v));
      }
      t.problems = j.value("problems", std::vector<std::string>{});
      c.tables.push_back(std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(fmt::format("the catalog file is not valid: {}", e.what()));
  }
  return c;
}

Result<Catalog> LoadCatalog(lake::ObjectStore* lake, const std::string& local_path) {
  std::string text;
  if (!local_path.empty()) {
    std::ifstream in(local_path, std::ios::binary);
    if (!in) return Status::NotFound(fmt::format("no catalog file at {}", local_path));
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else {
    auto got = lake->Get(kDefaultCatalogKey);
    if (!got.ok()) {
      if (got.status().kind() == ErrorKind::kNotFound) {
        return Status::NotFound(
            fmt::format("no catalog in {} (object {})", lake->Describe(), kDefaultCatalogKey));
      }
      return got.status();
    }
    text = std::move(*got);
  }
  return CatalogFromJson(text);
}

Status SaveCatalog(const Catalog& c, lake::ObjectStore* lake, const std::string& local_path) {
  std::string text = ToJson(c);
  if (local_path.empty()) return lake->Put(kDefaultCatalogKey, text);
  // Write a temp file and rename it over the old one, so a reader never sees half a catalog.
  std::string tmp = local_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IOError(fmt::format("cannot write the catalog file {}", tmp));
    out << text;
    if (!out.flush()) return Status::IOError(fmt::format("cannot write the catalog file {}", tmp));
  }
  if (std::rename(tmp.c_str(), local_path.c_str()) != 0) {
    return Status::IOError(fmt::format("cannot replace the catalog file {}", local_path));
  }
  return Status::OK();
}

// ------------------------------------------------------------------------------- schema changes

ChangeKind ClassifySchemaChange(const std::vector<Column>& from, const std::vector<Column>& to,
                                std::vector<std::string>* details) {
  ChangeKind kind = ChangeKind::kInitial;
  auto find = [](const std::vector<Column>& cols, const std::string& name) -> const Column* {
    for (const Column& c : cols)
      if (c.name == name) return &c;
    return nullptr;
  };
  for (const Column& c : from) {
    const Column* n = find(to, c.name);
    if (n == nullptr) {
      details->push_back(fmt::format("dropped column {} {}", c.name, c.type));
      kind = ChangeKind::kBreaking;
    } else if (n->type != c.type) {
      details->push_back(fmt::format("column {}: type changed {} -> {}", c.name, c.type, n->type));
      kind = ChangeKind::kBreaking;
    }
  }
  for (const Column& c : to) {
    if (find(from, c.name) == nullptr) {
      details->push_back(fmt::format("added column {} {}", c.name, c.type));
      if (kind == ChangeKind::kInitial) kind = ChangeKind::kCompatible;
    }
  }
  return kind;
}

CrawlDiff MergeWithPrevious(const Catalog* previous, Catalog* current) {
  CrawlDiff diff;
  for (TableEntry& t : current->tables) {
    const TableEntry* old = previous != nullptr ? previous->Find(t.name) : nullptr;
    if (old == nullptr) {
      diff.changes.push_back(
          {t.name,
           fmt::format("new table ({}, {} columns, {} partitions, {} rows)", t.format,
                       t.AllColumns().size(), t.partitions.size(), t.row_count),
           false});
      // Schema changes seen inside the table on its first crawl (files with different schemas).
      for (const SchemaVersion& v : t.schema_versions) {
        if (v.change == ChangeKind::kInitial) continue;
        for (const std::string& d : v.details) {
          diff.changes.push_back(
              {t.name, fmt::format("schema v{} ({}): {}", v.version, ChangeKindName(v.change), d),
               v.change == ChangeKind::kBreaking});
        }
      }
      continue;
    }
    if (t.unreadable) {
      // A damaged log says nothing about the table's rows or schema: no change is reported (not
      // "rows 120 -> 0", not every column dropped), and the last crawl's facts are kept beside
      // the problem, so a repaired log crawls as unchanged.
      std::vector<std::string> problems = std::move(t.problems);
      t = *old;
      t.problems = std::move(problems);
      t.unreadable = true;
      continue;
    }
    std::set<std::string> old_parts;
    for (const Partition& p : old->partitions) old_parts.insert(PartitionsKey(p));
    std::vector<std::string> pcols;
    for (const Column& c : t.partition_columns) pcols.push_back(c.name);
    for (const Partition& p : t.partitions) {
      if (!old_parts.count(PartitionsKey(p))) {
        diff.changes.push_back({t.name, "new partition " + p.Path(pcols), false});
      }
    }
    if (t.row_count != old->row_count) {
      diff.changes.push_back(
          {t.name, fmt::format("rows {} -> {}", old->row_count, t.row_count), false});
    }
    // Schema history: keep every old version; append the new schema when it differs.
    std::vector<SchemaVersion> versions = old->schema_versions;
    const std::vector<Column> now = t.AllColumns();
    std::vector<Column> before = versions.empty() ? old->AllColumns() : versions.back().columns;
    std::vector<std::string> details;
    ChangeKind kind = ClassifySchemaChange(before, now, &details);
    if (!details.empty()) {
      SchemaVersion v;
      v.version = versions.empty() ? 2 : versions.back().version + 1;
      v.columns = now;
      v.since = current->crawled_at;
      v.change = kind;
      v.details = details;
      for (const std::string& d : details) {
        diff.changes.push_back(
            {t.name, fmt::format("schema v{} ({}): {}", v.version, ChangeKindName(kind), d),
             kind == ChangeKind::kBreaking});
      }
      versions.push_back(std::move(v));
    }
    if (versions.empty()) versions = t.schema_versions;
    t.schema_versions = std::move(versions);
  }
  if (previous != nullptr) {
    for (const TableEntry& old : previous->tables) {
      if (current->Find(old.name) == nullptr) {
        diff.changes.push_back(
            {old.name, "table no longer found (removed from the catalog)", true});
      }
    }
  }
  return diff;
}

// -------------------------------------------------------------------------------------- exports

std::string HiveType(std::string_view duckdb_type) {
  std::string t = Upper(duckdb_type);
  if (t == "VARCHAR" || t == "STRING" || t == "TEXT" || t == "UUID") return "string";
  if (t == "INTEGER" || t == "INT" || t == "INT32") return "int";
  if (t == "BIGINT" || t == "INT64" || t == "LONG") return "bigint";
  if (t == "SMALLINT") return "smallint";
  if (t == "TINYINT") return "tinyint";
  if (t == "DOUBLE") return "double";
  if (t == "FLOAT" || t == "REAL") return "float";
  if (t == "BOOLEAN") return "boolean";
  if (t == "DATE") return "date";
  if (t.rfind("TIMESTAMP", 0) == 0) return "timestamp";
  if (t == "BLOB") return "binary";
  if (t.rfind("DECIMAL", 0) == 0) {
    std::string d = t;
    for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    d.erase(std::remove(d.begin(), d.end(), ' '), d.end());
    return d;
  }
  if (t == "UINTEGER") return "bigint";
  if (t == "USMALLINT") return "int";
  if (t == "UTINYINT") return "smallint";
  if (t == "UBIGINT" || t == "HUGEINT") return "decimal(38,0)";
  return "string";
}

namespace {

constexpr std::string_view kParquetSerde =
    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
constexpr std::string_view kParquetInput =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
constexpr std::string_view kParquetOutput =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
// Reads the files a manifest lists (Delta tables in Redshift Spectrum).
constexpr std::string_view kSymlinkInput = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat";
constexpr std::string_view kIgnoreKeyOutput =
    "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

Result<std::string> BaseLocation(const Catalog& c, const ExportOptions& o) {
  std::string base = o.s3_location;
  if (base.empty() && c.lake.rfind("s3://", 0) == 0) base = c.lake;
  if (base.empty()) {
    return Status::InvalidArgument(fmt::format(
        "the lake {} is local: give --s3-location s3://bucket/prefix (where the lake is copied in "
        "S3) so the exported locations point at S3",
        c.lake));
  }
  if (base.rfind("s3://", 0) != 0) {
    return Status::InvalidArgument(
        fmt::format("--s3-location {} is not an s3://bucket/prefix URI", base));
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::string TableLocation(const std::string& base, const TableEntry& t) {
  return t.prefix.empty() ? base + "/" : base + "/" + t.prefix + "/";
}

std::string SqlString(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'')
      out += "\\'";
    else if (ch == '\\')
      out += "\\\\";
    else
      out += ch;
  }
  return out + "'";
}

std::string Backtick(std::string_view s) {
  std::string out = "`";
  for (char ch : s) {
    if (ch == '`')
      out += "``";
    else
      out += ch;
  }
  return out + "`";
}

// Hive DATE literals and numbers go into PARTITION (...) specs as typed literals.
std::string PartitionLiteral(const Column& col, const std::optional<std::string>& v) {
  if (!v) return "'__HIVE_DEFAULT_PARTITION__'";
  std::string h = HiveType(col.type);
  if (h == "int" || h == "bigint" || h == "smallint" || h == "tinyint") return *v;
  return SqlString(*v);
}

}  // namespace

namespace {

// The columns of a Hive / Athena CREATE TABLE or PARTITIONED BY list, one a line.
std::string ColumnList(const std::vector<Column>& cols,
                       const std::function<std::string(std::string_view)>& quote,
                       const std::function<std::string(std::string_view)>& type) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) {
    out += fmt::format("  {} {}{}\n", quote(cols[i].name), type(cols[i].type),
                       i + 1 < cols.size() ? "," : "");
  }
  return out;
}

// "`date`='2026-01-05', `hour`=7": a partition spec of ALTER TABLE ... ADD PARTITION.
std::string PartitionSpec(const TableEntry& t, const Partition& p,
                          const std::function<std::string(std::string_view)>& quote) {
  std::string spec;
  for (const Column& pc : t.partition_columns) {
    auto it = p.values.find(pc.name);
    std::optional<std::string> v = it == p.values.end() ? std::nullopt : it->second;
    if (!spec.empty()) spec += ", ";
    spec += quote(pc.name) + "=" + PartitionLiteral(pc, v);
  }
  return spec;
}

std::vector<std::string> PartitionNames(const TableEntry& t) {
  std::vector<std::string> out;
  for (const Column& pc : t.partition_columns) out.push_back(pc.name);
  return out;
}

std::string SkippedLine(const TableEntry& t) {
  return fmt::format("-- {}: skipped, no readable schema ({})\n\n", t.name,
                     t.problems.empty() ? std::string("no data files") : t.problems.front());
}

// Redshift: identifiers in double quotes ("" inside).
std::string DoubleQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// Redshift Spectrum names some Hive types differently; an unbounded string is VARCHAR(65535).
std::string SpectrumType(std::string_view duckdb_type) {
  std::string h = HiveType(duckdb_type);
  if (h == "string") return "varchar(65535)";
  if (h == "double") return "double precision";
  if (h == "float") return "real";
  if (h == "tinyint") return "smallint";
  if (h == "binary") return "varchar(65535)";
  return h;
}

std::string HiveTypeOf(std::string_view t) {
  return HiveType(t);
}

}  // namespace

Result<std::string> ExportAthena(const Catalog& c, const ExportOptions& o) {
  SC_ASSIGN_OR_RETURN(std::string base, BaseLocation(c, o));
  std::string out;
  out += fmt::format("-- Athena DDL for the lake {} (crawled {}), {} tables.\n", c.lake,
                     c.crawled_at, c.tables.size());
  out += fmt::format("CREATE DATABASE IF NOT EXISTS {};\n\n", Backtick(o.database));
  for (const TableEntry& t : c.tables) {
    std::string qname = Backtick(o.database) + "." + Backtick(t.name);
    if (t.format == "delta" && !t.columns.empty()) {
      // Athena reads a Delta table natively from its log: the current snapshot's files only (never
      // a file a compaction replaced or one of a commit that did not land), with the schema and
      // partitions the log has. Such a definition takes no columns and no partition statements.
      out += fmt::format("-- {}: Delta table (version {}), {} files, {} rows, read from its log\n",
                         t.name, t.delta_version, t.file_count, t.row_count);
      out += fmt::format("CREATE EXTERNAL TABLE IF NOT EXISTS {}\nLOCATION {}\n", qname,
                         SqlString(TableLocation(base, t)));
      out += fmt::format("TBLPROPERTIES ({}={});\n", SqlString("table_type"), SqlString("DELTA"));
      if (!t.iceberg_metadata.empty()) {
        // Athena's CREATE TABLE ... 'table_type'='ICEBERG' makes a new, empty table: an existing
        // Iceberg table is registered through Glue (the glue export).
        out += fmt::format(
            "-- {} also has Iceberg metadata ({}): `crawl --export glue` registers it as an "
            "Iceberg table\n",
            t.name, TableLocation(base, t) + t.iceberg_metadata);
      }
      out += "\n";
      continue;
    }
    if (t.columns.empty()) {
      out += SkippedLine(t);
      continue;
    }
    out += fmt::format("-- {}: {} table, {} files, {} rows\n", t.name, t.format, t.file_count,
                       t.row_count);
    out += fmt::format("CREATE EXTERNAL TABLE IF NOT EXISTS {} (\n", qname);
    out += ColumnList(t.columns, Backtick, HiveTypeOf);
    out += ")\n";
    if (!t.partition_columns.empty()) {
      out += "PARTITIONED BY (\n" + ColumnList(t.partition_columns, Backtick, HiveTypeOf) + ")\n";
    }
    out += fmt::format("ROW FORMAT SERDE {}\n", SqlString(kParquetSerde));
    out += fmt::format("STORED AS INPUTFORMAT {}\n  OUTPUTFORMAT {}\n", SqlString(kParquetInput),
                       SqlString(kParquetOutput));
    out += fmt::format("LOCATION {}\n", SqlString(TableLocation(base, t)));
    out += fmt::format("TBLPROPERTIES ({}={}, {}={}, {}={});\n", SqlString("classification"),
                       SqlString("parquet"), SqlString("parquet.compression"), SqlString("ZSTD"),
                       SqlString("smartcity.format"), SqlString(t.format));
    const std::vector<std::string> pcols = PartitionNames(t);
    for (const Partition& p : t.partitions) {
      out += fmt::format("ALTER TABLE {} ADD IF NOT EXISTS PARTITION ({}) LOCATION {};\n", qname,
                         PartitionSpec(t, p, Backtick),
                         SqlString(TableLocation(base, t) + p.Path(pcols) + "/"));
    }
    out += "\n";
  }
  return out;
}

Result<std::string> ExportGlue(const Catalog& c, const ExportOptions& o) {
  SC_ASSIGN_OR_RETURN(std::string base, BaseLocation(c, o));
  auto glue_columns = [](const std::vector<Column>& cols) {
    ojson a = ojson::array();
    for (const Column& col : cols) a.push_back({{"Name", col.name}, {"Type", HiveType(col.type)}});
    return a;
  };
  ojson all = ojson::array();
  for (const TableEntry& t : c.tables) {
    if (t.columns.empty()) continue;
    const std::string location = TableLocation(base, t);
    ojson input;
    input["Name"] = t.name;
    input["TableType"] = "EXTERNAL_TABLE";
    if (t.format == "delta" && !t.iceberg_metadata.empty()) {
      // The Iceberg form, as Iceberg's Glue catalog registers a table: Athena, Redshift and Glue
      // read the snapshot from the metadata file (schema and partition spec included).
      input["Parameters"] = {{"table_type", "ICEBERG"},
                             {"metadata_location", location + t.iceberg_metadata},
                             {"EXTERNAL", "TRUE"},
                             {"smartcity.format", t.format},
                             {"smartcity.delta_version", std::to_string(t.delta_version)}};
      input["StorageDescriptor"] = {{"Columns", glue_columns(t.AllColumns())},
                                    {"Location", location}};
    } else if (t.format == "delta") {
      // The native Delta form: Athena sees table_type DELTA and reads the snapshot from the log
      // at Location (schema and partitions included); Spark / Glue jobs key on the provider. The
      // columns are the log's (partition columns last), for the catalog's readers; no partition
      // keys and no Parquet input format, so no engine reads the folder as plain Parquet files.
      input["Parameters"] = {{"table_type", "DELTA"},
                             {"spark.sql.sources.provider", "delta"},
                             {"classification", "delta"},
                             {"EXTERNAL", "TRUE"},
                             {"smartcity.format", t.format},
                             {"smartcity.delta_version", std::to_string(t.delta_version)}};
      input["StorageDescriptor"] = {{"Columns", glue_columns(t.AllColumns())},
                                    {"Location", location},
                                    {"SerdeInfo", {{"Parameters", {{"path", location}}}}}};
    } else {
      input["Parameters"] = {{"classification", "parquet"},
                             {"EXTERNAL", "TRUE"},
                             {"parquet.compression", "ZSTD"},
                             {"smartcity.format", t.format},
                             {"recordCount", std::to_string(t.row_count)},
                             {"sizeKey", std::to_string(t.size_bytes)}};
      input["PartitionKeys"] = glue_columns(t.partition_columns);
      input["StorageDescriptor"] = {{"Columns", glue_columns(t.columns)},
                                    {"Location", location},
                                    {"InputFormat", std::string(kParquetInput)},
                                    {"OutputFormat", std::string(kParquetOutput)},
                                    {"Compressed", true},
                                    {"SerdeInfo",
                                     {{"SerializationLibrary", std::string(kParquetSerde)},
                                      {"Parameters", {{"serialization.format", "1"}}}}}};
    }
    all.push_back({{"DatabaseName", o.database}, {"TableInput", input}});
  }
  return all.dump(2) + "\n";
}

Result<std::string> ExportSpectrum(const Catalog& c, const ExportOptions& o) {
  SC_ASSIGN_OR_RETURN(std::string base, BaseLocation(c, o));
  std::string out;
  out += fmt::format("-- Redshift Spectrum DDL for the lake {} (crawled {}), {} tables.\n", c.lake,
                     c.crawled_at, c.tables.size());
  out += fmt::format(
      "-- Delta tables are read through their symlink manifests ({}/), which list the data files\n"
      "-- of the current snapshot. Tables with the property {}=true get\n"
      "-- them rewritten after every commit (`smartcity crawl --export spectrum` sets it); a "
      "table\n-- without it has manifests of the crawled version only.\n",
      lake::kSymlinkManifestDir, lake::kSymlinkManifestProperty);
  out += fmt::format(
      "-- The external schema (once; give your IAM role):\n-- CREATE EXTERNAL SCHEMA IF NOT EXISTS "
      "{} FROM DATA CATALOG DATABASE {} IAM_ROLE\n--   "
      "'arn:aws:iam::<account>:role/<role>' CREATE EXTERNAL DATABASE IF NOT EXISTS;\n\n",
      DoubleQuote(o.database), SqlString(o.database));
  for (const TableEntry& t : c.tables) {
    if (t.columns.empty()) {
      out += SkippedLine(t);
      continue;
    }
    const bool delta = t.format == "delta";
    std::string qname = DoubleQuote(o.database) + "." + DoubleQuote(t.name);
    // Delta: the manifest folder, with one sub-folder per partition; Parquet: the data folders.
    std::string location = TableLocation(base, t);
    if (delta) location += std::string(lake::kSymlinkManifestDir) + "/";
    out += fmt::format(
        "-- {}: {} table{}, {} files, {} rows\n", t.name, t.format,
        delta ? fmt::format(" (version {}) through its manifests", t.delta_version) : std::string(),
        t.file_count, t.row_count);
    out += fmt::format("CREATE EXTERNAL TABLE {} (\n", qname);
    out += ColumnList(t.columns, DoubleQuote, SpectrumType);
    out += ")\n";
    if (!t.partition_columns.empty()) {
      out +=
          "PARTITIONED BY (\n" + ColumnList(t.partition_columns, DoubleQuote, SpectrumType) + ")\n";
    }
    out += fmt::format("ROW FORMAT SERDE {}\n", SqlString(kParquetSerde));
    if (delta) {
      out += fmt::format("STORED AS INPUTFORMAT {}\n  OUTPUTFORMAT {}\n", SqlString(kSymlinkInput),
                         SqlString(kIgnoreKeyOutput));
    } else {
      out += fmt::format("STORED AS INPUTFORMAT {}\n  OUTPUTFORMAT {}\n", SqlString(kParquetInput),
                         SqlString(kParquetOutput));
    }
    out += fmt::format("LOCATION {};\n", SqlString(location));
    const std::vector<std::string> pcols = PartitionNames(t);
    for (const Partition& p : t.partitions) {
      out +=
          fmt::format("ALTER TABLE {} ADD IF NOT EXISTS PARTITION ({}) LOCATION {};\n", qname,
                      PartitionSpec(t, p, DoubleQuote), SqlString(location + p.Path(pcols) + "/"));
    }
    out += "\n";
  }
  return out;
}

}  // namespace smartcity::catalog
