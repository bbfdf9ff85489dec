#include "lake/s3_testutil.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "testing/subprocess.h"

namespace smartcity::lake::testing {

Status MinioServer::Script(const std::string& command, std::string* out) const {
  const std::vector<std::string> argv = {
      "bash",         std::string(SMARTCITY_SOURCE_DIR) + "/scripts/minio.sh",
      command,        "--dir",
      dir_->string(), "--bucket",
      bucket_};
  // The first start builds MinIO.
  auto r = test::RunProcess(argv, {.timeout = std::chrono::minutes(20)});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Status::Unavailable(fmt::format("scripts/minio.sh {} failed ({}):\n{}", command,
                                           r->status.ToString(), test::LastLines(r->err, 40)));
  }
  if (out) {
    std::string text = std::move(r->out);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    *out = text;
  }
  return Status::OK();
}

Result<std::unique_ptr<MinioServer>> MinioServer::Start(const std::string& bucket) {
  std::unique_ptr<MinioServer> s(new MinioServer());
  s->bucket_ = bucket;
  s->dir_ = std::make_unique<test::TempDir>("smartcity-minio");
  SC_RETURN_IF_ERROR(s->Script("start", &s->endpoint_));
  std::ifstream creds(*s->dir_ / "credentials");
  std::getline(creds, s->access_key_);
  std::getline(creds, s->secret_key_);
  if (s->access_key_.empty() || s->secret_key_.empty())
    return Status::Internal("minio.sh left no credentials in " + s->dir_->string());
  return s;
}

MinioServer::~MinioServer() {
  Status s = Script("stop");
  if (!s.ok()) std::fprintf(stderr, "MinioServer: %s\n", s.message().c_str());
}  // dir_ removes the server's folder

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
