#include "warehouse/warehouse.h"

#include "warehouse/duckdb_warehouse.h"
#include "warehouse/postgres_warehouse.h"

namespace smartcity::warehouse {

std::optional<std::string> DuckDbPath(const std::string& spec) {
  if (spec.starts_with("duckdb:")) return spec.substr(7);
  return std::nullopt;
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
