#include "warehouse/postgres_warehouse.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "engine/engine.h"

namespace smartcity::warehouse {

using engine::QuoteIdentifier;
using engine::QuoteLiteral;

namespace {

void IgnoreNotice(void*, const char*) {}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresConnection : public WarehouseConnection {
 public:
  PostgresConnection(PGconn* conn, std::string describe, DialectKind kind)
      : conn_(conn), describe_(std::move(describe)), dialect_(kind) {}
  ~PostgresConnection() override { PQfinish(conn_); }

  const Dialect& dialect() const override { return dialect_; }
  Status Begin() override { return Execute("BEGIN"); }
  Status Commit() override { return Execute("COMMIT"); }
  Status Rollback() override { return Execute("ROLLBACK"); }

  Status Execute(std::string_view sql) override {
    PgResult r(PQexec(conn_, std::string(sql).c_str()));
    return Check(r.get(), sql);
  }

  Result<std::vector<std::vector<std::optional<std::string>>>> Query(
      std::string_view sql) override {
    PgResult r(PQexec(conn_, std::string(sql).c_str()));
    SC_RETURN_IF_ERROR(Check(r.get(), sql));
    std::vector<std::vector<std::optional<std::string>>> rows(PQntuples(r.get()));
    const int ncols = PQnfields(r.get());
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].resize(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (!PQgetisnull(r.get(), static_cast<int>(i), c)) {
          rows[i][c] = std::string(PQgetvalue(r.get(), static_cast<int>(i), c),
                                   PQgetlength(r.get(), static_cast<int>(i), c));
        }
      }
    }
    return rows;
  }

  Status CopyBatch(const std::string& table, const RecordBatch& batch) override {
    if (batch.num_rows() == 0) return Status::OK();
    std::string sql = "COPY " + QuoteIdentifier(table) + " (";
    for (size_t c = 0; c < batch.num_columns(); ++c) {
      sql += (c > 0 ? ", " : "") + QuoteIdentifier(batch.schema().columns[c].name);
    }
    sql += ") FROM STDIN";
    {
      PgResult r(PQexec(conn_, sql.c_str()));
      if (PQresultStatus(r.get()) != PGRES_COPY_IN) return Check(r.get(), sql);
    }
    // Rows go out in pieces of about 1 MiB: one buffer, reused.
    std::string buf;
    constexpr size_t kChunkRows = 4096;
    for (size_t begin = 0; begin < batch.num_rows(); begin += kChunkRows) {
      buf.clear();
      AppendCopyText(batch, begin, std::min(batch.num_rows(), begin + kChunkRows), &buf);
      if (PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size())) != 1) {
        return ConnectionError("sending COPY data");
      }
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) return ConnectionError("ending COPY");
    Status st;
    while (PGresult* raw = PQgetResult(conn_)) {
      PgResult r(raw);
      Status s = Check(r.get(), sql);
      if (st.ok() && !s.ok()) st = s;
    }
    return st;
  }

  std::string Describe() const override { return describe_; }

 protected:
  Status ConnectionError(std::string_view what) {
    return Status::Unavailable(fmt::format("{}: lost the connection while {}: {}", describe_, what,
                                           FirstLine(PQerrorMessage(conn_))));
  }

  static std::string FirstLine(const char* msg) {
    std::string s = msg != nullptr ? msg : "";
    if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    return s;
  }

  Status Check(PGresult* r, std::string_view sql) {
    const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
      return Status::OK();
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string code = state != nullptr ? state : "";
    std::string msg = FirstLine(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    if (msg.empty()) msg = FirstLine(PQerrorMessage(conn_));
    std::string stmt(sql.substr(0, 80));
    if (PQstatus(conn_) == CONNECTION_BAD || code.starts_with("08") || code == "57P01" ||
        code == "57P02" || code == "57P03" || code.empty()) {
      return Status::Unavailable(
          fmt::format("{} is not reachable ({}); loading resumes when it is back", describe_, msg));
    }
    if (code == "23505") {
      return Status::Corruption(fmt::format(
          "{} refused a duplicate row ({}): the warehouse table holds rows that the bookkeeping "
          "table {} does not account for",
          describe_, msg, kLoadsTable));
    }
    if (code.starts_with("42501") || code.starts_with("28")) {
      return Status::PermissionDenied(
          fmt::format("{} refused access ({}); check the user's privileges", describe_, msg));
    }
    return Status::Internal(fmt::format("{} refused \"{}\": {}", describe_, stmt, msg));
  }

  PGconn* conn_;
  std::string describe_;
  Dialect dialect_;
};

class RedshiftConnection final : public PostgresConnection {
 public:
  RedshiftConnection(PGconn* conn, std::string describe, std::string iam_role)
      : PostgresConnection(conn, std::move(describe), DialectKind::kRedshift),
        iam_role_(std::move(iam_role)) {}

  bool CopiesFiles() const override { return true; }
  Status CopyBatch(const std::string& table, const RecordBatch& batch) override {
    return Status::Internal("Redshift loads Parquet files from S3, not rows");
  }
  Status CopyParquetFiles(const std::string& table, const TargetColumns& columns,
                          const std::vector<ParquetFile>& files) override {
    for (const std::string& sql : RedshiftLoadStatements(table, columns, files, iam_role_)) {
      SC_RETURN_IF_ERROR(Execute(sql));
    }
    return Status::OK();
  }

 private:
  std::string iam_role_;
};

Result<PGconn*> Connect(const std::string& conninfo, const std::string& describe) {
  SC_RETURN_IF_ERROR(CheckPostgresConninfo(conninfo, describe + "'s connection string"));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), "10", "smartcity-load", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Status::ResourceExhausted("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    // libpq's message spans lines (with a tab before its hint): make it one sentence.
    std::string flat;
    for (char c : msg) {
      if (c == '\n' || c == '\t') c = ' ';
      if (c == ' ' && !flat.empty() && flat.back() == ' ') continue;
      flat += c;
    }
    msg = flat;
    if (msg.find("password authentication failed") != std::string::npos) {
      return Status::PermissionDenied(
          fmt::format("{} rejected the credentials ({}); set PGUSER/PGPASSWORD or fix the "
                      "connection string",
                      describe, msg));
    }
    if (IsPermanentConnectFailure(msg)) {
      // Retrying cannot help: the database, the role or the address is wrong.
      return Status::InvalidArgument(fmt::format(
          "{} refused the connection ({}); fix --warehouse or the PG* variables", describe, msg));
    }
    return Status::Unavailable(fmt::format(
        "cannot connect to {} ({}); is the server running? set --warehouse or the PG* variables",
        describe, msg));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return conn;
}

// "host=127.0.0.1 port=5433 dbname=x" without the password, for messages.
std::string DescribeConn(PGconn* conn, std::string_view what) {
  return fmt::format("{} at {}:{}/{}", what, PQhost(conn) ? PQhost(conn) : "?",
                     PQport(conn) ? PQport(conn) : "?", PQdb(conn) ? PQdb(conn) : "?");
}

}  // namespace

Status CheckPostgresConninfo(const std::string& conninfo, const std::string& what) {
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &err);
  if (parsed != nullptr) {
    PQconninfoFree(parsed);
    return Status::OK();
  }
  if (err == nullptr) return Status::ResourceExhausted("libpq could not allocate memory");
  std::string msg = err;
  PQfreemem(err);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return Status::InvalidArgument(
      fmt::format("{} is malformed ({}); fix --warehouse or the PG* variables", what, msg));
}

Result<std::unique_ptr<WarehouseConnection>> OpenPostgresWarehouse(const std::string& conninfo) {
  SC_ASSIGN_OR_RETURN(PGconn * raw, Connect(conninfo, "PostgreSQL"));
  auto conn = std::make_unique<PostgresConnection>(raw, DescribeConn(raw, "PostgreSQL"),
                                                   DialectKind::kPostgres);
  SC_RETURN_IF_ERROR(conn->Execute("SET TIME ZONE 'UTC'"));
  return std::unique_ptr<WarehouseConnection>(std::move(conn));
}

Result<RedshiftTarget> ParseRedshiftUrl(const std::string& url) {
  constexpr std::string_view kScheme = "redshift://";
  if (!url.starts_with(kScheme)) {
    return Status::InvalidArgument(
        "a Redshift warehouse is redshift://user:password@host:5439/db?iam_role=...");
  }
  std::string rest = url.substr(kScheme.size());
  RedshiftTarget t;
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  std::string kept;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string kv = query.substr(pos, amp - pos);
    if (kv.starts_with("iam_role=")) {
      t.iam_role = kv.substr(9);
    } else if (!kv.empty()) {
      kept += (kept.empty() ? "" : "&") + kv;
    }
    pos = amp + 1;
  }
  if (t.iam_role.empty()) {
    return Status::InvalidArgument(
        "the Redshift warehouse URL needs ?iam_role=arn:aws:iam::<account>:role/<name> (the role "
        "Redshift assumes to read the lake's files from S3)");
  }
  if (kept.find("sslmode=") == std::string::npos)
    kept += (kept.empty() ? "" : "&") + std::string("sslmode=require");
  t.conninfo = "postgresql://" + rest + "?" + kept;
  return t;
}

Result<std::unique_ptr<WarehouseConnection>> OpenRedshiftWarehouse(const std::string& url) {
  SC_ASSIGN_OR_RETURN(RedshiftTarget t, ParseRedshiftUrl(url));
  SC_ASSIGN_OR_RETURN(PGconn * raw, Connect(t.conninfo, "Redshift"));
  auto conn = std::make_unique<RedshiftConnection>(raw, DescribeConn(raw, "Redshift"), t.iam_role);
  SC_RETURN_IF_ERROR(conn->Execute("SET timezone TO 'UTC'"));
  return std::unique_ptr<WarehouseConnection>(std::move(conn));
}

std::vector<std::string> RedshiftLoadStatements(const std::string& table,
                                                const TargetColumns& columns,
                                                const std::vector<ParquetFile>& files,
                                                const std::string& iam_role) {
  const Schema& schema = columns.lake;
  std::vector<std::string> out;
  if (files.empty()) return out;
  const Dialect d(DialectKind::kRedshift);
  const std::string stage = QuoteIdentifier("_stage_" + table);
  auto is_partition = [&](const std::string& name) {
    for (const auto& [k, v] : files[0].partition_values) {
      if (k == name) return true;
    }
    return false;
  };
  // The staging table has the file's columns (the data columns, in table order; COPY of Parquet
  // matches them by position), named as in the warehouse table.
  std::string create = "CREATE TEMP TABLE IF NOT EXISTS " + stage + " (";
  std::string data_cols;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const ColumnSpec& c = schema.columns[i];
    if (is_partition(c.name)) continue;
    if (!data_cols.empty()) {
      data_cols += ", ";
      create += ", ";
    }
    data_cols += QuoteIdentifier(columns.names[i]);
    create += QuoteIdentifier(columns.names[i]) + " " + d.TypeName(c.type);
  }
  create += ")";
  out.push_back(create);
  out.push_back("DELETE FROM " + stage);
  for (const ParquetFile& f : files) {
    out.push_back(fmt::format("COPY {} FROM {} IAM_ROLE {} FORMAT AS PARQUET", stage,
                              QuoteLiteral(f.uri), QuoteLiteral(iam_role)));
    std::string cols = data_cols;
    std::string select = data_cols;
    for (const auto& [k, v] : f.partition_values) {
      const int idx = schema.IndexOf(k);
      if (idx < 0) continue;
      cols += ", " + QuoteIdentifier(columns.names[idx]);
      select += ", " + (v ? QuoteLiteral(*v) + "::" + d.TypeName(schema.columns[idx].type)
                          : std::string("NULL"));
    }
    out.push_back(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", QuoteIdentifier(table), cols,
                              select, stage));
    // DELETE, not TRUNCATE: TRUNCATE commits the transaction on Redshift.
    out.push_back("DELETE FROM " + stage);
  }
  return out;
}

namespace {

void AppendEscaped(std::string_view s, std::string* out) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->push_back(c);
    }
  }
}

void AppendTimestamp(int64_t micros, std::string* out) {
  using namespace std::chrono;
  const sys_time<microseconds> t{microseconds(micros)};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const auto tod = t - day;
  const auto h = duration_cast<hours>(tod);
  const auto m = duration_cast<minutes>(tod - h);
  const auto s = duration_cast<seconds>(tod - h - m);
  const auto us = (tod - h - m - s).count();
  fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
                 static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                 static_cast<unsigned>(ymd.day()), h.count(), m.count(), s.count(), us);
}

}  // namespace

void AppendCopyText(const RecordBatch& batch, size_t begin, size_t end, std::string* out) {
  const size_t ncols = batch.num_columns();
  for (size_t row = begin; row < end; ++row) {
    for (size_t c = 0; c < ncols; ++c) {
      if (c > 0) out->push_back('\t');
      const Column& col = batch.column(c);
      if (col.IsNull(row)) {
        out->append("\\N");
        continue;
      }
      switch (col.type()) {
        case LogicalType::kString:
          AppendEscaped(col.GetString(row), out);
          break;
        case LogicalType::kInt32:
          fmt::format_to(std::back_inserter(*out), "{}", col.GetInt32(row));
          break;
        case LogicalType::kInt64:
          fmt::format_to(std::back_inserter(*out), "{}", col.GetInt64(row));
          break;
        case LogicalType::kDouble: {
          const double v = col.GetDouble(row);
          if (std::isnan(v)) {
            out->append("NaN");
          } else if (std::isinf(v)) {
            out->append(v > 0 ? "Infinity" : "-Infinity");
          } else {
            fmt::format_to(std::back_inserter(*out), "{}", v);  // shortest exact form
          }
          break;
        }
        case LogicalType::kTimestamp:
          AppendTimestamp(col.GetInt64(row), out);
          break;
        case LogicalType::kBool:
          out->push_back(col.GetBool(row) ? 't' : 'f');
          break;
        case LogicalType::kDate:
          out->append(FormatDate(col.GetDate(row)));
          break;
      }
    }
    out->push_back('\n');
  }
}

}  // namespace smartcity::warehouse
