#include "lake/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

namespace smartcity::lake {

namespace {

std::once_flag g_curl_init;
CURLcode g_curl_init_code = CURLE_OK;

struct Transfer {
  std::string_view upload;
  size_t sent = 0;
  HttpResponse* response = nullptr;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response->body.append(data, size * n);
  return size * n;
}

size_t ReadBody(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t k = std::min(size * n, t->upload.size() - t->sent);
  std::memcpy(buffer, t->upload.data() + t->sent, k);
  t->sent += k;
  return k;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (line.starts_with("HTTP/")) {
    t->response->headers.clear();  // a 100 Continue or a redirect's headers precede the final ones
  } else if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    t->response->headers[name] = std::string(value);
  }
  return size * n;
}

// The URL without its query (which may carry an upload id or a continuation token): for messages.
std::string_view UrlForMessages(std::string_view url) {
  return url.substr(0, url.find('?'));
}

Status TransportError(CURLcode code, const HttpRequest& r) {
  const std::string what = fmt::format("{} {}", r.method, UrlForMessages(r.url));
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status::Timeout(fmt::format("{}: the server did not answer in time", what));
    case CURLE_COULDNT_CONNECT:
      return Status::Unavailable(fmt::format(
          "{}: connection refused (is the S3 server running? check the endpoint)", what));
    case CURLE_COULDNT_RESOLVE_HOST:
      return Status::Unavailable(
          fmt::format("{}: cannot resolve the host (check the endpoint)", what));
    default:
      return Status::Unavailable(fmt::format("{}: {}", what, curl_easy_strerror(code)));
  }
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

CurlHttpClient::CurlHttpClient(CurlOptions options) : options_(options) {
  std::call_once(g_curl_init, [] { g_curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlHttpClient::~CurlHttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* CurlHttpClient::Acquire() {
  {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void CurlHttpClient::Release(void* handle) {
  MutexLock lock(&mu_);
  idle_.push_back(handle);
}

Result<HttpResponse> CurlHttpClient::Send(const HttpRequest& r) {
  if (g_curl_init_code != CURLE_OK)
    return Status::Internal(
        fmt::format("libcurl failed to initialise: {}", curl_easy_strerror(g_curl_init_code)));
  CURL* h = static_cast<CURL*>(Acquire());
  if (h == nullptr)
    return Status::ResourceExhausted("libcurl could not create a handle (out of memory?)");
  curl_easy_reset(h);
  HttpResponse response;
  Transfer t{r.body, 0, &response};
  curl_slist* headers = nullptr;
  std::string userpwd, sigv4;
  CURLcode rc = CURLE_OK;
  // Every setopt is checked; the first failure stops the setup.
  auto set = [&](CURLoption opt, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, value);
  };
  set(CURLOPT_URL, r.url.c_str());
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  set(CURLOPT_LOW_SPEED_LIMIT, 1024L);
  set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time.count()));
  set(CURLOPT_WRITEFUNCTION, &WriteBody);
  set(CURLOPT_WRITEDATA, &t);
  set(CURLOPT_HEADERFUNCTION, &WriteHeader);
  set(CURLOPT_HEADERDATA, &t);
  if (r.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
  } else if (r.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (r.method == "PUT") {
    set(CURLOPT_UPLOAD, 1L);
    set(CURLOPT_READFUNCTION, &ReadBody);
    set(CURLOPT_READDATA, &t);
    set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  } else if (r.method == "POST") {
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDS, r.body.data());
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  } else {
    set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  bool has_content_type = false;
  for (const auto& [name, value] : r.headers) {
    has_content_type = has_content_type || strcasecmp(name.c_str(), "content-type") == 0;
    curl_slist* next = curl_slist_append(headers, (name + ": " + value).c_str());
    if (next == nullptr)
      rc = CURLE_OUT_OF_MEMORY;
    else
      headers = next;
  }
  if (r.method == "POST" && !has_content_type) {
    // libcurl would add a form content type; S3 wants none or XML.
    curl_slist* next = curl_slist_append(headers, "Content-Type: application/xml");
    if (next == nullptr)
      rc = CURLE_OUT_OF_MEMORY;
    else
      headers = next;
  }
  if (headers != nullptr) set(CURLOPT_HTTPHEADER, headers);
  if (r.sign != nullptr) {
    sigv4 = fmt::format("aws:amz:{}:{}", r.sign->region, r.sign->service);
    set(CURLOPT_AWS_SIGV4, sigv4.c_str());
    set(CURLOPT_USERNAME, r.sign->access_key.c_str());
    set(CURLOPT_PASSWORD, r.sign->secret_key.c_str());
  }
  if (rc == CURLE_OK) rc = curl_easy_perform(h);
  long status = 0;
  if (rc == CURLE_OK) rc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  // Forget the credentials before the handle goes back to the pool.
  curl_easy_reset(h);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    // A handle whose connection broke is not reused.
    curl_easy_cleanup(h);
    return TransportError(rc, r);
  }
  Release(h);
  response.status = status;
  return response;
}

}  // namespace smartcity::lake
