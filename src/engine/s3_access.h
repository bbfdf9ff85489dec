// Lets a DuckDB connection read s3:// URLs of an S3-compatible service through DuckDB's httpfs
// extension: loads the extension from a local file (no download at run time) and creates a session
// secret with the endpoint, region, credentials and addressing style. For readers that want DuckDB
// to fetch objects itself (catalog, sql, loaders) instead of downloading them through the lake's
// ObjectStore.
//
// The extension file: httpfs.duckdb_extension of DuckDB's version (1.4.4), from the PyPI package
// duckdb-ext-httpfs (scripts/requirements-test.txt installs it into .cache/venv;
// FindHttpfsExtension looks there, or in SMARTCITY_DUCKDB_EXTENSION_DIR).
//
// Secrets: the CREATE SECRET statement holds the secret key; if it fails, the Status carries a
// message of ours, never DuckDB's text (which may quote the statement).
//
// Thread-safety: like Connection (one thread at a time per connection).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/engine.h"

namespace smartcity::engine {

struct S3Access {
  std::string endpoint;  // "http://127.0.0.1:9000"; empty: AWS
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  bool path_style = true;
};

// httpfs.duckdb_extension: $SMARTCITY_DUCKDB_EXTENSION_DIR/httpfs.duckdb_extension, else the copy
// in the project's Python venv (.cache/venv, duckdb-ext-httpfs) under `project_root`; nullopt if
// none.
std::optional<std::filesystem::path> FindHttpfsExtension(const std::filesystem::path& project_root);

// Loads httpfs from `extension` and creates (or replaces) the temporary secret `smartcity_s3`.
Status ConfigureS3(Connection* conn, const S3Access& access,
                   const std::filesystem::path& extension);

}  // namespace smartcity::engine
