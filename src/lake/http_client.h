// HttpClient: the one wrapper of libcurl. Sends one HTTP request and returns the whole response
// (status, headers, body); optionally signs it with AWS Signature V4 (libcurl's CURLOPT_AWS_SIGV4),
// so the S3 store never handles signing itself.
//
// Errors: a transport failure (connection refused or reset, DNS, timeout, TLS) is a Status of kind
// kUnavailable or kTimeout naming the URL without its query string; an HTTP error status is NOT an
// error here (the caller maps it). Credentials never appear in a Status or a log line.
//
// Thread-safety: Send may be called from many threads at once; curl easy handles are pooled (one
// per concurrent request, reused for keep-alive).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace smartcity::lake {

struct SigV4 {
  std::string region;   // "us-east-1"
  std::string service;  // "s3"
  std::string access_key;
  std::string secret_key;
};

struct HttpRequest {
  std::string method = "GET";  // GET, PUT, POST, DELETE, HEAD
  std::string url;             // already encoded (canonical path and sorted query for SigV4)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;        // borrowed; sent for PUT and POST
  const SigV4* sign = nullptr;  // borrowed; null: unsigned
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

struct CurlOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  // A transfer slower than 1 KiB/s for this long is abandoned (kTimeout): bounds a hung server
  // without bounding a large upload.
  std::chrono::seconds low_speed_time{30};
};

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options = {});
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request) override;

 private:
  void* Acquire();
  void Release(void* handle);

  CurlOptions options_;
  Mutex mu_;
  std::vector<void*> idle_ GUARDED_BY(mu_);  // CURL* easy handles
};

// "%2F"-style encoding of everything but RFC 3986 unreserved characters (and '/' if keep_slash):
// the encoding SigV4's canonical request uses.
std::string UriEncode(std::string_view s, bool keep_slash);

}  // namespace smartcity::lake
