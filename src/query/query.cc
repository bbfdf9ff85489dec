#include "query/query.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lake/delta_log.h"
#include "lake/s3_object_store.h"

namespace smartcity::query {

namespace {

using engine::QuoteIdentifier;
using engine::QuoteLiteral;

std::string UriList(const std::vector<std::string>& uris) {
  std::string s = "[";
  for (size_t i = 0; i < uris.size(); ++i) s += (i ? ", " : "") + QuoteLiteral(uris[i]);
  return s + "]";
}

// The view over `inner` with exactly `columns` (name, DuckDB type), in order; columns `inner` lacks
// read as NULL.
Result<std::string> ProjectColumns(engine::Connection* conn, const std::string& inner,
                                   const std::vector<catalog::Column>& columns) {
  SC_ASSIGN_OR_RETURN(auto d, conn->Query("DESCRIBE SELECT * FROM (" + inner + ")"));
  std::set<std::string> present;
  int name = d.ColumnIndex("column_name");
  for (size_t r = 0; r < d.row_count(); ++r) present.insert(d.GetString(name, r));
  std::string sel;
  for (const catalog::Column& c : columns) {
    if (!sel.empty()) sel += ", ";
    std::string src = present.count(c.name) ? "q." + QuoteIdentifier(c.name) : "NULL";
    sel += fmt::format("CAST({} AS {}) AS {}", src, c.type, QuoteIdentifier(c.name));
  }
  return "SELECT " + sel + " FROM (" + inner + ") AS q";
}

std::string EmptyView(const std::vector<catalog::Column>& columns) {
  std::string sel;
  for (const catalog::Column& c : columns) {
    if (!sel.empty()) sel += ", ";
    sel += fmt::format("CAST(NULL AS {}) AS {}", c.type, QuoteIdentifier(c.name));
  }
  return "SELECT " + sel + " WHERE false";
}

bool IsNumeric(LogicalType t) {
  return t == LogicalType::kInt32 || t == LogicalType::kInt64 || t == LogicalType::kDouble;
}

std::string Cell(const engine::QueryResult& r, size_t col, size_t row) {
  if (r.column_type(col) == LogicalType::kDouble) {
    double d = r.GetDouble(col, row);
    if (std::isfinite(d)) return fmt::format("{}", d);
  }
  return r.GetString(col, row);
}

// The first keyword of the first ';'-separated statement that starts with a statement keyword sql
// refuses ("DROP", "COPY", "INSTALL"), or "". Names the statement in the refusal message (DuckDB
// calls INSTALL a "LOAD" and cannot bind some refused statements at all, e.g. DROP TABLE of a
// view); the read-only guarantee itself comes from the prepared statement types and the lock-down.
std::string FirstRefusedKeyword(std::string_view sql) {
  static const std::set<std::string> kRefused = {
      "ALTER",  "ANALYZE",    "ATTACH", "BEGIN",    "CALL",   "CHECKPOINT", "COMMIT",  "COPY",
      "CREATE", "DEALLOCATE", "DELETE", "DETACH",   "DROP",   "EXECUTE",    "EXPLAIN", "EXPORT",
      "FORCE",  "IMPORT",     "INSERT", "INSTALL",  "LOAD",   "MERGE",      "PRAGMA",  "PREPARE",
      "RESET",  "ROLLBACK",   "SET",    "TRUNCATE", "UPDATE", "UPSERT",     "USE",     "VACUUM"};
  std::string word;
  bool at_start = true, in_single = false, in_double = false;
  for (size_t i = 0; i <= sql.size(); ++i) {
    char c = i < sql.size() ? sql[i] : ';';
    if (in_single || in_double) {
      if ((in_single && c == '\'') || (in_double && c == '"')) in_single = in_double = false;
      continue;
    }
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
      continue;
    }
    if (at_start) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        continue;
      }
      if (!word.empty() || !std::isspace(static_cast<unsigned char>(c))) {
        if (kRefused.count(word)) return word;
        at_start = false;
        word.clear();
      }
    }
    if (c == '\'') in_single = true;
    if (c == '"') in_double = true;
    if (c == ';') {
      at_start = true;
      word.clear();
    }
  }
  return "";
}

// DuckDB's error text without its multi-line context ("LINE 1: ..." and the caret).
std::string FirstLine(const std::string& m) {
  std::string out = m.substr(0, m.find('\n'));
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

}  // namespace

Result<std::unique_ptr<SqlSession>> SqlSession::Open(lake::ObjectStore* store,
                                                     const catalog::Catalog& cat) {
  std::unique_ptr<SqlSession> s(new SqlSession());
  engine::DatabaseOptions o;
  o.settings["threads"] = "2";
  o.settings["autoinstall_known_extensions"] = "false";
  o.settings["autoload_known_extensions"] = "false";
  SC_ASSIGN_OR_RETURN(s->db_, engine::Database::Open("", o));
  SC_ASSIGN_OR_RETURN(s->conn_, s->db_->Connect());
  // Before the lock-down: loading httpfs for an S3 lake is impossible once extensions are locked.
  SC_RETURN_IF_ERROR(lake::PrepareDuckDbReads(*store, s->conn_.get()));
  // Timestamps print and truncate (date_trunc('hour', ...)) in UTC, whatever the machine's zone.
  SC_RETURN_IF_ERROR(s->conn_->Execute("SET TimeZone = 'UTC'"));
  std::vector<std::string> allowed;
  for (const catalog::TableEntry& t : cat.tables) {
    Status st = s->CreateView(store, t, &allowed);
    if (!st.ok()) {
      s->warnings_.push_back(fmt::format("table {} is not queryable: {}", t.name, st.message()));
      s->unreadable_.emplace_back(t.name, st.message());
      continue;
    }
    s->tables_.push_back(t.name);
  }
  // The lock-down. Order matters: allowed_paths cannot change once external access is off.
  if (!allowed.empty()) {
    SC_RETURN_IF_ERROR(s->conn_->Execute("SET allowed_paths = " + UriList(allowed)));
  }
  SC_RETURN_IF_ERROR(s->conn_->Execute("SET enable_external_access = false"));
  SC_RETURN_IF_ERROR(s->conn_->Execute("SET lock_configuration = true"));
  return s;
}

Status SqlSession::CreateView(lake::ObjectStore* store, const catalog::TableEntry& t,
                              std::vector<std::string>* allowed) {
  std::vector<catalog::Column> columns;
  std::string inner;
  std::vector<std::string> uris;
  if (t.format == "delta") {
    // Current committed state, not the crawl's: a view never shows an uncommitted file.
    lake::DeltaLog log(store, t.prefix);
    SC_ASSIGN_OR_RETURN(lake::Snapshot snap, log.Load(conn_.get()));
    if (!snap.exists()) return Status::NotFound("its Delta log has no commit");
    const auto& pcols = snap.metadata.partition_columns;
    std::set<std::string> pset(pcols.begin(), pcols.end());
    std::vector<catalog::Column> parts;
    for (const lake::DeltaField& f : snap.metadata.schema.fields) {
      if (!pset.count(f.name)) columns.push_back({f.name, catalog::CatalogTypeName(f.type)});
    }
    for (const std::string& pc : pcols) {
      int i = snap.metadata.schema.IndexOf(pc);
      parts.push_back({pc, i >= 0 ? catalog::CatalogTypeName(snap.metadata.schema.fields[i].type)
                                  : std::string("VARCHAR")});
    }
    // Files grouped by partition values; each group gets its values as constant columns.
    std::map<std::vector<std::optional<std::string>>, std::vector<std::string>> groups;
    for (const auto& [path, add] : snap.files) {
      std::vector<std::optional<std::string>> key;
      for (const std::string& pc : pcols) {
        auto it = add.partition_values.find(pc);
        key.push_back(it == add.partition_values.end() ? std::nullopt : it->second);
      }
      std::string uri = store->ReaderUri(log.KeyPrefix() + path);
      if (uri.empty()) return Status::InvalidArgument("its store cannot be read by DuckDB");
      groups[key].push_back(uri);
      uris.push_back(uri);
    }
    for (const auto& [key, files] : groups) {
      std::string sel = "SELECT *";
      for (size_t i = 0; i < pcols.size(); ++i) {
        sel += fmt::format(", CAST({} AS {}) AS {}", key[i] ? QuoteLiteral(*key[i]) : "NULL",
                           parts[i].type, QuoteIdentifier(pcols[i]));
      }
      sel += fmt::format(" FROM read_parquet({}, union_by_name = true, hive_partitioning = false)",
                         UriList(files));
      inner += (inner.empty() ? "" : " UNION ALL BY NAME ") + sel;
    }
    columns.insert(columns.end(), parts.begin(), parts.end());
  } else {
    columns = t.AllColumns();
    std::string hive_types;
    for (const catalog::Column& pc : t.partition_columns) {
      hive_types += fmt::format("{}{}: {}", hive_types.empty() ? "" : ", ", QuoteLiteral(pc.name),
                                QuoteLiteral(pc.type));
    }
    std::string base = t.prefix.empty() ? std::string() : t.prefix + "/";
    for (const catalog::DataFile& f : t.files) {
      std::string uri = store->ReaderUri(base + f.path);
      if (uri.empty()) return Status::InvalidArgument("its store cannot be read by DuckDB");
      uris.push_back(uri);
    }
    if (!uris.empty()) {
      inner = fmt::format(
          "SELECT * FROM read_parquet({}, union_by_name = true, hive_partitioning = {}{})",
          UriList(uris), t.partition_columns.empty() ? "false" : "true",
          hive_types.empty() ? "" : ", hive_types = {" + hive_types + "}");
    }
  }
  if (columns.empty()) return Status::NotFound("it has no columns (no readable data file)");
  std::string body;
  if (inner.empty()) {
    body = EmptyView(columns);
  } else {
    SC_ASSIGN_OR_RETURN(body, ProjectColumns(conn_.get(), inner, columns));
  }
  SC_RETURN_IF_ERROR(
      conn_->Execute(fmt::format("CREATE VIEW {} AS {}", QuoteIdentifier(t.name), body)));
  allowed->insert(allowed->end(), uris.begin(), uris.end());
  return Status::OK();
}

Status SqlSession::Explain(const Status& s) const {
  const std::string m = FirstLine(s.message());
  if (m.find("Permission Error") != std::string::npos) {
    return Status::PermissionDenied(
        "query refused: sql reads only the cataloged tables, not other files, extensions or "
        "settings (" +
        m + ")");
  }
  if (m.find("Catalog Error") != std::string::npos &&
      m.find("does not exist") != std::string::npos) {
    for (const auto& [name, why] : unreadable_) {
      // The table exists: it is cataloged, but its files cannot be read now.
      if (m.find("name " + name + " does not exist") != std::string::npos ||
          m.find("\"" + name + "\"") != std::string::npos) {
        return Status::Corruption(fmt::format(
            "table {} is cataloged but cannot be read: {}; restore the damaged object from a "
            "backup (`smartcity crawl` lists every such problem under \"problems\")",
            name, why));
      }
    }
    std::string known;
    for (const std::string& t : tables_) known += (known.empty() ? "" : ", ") + t;
    return Status::NotFound(
        fmt::format("{} (cataloged tables: {}; run `smartcity crawl` to pick up new ones)", m,
                    known.empty() ? "none" : known));
  }
  return Status(s.kind(), m);
}

Status SqlSession::Run(std::string_view sql,
                       const std::function<void(const engine::QueryResult&, double)>& sink) {
  auto prepared = conn_->PrepareScript(sql);
  if (!prepared.ok()) {
    std::string kw = FirstRefusedKeyword(sql);
    if (!kw.empty()) {
      return Status::PermissionDenied(
          fmt::format("{} statements are refused: sql is read-only and runs only queries (SELECT, "
                      "WITH, VALUES)",
                      kw));
    }
    return Explain(prepared.status());
  }
  for (const auto& p : *prepared) {
    if (!p->IsQuery()) {
      std::string kw = FirstRefusedKeyword(sql);
      return Status::PermissionDenied(
          fmt::format("{} statements are refused: sql is read-only and runs only queries (SELECT, "
                      "WITH, VALUES)",
                      kw.empty() ? p->TypeName() : kw));
    }
  }
  for (const auto& p : *prepared) {
    auto start = std::chrono::steady_clock::now();
    auto r = p->Execute();
    if (!r.ok()) return Explain(r.status());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sink(*r, secs);
  }
  return Status::OK();
}

std::string FormatTable(const engine::QueryResult& r) {
  const size_t nc = r.column_count(), nr = r.row_count();
  std::vector<std::vector<std::string>> cells(nr, std::vector<std::string>(nc));
  std::vector<size_t> width(nc);
  for (size_t c = 0; c < nc; ++c) width[c] = r.column_name(c).size();
  for (size_t row = 0; row < nr; ++row) {
    for (size_t c = 0; c < nc; ++c) {
      cells[row][c] = r.IsNull(c, row) ? "NULL" : Cell(r, c, row);
      width[c] = std::max(width[c], cells[row][c].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& v, bool header) {
    for (size_t c = 0; c < nc; ++c) {
      if (c) out += " | ";
      bool right = !header && IsNumeric(r.column_type(c));
      out += right ? fmt::format("{:>{}}", v[c], width[c]) : fmt::format("{:<{}}", v[c], width[c]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  };
  std::vector<std::string> header(nc);
  for (size_t c = 0; c < nc; ++c) header[c] = r.column_name(c);
  line(header, true);
  for (size_t c = 0; c < nc; ++c) {
    if (c) out += "-+-";
    out += std::string(width[c], '-');
  }
  out += '\n';
  for (const auto& row : cells) line(row, false);
  return out;
}

std::string FormatCsv(const engine::QueryResult& r) {
  auto field = [](const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char ch : s) {
      if (ch == '"') q += '"';
      q += ch;
    }
    return q + "\"";
  };
  std::string out;
  for (size_t c = 0; c < r.column_count(); ++c) out += (c ? "," : "") + field(r.column_name(c));
  out += '\n';
  for (size_t row = 0; row < r.row_count(); ++row) {
    for (size_t c = 0; c < r.column_count(); ++c) {
      if (c) out += ',';
      if (!r.IsNull(c, row)) out += field(Cell(r, c, row));
    }
    out += '\n';
  }
  return out;
}

std::string FormatJsonLines(const engine::QueryResult& r) {
  std::string out;
  for (size_t row = 0; row < r.row_count(); ++row) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (size_t c = 0; c < r.column_count(); ++c) {
      const std::string name = r.column_name(c);
      if (r.IsNull(c, row)) {
        j[name] = nullptr;
        continue;
      }
      switch (r.column_type(c)) {
        case LogicalType::kBool:
          j[name] = r.GetBool(c, row);
          break;
        case LogicalType::kInt32:
        case LogicalType::kInt64:
          j[name] = r.GetInt64(c, row);
          break;
        case LogicalType::kDouble: {
          double d = r.GetDouble(c, row);
          if (std::isfinite(d))
            j[name] = d;
          else
            j[name] = r.GetString(c, row);
          break;
        }
        default:
          j[name] = r.GetString(c, row);
      }
    }
    out += j.dump() + '\n';
  }
  return out;
}

}  // namespace smartcity::query
