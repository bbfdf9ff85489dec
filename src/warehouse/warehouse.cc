#include "warehouse/warehouse.h"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "warehouse/duckdb_warehouse.h"
#include "warehouse/postgres_warehouse.h"

namespace smartcity::warehouse {

std::optional<std::string> DuckDbPath(const std::string& spec) {
  if (spec.starts_with("duckdb:")) return spec.substr(7);
  return std::nullopt;
}

Status CheckWarehouseSpec(const std::string& spec) {
  namespace fs = std::filesystem;
  if (auto path = DuckDbPath(spec)) {
    if (path->empty())
      return Status::InvalidArgument("--warehouse duckdb:<file> needs a file name");
    std::error_code ec;
    if (fs::is_directory(*path, ec)) {
      return Status::InvalidArgument(fmt::format(
          "--warehouse {}: {} is a folder; name a DuckDB file (duckdb:{}/warehouse.duckdb)", spec,
          *path, *path));
    }
    const fs::path folder = fs::absolute(fs::path(*path), ec).parent_path();
    if (!fs::is_directory(folder, ec)) {
      return Status::InvalidArgument(fmt::format(
          "--warehouse {}: the folder {} does not exist; create it or name a file in an existing "
          "folder",
          spec, folder.string()));
    }
    return Status::OK();
  }
  // A connection string libpq cannot parse is refused here, never retried as if the server were
  // away.
  constexpr std::string_view kWhat = "--warehouse's connection string";
  if (spec.starts_with("postgres://") || spec.starts_with("postgresql://")) {
    return CheckPostgresConninfo(spec, std::string(kWhat));
  }
  if (spec.starts_with("postgres:"))
    return CheckPostgresConninfo(spec.substr(9), std::string(kWhat));
  if (spec.starts_with("redshift://")) {
    SC_ASSIGN_OR_RETURN(RedshiftTarget target, ParseRedshiftUrl(spec));
    return CheckPostgresConninfo(target.conninfo, std::string(kWhat));
  }
  return Status::InvalidArgument(fmt::format(
      "--warehouse {} is not a warehouse: give duckdb:<file>, postgres://user@host:port/db (or "
      "postgres: to use the PG* variables, or postgres:<libpq conninfo>), "
      "redshift://user:pass@host:5439/db?iam_role=<arn>{}",
      spec.empty() ? "\"\"" : spec,
      spec.find(':') == std::string::npos ? ", or none (in `run`) for no loader" : ""));
}

bool IsPermanentConnectFailure(std::string_view message) {
  // libpq's and DuckDB's own words (they give no error code before a session exists).
  static constexpr std::string_view kPermanent[] = {
      "does not exist",                  // database, role (PostgreSQL); no such file (libpq)
      "password authentication failed",  // credentials
      "authentication failed",
      "no password supplied",
      "no pg_hba.conf entry",       // the server refuses this host/user/database
      "permission denied",          // a role without CONNECT; a file we may not open
      "invalid connection option",  // a malformed conninfo
      "invalid URI",                // a malformed URL
      "invalid integer value",      // port=abc
      "invalid port number",
      "No such file or directory",    // DuckDB: the file's folder is missing
      "not a valid DuckDB database",  // DuckDB: some other file
      "Is a directory",
      "Read-only file system",
  };
  for (std::string_view p : kPermanent) {
    if (message.find(p) != std::string_view::npos) return true;
  }
  return false;
}

Result<std::unique_ptr<WarehouseConnection>> OpenWarehouse(const std::string& spec,
                                                           const WarehouseOpenOptions& options) {
  if (auto path = DuckDbPath(spec)) {
    if (path->empty())
      return Status::InvalidArgument("--warehouse duckdb:<file> needs a file name");
    return OpenDuckDbWarehouse(*path, options.duckdb_memory_limit);
  }
  if (spec.starts_with("postgres://") || spec.starts_with("postgresql://")) {
    return OpenPostgresWarehouse(spec);
  }
  if (spec.starts_with("postgres:")) return OpenPostgresWarehouse(spec.substr(9));
  if (spec.starts_with("redshift://")) return OpenRedshiftWarehouse(spec);
  return Status::InvalidArgument(
      "--warehouse must be duckdb:<file>, postgres://user@host:port/db (or postgres: to use the "
      "PG* "
      "variables, or postgres:<libpq conninfo>) or "
      "redshift://user:pass@host:5439/db?iam_role=<arn>");
}

}  // namespace smartcity::warehouse
