// S3ObjectStore: the lake on any S3-compatible service (AWS S3, MinIO) through its REST API, over
// HttpClient (libcurl, which signs with AWS SigV4). Keys live under "s3://bucket/prefix/".
//
// PutIfAbsent is a PUT with `If-None-Match: *` (412 -> kAlreadyExists), so two writers of the same
// Delta version never both win. PutFile uploads large files in parts (multipart upload; the upload
// is aborted if a part fails). Requests that failed for a reason a retry can fix (connection
// errors, timeouts, 5xx, SlowDown/throttling, 409 ConditionalRequestConflict) are retried (one
// RetryPolicy, common/retry.h: exponential backoff with jitter, waits through the config's Clock)
// for up to `retry_budget`; the store is the one layer that retries its requests, and a failure it
// gave up on comes back marked Status::retries_spent() so no caller retries it again
// (docs/retries.md). Wrong credentials, access denied and a missing bucket fail at once with a
// sentence naming the fix. Secrets never appear in a Status.
//
// Thread-safety: safe for concurrent use by many threads (HttpClient pools its handles).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/retry.h"
#include "common/status.h"
#include "engine/s3_access.h"
#include "lake/http_client.h"
#include "lake/object_store.h"

namespace smartcity::lake {

struct S3Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
  std::string source;  // "environment" or "shared credentials file ~/.aws/credentials [profile]"
};

// Where and how to reach the service. FromEnvironment fills it the way the AWS CLI does.
struct S3Config {
  std::string bucket;
  std::string prefix;    // no leading or trailing '/'; may be empty
  std::string endpoint;  // "http://127.0.0.1:9000"; empty: AWS (https://s3.<region>.amazonaws.com)
  std::string region = "us-east-1";
  enum class Addressing { kAuto, kPath, kVirtualHost };
  // kAuto: virtual-host on AWS, path-style on an overridden endpoint (MinIO, Ceph, ...).
  Addressing addressing = Addressing::kAuto;
  S3Credentials credentials;
  // Retries of one request stop once this much time has passed since its first attempt; nothing
  // above the store retries a request the store gave up on (docs/retries.md).
  std::chrono::milliseconds retry_budget{60'000};
  // Backoff: from retry_base_delay doubling to retry_max_delay, each wait drawn from [d/2, d].
  std::chrono::milliseconds retry_base_delay{100};
  std::chrono::milliseconds retry_max_delay{5'000};
  // Time for the retries' waits (borrowed); null: Clock::Real().
  Clock* clock = nullptr;
  // PutFile uses multipart upload for files larger than this, in parts of part_size (>= 5 MiB).
  uint64_t multipart_threshold = 16ull << 20;
  uint64_t part_size = 16ull << 20;
  // Keys per ListObjectsV2 page (max-keys); 0: the server's default (1000 on AWS and MinIO).
  int list_page_size = 0;

  // Parses "s3://bucket/prefix" (also s3a://) and reads: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,
  // AWS_REGION / AWS_DEFAULT_REGION, SMARTCITY_S3_ADDRESSING (path | virtual | auto),
  // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the shared credentials file
  // (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials; profile AWS_PROFILE or "default").
  // `getenv` is injectable for tests.
  static Result<S3Config> FromEnvironment(
      std::string_view uri, const std::function<const char*(const char*)>& getenv = nullptr);
};

// Splits "s3://bucket/a/b/" into bucket "bucket" and prefix "a/b".
Status ParseS3Uri(std::string_view uri, std::string* bucket, std::string* prefix);

// Reads one profile of an AWS shared credentials file (INI). kNotFound if the file or profile is
// missing, kInvalidArgument if the profile lacks a key.
Result<S3Credentials> ReadSharedCredentials(const std::filesystem::path& file,
                                            std::string_view profile);

class S3ObjectStore final : public ObjectStore {
 public:
  // Checks the bucket is reachable with the credentials (one ListObjectsV2 call, retried while the
  // server is unavailable) so that a wrong setting fails here with a clear message. `http` null: a
  // CurlHttpClient.
  static Result<std::unique_ptr<S3ObjectStore>> Open(S3Config config,
                                                     std::unique_ptr<HttpClient> http = nullptr);

  Status Put(std::string_view key, std::string_view bytes) override;
  Status PutIfAbsent(std::string_view key, std::string_view bytes) override;
  Status PutFile(std::string_view key, const std::filesystem::path& local_file) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  std::string ReaderUri(std::string_view key) const override;
  std::string Describe() const override;

  const S3Config& config() const { return config_; }
  // Requests retried so far (tests, metrics).
  uint64_t retries() const { return retries_.load(); }
  // The URL of an object (or of the bucket for an empty key) as this store addresses it.
  std::string ObjectUrl(std::string_view full_key, std::string_view query = {}) const;

 private:
  S3ObjectStore(S3Config config, std::unique_ptr<HttpClient> http);
  std::string FullKey(std::string_view key) const;
  // Sends the request (signed), retrying retryable failures within the budget. A response whose
  // status is an error becomes a Status; `ok_statuses` lists the non-2xx statuses the caller
  // handles.
  Result<HttpResponse> Call(HttpRequest request, std::string_view what,
                            std::initializer_list<long> ok_statuses = {});
  Status PutObject(std::string_view key, std::string_view bytes, bool if_absent);
  Status MultipartUpload(const std::string& full_key, const std::filesystem::path& file,
                         uint64_t size);

  S3Config config_;
  SigV4 sign_;
  std::unique_ptr<HttpClient> http_;
  std::string base_url_;  // scheme://host[:port], no trailing '/'
  bool path_style_ = true;
  RetryPolicy retry_;
  std::atomic<uint64_t> retries_{0};
};

// The settings DuckDB's httpfs needs to read this store's objects (engine::ConfigureS3).
engine::S3Access DuckDbS3Access(const S3ObjectStore& store);

// Prepares `conn` to read the objects of `store` by their ReaderUri: for an S3 store, loads httpfs
// and gives DuckDB the store's endpoint and credentials (engine::ConfigureS3); for any other store,
// does nothing. Call it before a lock-down that disables extension loading. The httpfs file comes
// from $SMARTCITY_DUCKDB_EXTENSION_DIR, else the .cache/venv of the project the running binary was
// built in (build/<variant>/src/<dir>/<binary> -> four levels up); if neither has it, kNotFound
// naming the fix.
Status PrepareDuckDbReads(const ObjectStore& store, engine::Connection* conn);

// Maps an S3 error response to a Status ("what" names the operation). Never copies the response
// body wholesale (it can echo the request's signature); uses the <Code> and a sentence of our own.
Status S3ErrorStatus(long http_status, std::string_view body, std::string_view what,
                     std::string_view bucket);

}  // namespace smartcity::lake
