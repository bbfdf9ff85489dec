// Test support: a real MinIO server on loopback for one test (scripts/minio.sh in a fresh folder),
// stopped and its data removed when the object goes away. Stop()/Start() keep port, credentials and
// data, so a test can take the server away and bring it back (an outage).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/status.h"
#include "lake/s3_object_store.h"
#include "testing/files.h"

namespace smartcity::lake::testing {

class MinioServer {
 public:
  // Builds MinIO if needed (scripts/minio.sh build), starts it with bucket `bucket`.
  static Result<std::unique_ptr<MinioServer>> Start(const std::string& bucket = "itest");
  ~MinioServer();

  Status Stop();
  Status Restart();

  const std::string& endpoint() const { return endpoint_; }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  const std::string& bucket() const { return bucket_; }
  // A config for s3://<bucket>/<prefix> on this server (small retry delays for tests).
  S3Config Config(const std::string& prefix) const;
  // Sets the AWS_* environment variables for this server (for OpenLakeStore / child processes).
  void ExportEnvironment() const;

 private:
  MinioServer() = default;
  Status Script(const std::string& command, std::string* out = nullptr) const;
  std::unique_ptr<test::TempDir> dir_;
  std::string bucket_, endpoint_, access_key_, secret_key_;
};

}  // namespace smartcity::lake::testing
