#include "lake/s3_testutil.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "lake/delta_log.h"

namespace smartcity::lake::testing {

namespace fs = std::filesystem;

Status MinioServer::Script(const std::string& command, std::string* out) const {
  const std::string cmd = fmt::format("bash '{}/scripts/minio.sh' {} --dir '{}' --bucket '{}'",
                                      SMARTCITY_SOURCE_DIR, command, dir_.string(), bucket_);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return Status::IOError("cannot run " + cmd);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) return Status::Unavailable(fmt::format("{} failed (exit {})", cmd, rc));
  if (out) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    *out = text;
  }
  return Status::OK();
}

Result<std::unique_ptr<MinioServer>> MinioServer::Start(const std::string& bucket) {
  std::unique_ptr<MinioServer> s(new MinioServer());
  s->bucket_ = bucket;
  s->dir_ = fs::temp_directory_path() / fmt::format("smartcity-minio-{}-{}", ::getpid(), NewUuid());
  fs::create_directories(s->dir_);
  SC_RETURN_IF_ERROR(s->Script("start", &s->endpoint_));
  std::ifstream creds(s->dir_ / "credentials");
  std::getline(creds, s->access_key_);
  std::getline(creds, s->secret_key_);
  if (s->access_key_.empty() || s->secret_key_.empty())
    return Status::Internal("minio.sh left no credentials in " + s->dir_.string());
  return s;
}

MinioServer::~MinioServer() {
  (void)Script("stop");
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Status MinioServer::Stop() {
  return Script("stop");
}
Status MinioServer::Restart() {
  return Script("start");
}

S3Config MinioServer::Config(const std::string& prefix) const {
  S3Config c;
  c.bucket = bucket_;
  c.prefix = prefix;
  c.endpoint = endpoint_;
  c.addressing = S3Config::Addressing::kPath;
  c.credentials.access_key = access_key_;
  c.credentials.secret_key = secret_key_;
  c.credentials.source = "test";
  c.retry_base_delay = std::chrono::milliseconds(50);
  c.retry_max_delay = std::chrono::milliseconds(1000);
  return c;
}

void MinioServer::ExportEnvironment() const {
  ::setenv("AWS_ENDPOINT_URL", endpoint_.c_str(), 1);
  ::setenv("AWS_ACCESS_KEY_ID", access_key_.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", secret_key_.c_str(), 1);
  ::setenv("AWS_REGION", "us-east-1", 1);
  ::unsetenv("AWS_ENDPOINT_URL_S3");
  ::unsetenv("AWS_SESSION_TOKEN");
}

}  // namespace smartcity::lake::testing
