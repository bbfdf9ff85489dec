// PostgreSQL and Redshift warehouses over libpq (libpq is wrapped here, once). Rows reach
// PostgreSQL by `COPY ... FROM STDIN` in text format from our own buffers; Redshift loads the
// lake's Parquet files itself with `COPY ... FROM 's3://...' FORMAT AS PARQUET IAM_ROLE '...'`.
//
// Every session sets TIME ZONE 'UTC'. A broken session (server restarted, network gone) reports
// kUnavailable; the server rolls back whatever was open, and the caller reconnects.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "warehouse/warehouse.h"

namespace smartcity::warehouse {

// `conninfo`: a libpq connection string ("host=... port=... dbname=...") or URI
// ("postgresql://user@host:port/db"); empty = the PG* environment variables.
Result<std::unique_ptr<WarehouseConnection>> OpenPostgresWarehouse(const std::string& conninfo);

// kInvalidArgument (never retried) when libpq cannot parse `conninfo` at all: an unknown key, an
// unterminated quote or bracket, a bad percent-encoding, an unknown URI parameter, ... (libpq's
// own parser decides, so every malformed form is one class). `what` names it in the message.
Status CheckPostgresConninfo(const std::string& conninfo, const std::string& what);

// `url`: redshift://user:password@host:5439/db?iam_role=arn:aws:iam::123:role/x[&other libpq
// params]
Result<std::unique_ptr<WarehouseConnection>> OpenRedshiftWarehouse(const std::string& url);

// What OpenRedshiftWarehouse makes of its URL: the libpq URI and the IAM role. kInvalidArgument if
// the role is missing.
struct RedshiftTarget {
  std::string conninfo;
  std::string iam_role;
};
Result<RedshiftTarget> ParseRedshiftUrl(const std::string& url);

// The statements that load `files` into `table` on Redshift (inside the caller's transaction): each
// file is COPYed into a temporary staging table of the data columns, then moved into `table` with
// its partition values as constants.
std::vector<std::string> RedshiftLoadStatements(const std::string& table,
                                                const TargetColumns& columns,
                                                const std::vector<ParquetFile>& files,
                                                const std::string& iam_role);

// Appends rows [begin, end) of `batch` to `out` in PostgreSQL's COPY text format (tab-separated,
// \N for NULL, backslash escapes; timestamps as UTC "YYYY-MM-DD HH:MM:SS.ffffff+00").
void AppendCopyText(const RecordBatch& batch, size_t begin, size_t end, std::string* out);

}  // namespace smartcity::warehouse
