#include "query/query.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/mutex.h"
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

// Where DuckDB reads the object `key`: for a local lake, the file's real path, provided `key` names
// a regular file inside the lake folder reached through no symbolic link (a link inside the lake
// could point anywhere: DuckDB's allowed_paths compares names, it does not resolve links); for S3,
// its URI.
Result<std::string> ReadablePath(lake::ObjectStore* store, const std::string& key) {
  namespace fs = std::filesystem;
  std::string uri = store->ReaderUri(key);
  if (uri.empty()) return Status::InvalidArgument("its store cannot be read by DuckDB");
  const std::optional<fs::path> local = store->LocalPath(key);
  if (!local) return uri;
  fs::path root = *local;
  const fs::path rel = fs::path(key).lexically_normal();
  for (auto it = rel.begin(); it != rel.end(); ++it) root = root.parent_path();
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec)
    return Status::IOError(
        fmt::format("cannot resolve the lake folder {}: {}", root.string(), ec.message()));
  const fs::path expected = (real_root / rel).lexically_normal();
  const fs::file_status st = fs::symlink_status(expected, ec);
  std::error_code ec2;
  const fs::path real = fs::canonical(expected, ec2);
  if (ec || ec2 || !fs::is_regular_file(st) || real != expected) {
    return Status::PermissionDenied(fmt::format(
        "its data file {} is not a regular file of the lake folder (a symbolic link, or missing): "
        "sql reads only the lake's own files",
        key));
  }
  return expected.string();
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

bool IsNumeric(const engine::QueryResult& r, size_t col) {
  const LogicalType t = r.column_type(col);
  return t == LogicalType::kInt32 || t == LogicalType::kInt64 || t == LogicalType::kDouble ||
         r.is_number_text(col);
}

// NaN, Infinity and -Infinity as DuckDB and most readers spell them; other doubles as the shortest
// text that reads back as the same value.
std::string DoubleText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", d);
}

std::string Cell(const engine::QueryResult& r, size_t col, size_t row) {
  if (r.column_type(col) == LogicalType::kDouble) return DoubleText(r.GetDouble(col, row));
  return r.GetString(col, row);
}

// Statement keywords sql refuses even when DuckDB would run the statement as a query (PRAGMA
// show_tables and CALL pragma_version() are SELECTs inside DuckDB; SET VARIABLE, ...): the first
// word of each statement decides, so that the documented list is what is refused.
const std::set<std::string>& RefusedKeywords() {
  static const std::set<std::string> kRefused = {
      "ALTER",   "ANALYZE", "ATTACH",     "BEGIN",  "CALL",     "CHECKPOINT", "COMMIT",
      "COPY",    "CREATE",  "DEALLOCATE", "DELETE", "DETACH",   "DROP",       "END",
      "EXECUTE", "EXPORT",  "FORCE",      "IMPORT", "INSERT",   "INSTALL",    "LOAD",
      "MERGE",   "PRAGMA",  "PREPARE",    "RESET",  "ROLLBACK", "SET",        "TRUNCATE",
      "UPDATE",  "UPSERT",  "USE",        "VACUUM", "ABORT",    "START",      "UNINSTALL"};
  return kRefused;
}

// One statement of a script as sql's own scanner sees it: its text and its first two words
// (upper-case; "" when the statement starts with something else, such as '(').
struct StatementText {
  std::string text;
  std::string first, second;
  size_t second_end = 0;  // offset in `text` just after the second word (or the first)
};

// Splits a script at ';' outside quotes ('...', "...", E'...' with backslash escapes,
// $tag$...$tag$) and comments (-- and /* */); empty statements are dropped, as DuckDB drops them.
std::vector<StatementText> SplitStatements(std::string_view sql) {
  std::vector<StatementText> out;
  std::string cur;
  auto flush = [&] {
    if (cur.find_first_not_of(" \t\r\n\f\v") != std::string::npos) {
      StatementText st;
      st.text = cur;
      out.push_back(std::move(st));
    }
    cur.clear();
  };
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
      cur += ' ';
      continue;
    }
    if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 1;
      cur += ' ';
      continue;
    }
    if (c == '\'' || c == '"') {
      const bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
      cur += c;
      for (++i; i < sql.size(); ++i) {
        cur += sql[i];
        if (escapes && sql[i] == '\\' && i + 1 < sql.size()) {
          cur += sql[++i];
          continue;
        }
        if (sql[i] == c) break;
      }
      continue;
    }
    if (c == '$') {
      const size_t close = sql.find('$', i + 1);
      if (close != std::string_view::npos) {
        std::string_view tag = sql.substr(i, close - i + 1);
        bool word = true;
        for (char t : tag.substr(1, tag.size() - 2)) {
          word = word && (std::isalnum(static_cast<unsigned char>(t)) || t == '_');
        }
        if (word) {
          const size_t end = sql.find(tag, close + 1);
          const size_t stop = end == std::string_view::npos ? sql.size() : end + tag.size();
          cur.append(sql.substr(i, stop - i));
          i = stop - 1;
          continue;
        }
      }
    }
    if (c == ';') {
      flush();
      continue;
    }
    cur += c;
  }
  flush();
  for (StatementText& st : out) {
    size_t p = 0;
    auto word = [&](std::string* w) {
      while (p < st.text.size() && std::isspace(static_cast<unsigned char>(st.text[p]))) ++p;
      while (p < st.text.size() && std::isalpha(static_cast<unsigned char>(st.text[p]))) {
        *w += static_cast<char>(std::toupper(static_cast<unsigned char>(st.text[p++])));
      }
    };
    word(&st.first);
    if (!st.first.empty()) word(&st.second);
    st.second_end = p;
  }
  return out;
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
  // No temp folder: DuckDB lets a query read its temp folder whatever the lock-down, so the session
  // has none (a query that needs more than the memory limit fails instead of spilling to disk).
  o.settings["temp_directory"] = "";
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
      SC_ASSIGN_OR_RETURN(std::string uri, ReadablePath(store, log.KeyPrefix() + path));
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
      SC_ASSIGN_OR_RETURN(std::string uri, ReadablePath(store, base + f.path));
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

namespace {

Status Refused(const std::string& what) {
  return Status::PermissionDenied(fmt::format(
      "{} statements are refused: sql is read-only and runs only queries (SELECT, WITH, "
      "VALUES, FROM, EXPLAIN)",
      what));
}

// Interrupts `conn` if the statement has not finished `timeout` after construction (0: never).
class Watchdog {
 public:
  Watchdog(engine::Connection* conn, std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) return;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    thread_ = std::thread([this, conn, deadline] {
      MutexLock lock(&mu_);
      while (!done_) {
        if (!cv_.WaitUntil(&mu_, deadline)) {
          if (!done_) {
            fired_ = true;
            conn->Interrupt();
          }
          return;
        }
      }
    });
  }
  ~Watchdog() { Stop(); }
  // Ends the watch; true when it interrupted the statement.
  bool Stop() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      done_ = true;
    }
    cv_.SignalAll();
    if (thread_.joinable()) thread_.join();
    MutexLock lock(&mu_);
    return fired_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool done_ GUARDED_BY(mu_) = false;
  bool fired_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

std::string DurationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{} ms", d.count());
}

}  // namespace

Status SqlSession::CheckExplain(const std::string& text) {
  // "EXPLAIN q" only plans q; "EXPLAIN ANALYZE q" (or with options in parentheses) runs it: then q
  // must be a query.
  std::vector<StatementText> outer = SplitStatements(text);
  if (outer.size() != 1 || outer[0].first != "EXPLAIN") return Refused("EXPLAIN");
  const std::string& t = outer[0].text;
  size_t p = t.find_first_not_of(" \t\r\n\f\v");
  p += 7;  // "EXPLAIN"
  const size_t next = t.find_first_not_of(" \t\r\n\f\v", p);
  std::string inner;
  if (next != std::string::npos && t[next] == '(') {
    const size_t close = t.find(')', next);
    if (close == std::string::npos) return Refused("EXPLAIN");
    inner = t.substr(close + 1);
  } else if (outer[0].second == "ANALYZE" || outer[0].second == "ANALYSE") {
    inner = t.substr(outer[0].second_end);
  } else {
    return Status::OK();
  }
  std::vector<StatementText> in = SplitStatements(inner);
  if (in.size() != 1 || RefusedKeywords().count(in[0].first)) {
    return Status::PermissionDenied(
        "EXPLAIN ANALYZE runs the statement it explains: sql allows it only for a query");
  }
  auto prepared = conn_->PrepareScript(inner);
  if (!prepared.ok()) return Explain(prepared.status());
  if (prepared->size() != 1 || !(*prepared)[0]->IsQuery()) {
    return Status::PermissionDenied(
        "EXPLAIN ANALYZE runs the statement it explains: sql allows it only for a query");
  }
  return Status::OK();
}

Status SqlSession::Run(std::string_view sql,
                       const std::function<void(const engine::QueryResult&, double)>& sink) {
  // The first word of every statement: refused words are refused whatever DuckDB makes of them
  // (and before DuckDB binds them: it cannot bind some, e.g. DROP TABLE of a view).
  const std::vector<StatementText> texts = SplitStatements(sql);
  for (const StatementText& t : texts) {
    if (RefusedKeywords().count(t.first)) return Refused(t.first);
  }
  auto prepared = conn_->PrepareScript(sql);
  if (!prepared.ok()) return Explain(prepared.status());
  for (size_t i = 0; i < prepared->size(); ++i) {
    const auto& p = (*prepared)[i];
    if (p->IsQuery()) continue;
    if (p->TypeName() == "EXPLAIN") {
      // Our split must match DuckDB's to know which text is explained.
      if (texts.size() != prepared->size()) return Refused("EXPLAIN");
      SC_RETURN_IF_ERROR(CheckExplain(texts[i].text));
      continue;
    }
    return Refused(p->TypeName());
  }
  // A third lock: whatever a statement did to the session (it cannot, by the checks above) is
  // rolled back after the script.
  SC_RETURN_IF_ERROR(conn_->Execute("BEGIN TRANSACTION"));
  Status result;
  for (const auto& p : *prepared) {
    auto start = std::chrono::steady_clock::now();
    Watchdog watchdog(conn_.get(), timeout_);
    auto r = p->Execute(engine::ResultForm::kDisplay);
    const bool timed_out = watchdog.Stop();
    if (!r.ok()) {
      result = timed_out ? Status::Timeout(fmt::format(
                               "query stopped: it ran longer than its time limit of {} (--timeout)",
                               DurationText(timeout_)))
                         : Explain(r.status());
      break;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sink(*r, secs);
  }
  Status rolled_back = conn_->Execute("ROLLBACK");
  if (result.ok() && !rolled_back.ok()) return rolled_back;
  return result;
}

namespace {

// Characters on a terminal: UTF-8 code points (the plan of EXPLAIN draws boxes with 3-byte ones).
size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t nl; (nl = s.find('\n', start)) != std::string_view::npos; start = nl + 1) {
    out.push_back(s.substr(start, nl - start));
  }
  out.push_back(s.substr(start));
  return out;
}

}  // namespace

std::string FormatTable(const engine::QueryResult& r) {
  const size_t nc = r.column_count(), nr = r.row_count();
  std::vector<std::vector<std::string>> cells(nr, std::vector<std::string>(nc));
  std::vector<size_t> width(nc);
  for (size_t c = 0; c < nc; ++c) width[c] = DisplayWidth(r.column_name(c));
  for (size_t row = 0; row < nr; ++row) {
    for (size_t c = 0; c < nc; ++c) {
      cells[row][c] = r.IsNull(c, row) ? "NULL" : Cell(r, c, row);
      // A value with line breaks (EXPLAIN's plan) is as wide as its widest line.
      for (std::string_view l : Lines(cells[row][c]))
        width[c] = std::max(width[c], DisplayWidth(l));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& v, bool header) {
    std::vector<std::vector<std::string_view>> parts(nc);
    size_t height = 1;
    for (size_t c = 0; c < nc; ++c) {
      parts[c] = Lines(v[c]);
      height = std::max(height, parts[c].size());
    }
    for (size_t h = 0; h < height; ++h) {
      for (size_t c = 0; c < nc; ++c) {
        if (c) out += " | ";
        const std::string_view cell = h < parts[c].size() ? parts[c][h] : std::string_view();
        const std::string pad(width[c] - std::min(width[c], DisplayWidth(cell)), ' ');
        const bool right = !header && IsNumeric(r, c);
        out += right ? pad + std::string(cell) : std::string(cell) + pad;
      }
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += '\n';
    }
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

namespace {

// An exact number's text (HUGEINT, DECIMAL) as a JSON number: an integer when it fits 64 bits, a
// decimal as the nearest double (what JSON readers make of it anyway); a larger integer stays a
// string (no JSON reader keeps it exact).
nlohmann::ordered_json JsonNumber(const std::string& text) {
  const char* b = text.data();
  const char* e = b + text.size();
  int64_t i = 0;
  if (auto [p, ec] = std::from_chars(b, e, i); ec == std::errc() && p == e) return i;
  uint64_t u = 0;
  if (auto [p, ec] = std::from_chars(b, e, u); ec == std::errc() && p == e) return u;
  if (text.find('.') != std::string::npos) return std::strtod(text.c_str(), nullptr);
  return text;
}

}  // namespace

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
          // JSON has no NaN or infinity: they are the strings "NaN", "Infinity", "-Infinity".
          double d = r.GetDouble(c, row);
          if (std::isfinite(d))
            j[name] = d;
          else
            j[name] = DoubleText(d);
          break;
        }
        default:
          j[name] = r.is_number_text(c) ? JsonNumber(r.GetString(c, row))
                                        : nlohmann::ordered_json(r.GetString(c, row));
      }
    }
    out += j.dump() + '\n';
  }
  return out;
}

}  // namespace smartcity::query
