#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "engine/engine.h"
#include "model/schema.h"
#include "warehouse/names.h"
#include "warehouse/warehouse.h"

namespace smartcity::warehouse {

using engine::QuoteIdentifier;
using engine::QuoteLiteral;

std::string LakeFileSelectList(
    const Schema& schema,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& partition_values,
    const std::vector<std::string>& file_columns, TimestampAs timestamps) {
  std::string select;
  for (const ColumnSpec& c : schema.columns) {
    if (!select.empty()) select += ", ";
    const std::string type = std::string(engine::SqlTypeName(c.type));
    auto pv = std::find_if(partition_values.begin(), partition_values.end(),
                           [&](const auto& kv) { return kv.first == c.name; });
    if (pv != partition_values.end()) {
      select += pv->second ? "CAST(" + QuoteLiteral(*pv->second) + " AS " + type + ")" : "NULL";
    } else if (std::find(file_columns.begin(), file_columns.end(), c.name) == file_columns.end()) {
      select += "NULL";
    } else if (c.type == LogicalType::kTimestamp) {
      // epoch_us reads a TIMESTAMP as UTC and a TIMESTAMPTZ as its instant: the same value either
      // way, whatever the session's time zone.
      select += timestamps == TimestampAs::kEpochMicros
                    ? "epoch_us(" + QuoteIdentifier(c.name) + ")"
                    : "make_timestamptz(epoch_us(" + QuoteIdentifier(c.name) + "))";
    } else {
      select += "CAST(" + QuoteIdentifier(c.name) + " AS " + type + ")";
    }
  }
  return select;
}

std::string Dialect::TypeName(LogicalType t) const {
  switch (t) {
    case LogicalType::kString:
      // Redshift's TEXT is VARCHAR(256); payloads and descriptions can be longer.
      return kind_ == DialectKind::kRedshift ? "VARCHAR(65535)" : "TEXT";
    case LogicalType::kInt32:
      return "INTEGER";
    case LogicalType::kInt64:
      return "BIGINT";
    case LogicalType::kDouble:
      return "DOUBLE PRECISION";
    case LogicalType::kTimestamp:
      return "TIMESTAMPTZ";
    case LogicalType::kBool:
      return "BOOLEAN";
    case LogicalType::kDate:
      return "DATE";
  }
  return "TEXT";
}

std::optional<LogicalType> Dialect::LogicalTypeOf(std::string_view reported) const {
  std::string r;
  for (char c : reported) r += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // A length ("VARCHAR(65535)", our Redshift DDL) does not change the type.
  if (const size_t paren = r.find('('); paren != std::string::npos && r.back() == ')') {
    r.resize(paren);
  }
  // PostgreSQL and Redshift report the SQL standard's names, DuckDB its own; both accepted.
  static constexpr std::pair<std::string_view, LogicalType> kNames[] = {
      {"text", LogicalType::kString},
      {"varchar", LogicalType::kString},
      {"character varying", LogicalType::kString},
      {"integer", LogicalType::kInt32},
      {"int", LogicalType::kInt32},
      {"int4", LogicalType::kInt32},
      {"bigint", LogicalType::kInt64},
      {"int8", LogicalType::kInt64},
      {"double precision", LogicalType::kDouble},
      {"double", LogicalType::kDouble},
      {"float8", LogicalType::kDouble},
      {"timestamp with time zone", LogicalType::kTimestamp},
      {"timestamptz", LogicalType::kTimestamp},
      {"boolean", LogicalType::kBool},
      {"bool", LogicalType::kBool},
      {"date", LogicalType::kDate},
  };
  for (const auto& [name, type] : kNames) {
    if (r == name) return type;
  }
  return std::nullopt;
}

std::vector<std::string> Dialect::CreateTable(const std::string& table, const Schema& schema,
                                              const std::vector<std::string>& key,
                                              const std::vector<std::string>& index_columns) const {
  std::string sql = "CREATE TABLE IF NOT EXISTS " + QuoteIdentifier(table) + " (";
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const ColumnSpec& c = schema.columns[i];
    if (i > 0) sql += ", ";
    sql += QuoteIdentifier(c.name) + " " + TypeName(c.type);
    if (!c.nullable) sql += " NOT NULL";
  }
  if (!key.empty()) {
    bool nullable = false;
    for (const std::string& k : key) {
      const int idx = schema.IndexOf(k);
      nullable = nullable || (idx >= 0 && schema.columns[idx].nullable);
    }
    // A primary key cannot hold NULLs; a UNIQUE constraint can. PostgreSQL 15 can also treat NULLs
    // as equal there, which keeps the constraint a full duplicate guard.
    sql += !nullable
               ? ", PRIMARY KEY ("
               : (kind_ == DialectKind::kPostgres ? ", UNIQUE NULLS NOT DISTINCT (" : ", UNIQUE (");
    for (size_t i = 0; i < key.size(); ++i) sql += (i > 0 ? ", " : "") + QuoteIdentifier(key[i]);
    sql += ")";
  }
  sql += ")";
  std::vector<std::string> out;
  if (kind_ == DialectKind::kRedshift) {
    // Redshift has no indexes (and does not enforce the primary key; the bookkeeping row is what
    // prevents duplicates there): distribute by device, sort by the first index column (time).
    auto has = [&](const std::string& n) { return schema.IndexOf(n) >= 0; };
    const std::string device = WarehouseColumnName(model::kDeviceIdField);
    if (has(device)) sql += " DISTKEY(" + QuoteIdentifier(device) + ")";
    if (!index_columns.empty()) {
      sql += " SORTKEY(";
      for (size_t i = 0; i < index_columns.size(); ++i) {
        sql += (i > 0 ? ", " : "") + QuoteIdentifier(index_columns[i]);
      }
      sql += ")";
    }
    out.push_back(sql);
    return out;
  }
  out.push_back(sql);
  // DuckDB: no secondary indexes. Its min-max zone maps already skip the row groups a time range or
  // a device does not touch (rows are loaded in time order), while each ART index must be brought
  // into the buffer pool to take a load's rows, and they grow with the table (seen in a soak: with
  // indexes on device and time, a load's commit failed, "failed to pin block", after 1.2
  // city days of 100 vehicles at the warehouse's default 64 MiB share of --memory-limit).
  if (kind_ == DialectKind::kDuckDb) return out;
  for (const std::string& col : index_columns) {
    out.push_back(fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                              QuoteIdentifier(table + "_" + col + "_idx"), QuoteIdentifier(table),
                              QuoteIdentifier(col)));
  }
  return out;
}

std::string Dialect::AddColumn(const std::string& table, const ColumnSpec& column) const {
  // Rows loaded before the column existed hold NULL, so the column is nullable here whatever the
  // lake says.
  return fmt::format("ALTER TABLE {} ADD COLUMN {} {}", QuoteIdentifier(table),
                     QuoteIdentifier(column.name), TypeName(column.type));
}

std::string Dialect::CreateBookkeeping() const {
  const std::string text = TypeName(LogicalType::kString);
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (table_name {} NOT NULL, delta_version BIGINT NOT NULL, "
      "row_count BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (table_name, "
      "delta_version))",
      QuoteIdentifier(kLoadsTable), kind_ == DialectKind::kRedshift ? "VARCHAR(256)" : text);
}

Result<std::vector<WarehouseColumn>> WarehouseConnection::Columns(const std::string& table) {
  SC_ASSIGN_OR_RETURN(
      auto rows, Query(fmt::format("SELECT column_name, data_type FROM information_schema.columns "
                                   "WHERE table_name = {} AND table_schema = current_schema() "
                                   "ORDER BY ordinal_position",
                                   QuoteLiteral(table))));
  std::vector<WarehouseColumn> out;
  for (auto& r : rows) {
    if (r.size() < 2 || !r[0] || !r[1])
      return Status::Internal("information_schema returned a NULL");
    out.push_back({*r[0], *r[1]});
  }
  return out;
}

Result<int64_t> WarehouseConnection::LoadedVersion(const std::string& lake_table) {
  SC_ASSIGN_OR_RETURN(auto rows,
                      Query(fmt::format("SELECT max(delta_version) FROM {} WHERE table_name = {}",
                                        QuoteIdentifier(kLoadsTable), QuoteLiteral(lake_table))));
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return int64_t{-1};
  return static_cast<int64_t>(std::stoll(*rows[0][0]));
}

}  // namespace smartcity::warehouse
