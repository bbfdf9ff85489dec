// Shared by `load` and `run` (which runs the loader in follow mode on the embedded warehouse).
#pragma once

#include <string>

namespace smartcity::cli {

// The default warehouse of a lake: a DuckDB file beside a local lake ("<lake>-warehouse.duckdb"),
// or, for an S3 lake, <bucket>-<prefix>-warehouse.duckdb in the working directory.
std::string DefaultWarehouse(const std::string& lake);

}  // namespace smartcity::cli
