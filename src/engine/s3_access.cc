#include "engine/s3_access.h"

#include <fmt/format.h>

#include <cstdlib>

namespace smartcity::engine {

namespace fs = std::filesystem;

std::optional<fs::path> FindHttpfsExtension(const fs::path& project_root) {
  std::error_code ec;
  if (const char* dir = std::getenv("SMARTCITY_DUCKDB_EXTENSION_DIR");
      dir != nullptr && *dir != '\0') {
    fs::path p = fs::path(dir) / "httpfs.duckdb_extension";
    if (fs::is_regular_file(p, ec)) return p;
  }
  const fs::path lib = project_root / ".cache" / "venv" / "lib";
  for (const auto& py : fs::directory_iterator(lib, ec)) {
    fs::path p = py.path() / "site-packages" / "duckdb_ext" / "extensions" / "v1.4.4" /
                 "linux_amd64" / "httpfs.duckdb_extension";
    if (fs::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

Status ConfigureS3(Connection* conn, const S3Access& a, const fs::path& extension) {
  Status loaded = conn->Execute(fmt::format("SET autoinstall_known_extensions = false; LOAD {}",
                                            QuoteLiteral(extension.string())));
  if (!loaded.ok()) {
    return Status(loaded.kind(),
                  fmt::format("cannot load DuckDB's httpfs extension from {} (install "
                              "duckdb-ext-httpfs: scripts/pyenv.sh): {}",
                              extension.string(), loaded.message()));
  }
  std::string endpoint = a.endpoint;
  bool use_ssl = true;
  if (endpoint.starts_with("http://")) {
    endpoint = endpoint.substr(7);
    use_ssl = false;
  } else if (endpoint.starts_with("https://")) {
    endpoint = endpoint.substr(8);
  }
  std::string sql = fmt::format(
      "CREATE OR REPLACE TEMPORARY SECRET smartcity_s3 (TYPE s3, KEY_ID {}, SECRET {}, REGION {}, "
      "URL_STYLE {}, USE_SSL {}",
      QuoteLiteral(a.access_key), QuoteLiteral(a.secret_key), QuoteLiteral(a.region),
      QuoteLiteral(a.path_style ? "path" : "vhost"), use_ssl ? "true" : "false");
  if (!endpoint.empty()) sql += ", ENDPOINT " + QuoteLiteral(endpoint);
  if (!a.session_token.empty()) sql += ", SESSION_TOKEN " + QuoteLiteral(a.session_token);
  sql += ")";
  Status s = conn->Execute(sql);
  if (!s.ok()) {
    return Status(s.kind(),
                  "cannot give DuckDB the S3 settings (CREATE SECRET failed; check the endpoint "
                  "and credentials)");
  }
  return Status::OK();
}

}  // namespace smartcity::engine
