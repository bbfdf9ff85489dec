#include "lake/s3_object_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>

namespace smartcity::lake {

namespace fs = std::filesystem;

namespace {

// "UNSIGNED-PAYLOAD": the body is not part of the signature (S3 and MinIO accept it; TCP and the
// Content-Length guard the transfer). libcurl then signs headers and URL only.
constexpr const char* kPayloadHash = "UNSIGNED-PAYLOAD";

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out.push_back('&');
    else if (ent == "lt")
      out.push_back('<');
    else if (ent == "gt")
      out.push_back('>');
    else if (ent == "quot")
      out.push_back('"');
    else if (ent == "apos")
      out.push_back('\'');
    else if (!ent.empty() && ent[0] == '#') {
      const bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
      const unsigned long cp =
          std::strtoul(std::string(ent.substr(hex ? 2 : 1)).c_str(), nullptr, hex ? 16 : 10);
      // UTF-8 encode.
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// The text of the first <tag>...</tag> at or after *pos (advancing *pos past it), or nullopt.
std::optional<std::string_view> XmlElement(std::string_view xml, std::string_view tag,
                                           size_t* pos = nullptr) {
  size_t from = pos ? *pos : 0;
  const std::string open = fmt::format("<{}>", tag), close = fmt::format("</{}>", tag);
  size_t b = xml.find(open, from);
  if (b == std::string_view::npos) return std::nullopt;
  b += open.size();
  size_t e = xml.find(close, b);
  if (e == std::string_view::npos) return std::nullopt;
  if (pos) *pos = e + close.size();
  return xml.substr(b, e - b);
}

// "2024-05-01T12:00:00.000Z" (ListObjectsV2) or "Wed, 01 May 2024 12:00:00 GMT" (Last-Modified).
std::chrono::system_clock::time_point ParseHttpTime(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) {
    tm = {};
    end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  }
  if (end == nullptr) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

bool IsRetryableStatus(long status, std::string_view code) {
  return status >= 500 || status == 429 || code == "SlowDown" || code == "RequestTimeout" ||
         code == "Throttling" || code == "ThrottlingException" || code == "RequestTimeTooSkewed" ||
         code == "ConditionalRequestConflict" || code == "OperationAborted" ||
         code == "XMinioServerNotInitialized";
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

// ------------------------------------------------------------------------------------
// configuration

Status ParseS3Uri(std::string_view uri, std::string* bucket, std::string* prefix) {
  std::string_view rest;
  if (uri.starts_with("s3://"))
    rest = uri.substr(5);
  else if (uri.starts_with("s3a://"))
    rest = uri.substr(6);
  else
    return Status::InvalidArgument(fmt::format("{} is not an s3://bucket/prefix location", uri));
  const size_t slash = rest.find('/');
  *bucket = std::string(rest.substr(0, slash));
  std::string_view p =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  *prefix = std::string(p);
  if (bucket->size() < 3 || bucket->size() > 63 ||
      !std::all_of(bucket->begin(), bucket->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
      })) {
    return Status::InvalidArgument(
        fmt::format("lake {}: '{}' is not a valid bucket name (3-63 characters: lower-case "
                    "letters, digits, '-', '.')",
                    uri, *bucket));
  }
  if (!prefix->empty())
    SC_RETURN_IF_ERROR(ValidateKey(*prefix).WithContext(fmt::format("lake {}", uri)));
  return Status::OK();
}

Result<S3Credentials> ReadSharedCredentials(const fs::path& file, std::string_view profile) {
  std::ifstream in(file);
  if (!in) return Status::NotFound(fmt::format("no AWS shared credentials file {}", file.string()));
  S3Credentials c;
  c.source = fmt::format("shared credentials file {} [{}]", file.string(), profile);
  bool in_profile = false, found = false;
  std::string line;
  while (std::getline(in, line)) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      std::string name = Trim(std::string_view(t).substr(1, t.size() - 2));
      if (name.starts_with("profile ")) name = Trim(std::string_view(name).substr(8));
      in_profile = name == profile;
      found = found || in_profile;
      continue;
    }
    if (!in_profile) continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = Trim(std::string_view(t).substr(0, eq)),
                      v = Trim(std::string_view(t).substr(eq + 1));
    if (k == "aws_access_key_id")
      c.access_key = v;
    else if (k == "aws_secret_access_key")
      c.secret_key = v;
    else if (k == "aws_session_token")
      c.session_token = v;
  }
  if (!found)
    return Status::NotFound(fmt::format("no profile [{}] in the AWS shared credentials file {}",
                                        profile, file.string()));
  if (c.access_key.empty() || c.secret_key.empty()) {
    return Status::InvalidArgument(
        fmt::format("profile [{}] of {} lacks aws_access_key_id or aws_secret_access_key", profile,
                    file.string()));
  }
  return c;
}

Result<S3Config> S3Config::FromEnvironment(
    std::string_view uri, const std::function<const char*(const char*)>& getenv_fn) {
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  S3Config c;
  SC_RETURN_IF_ERROR(ParseS3Uri(uri, &c.bucket, &c.prefix));
  c.endpoint = env("AWS_ENDPOINT_URL_S3");
  if (c.endpoint.empty()) c.endpoint = env("AWS_ENDPOINT_URL");
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  if (!c.endpoint.empty() && !c.endpoint.starts_with("http://") &&
      !c.endpoint.starts_with("https://")) {
    return Status::InvalidArgument(fmt::format(
        "AWS_ENDPOINT_URL {} must start with http:// or https:// (e.g. http://127.0.0.1:9000)",
        c.endpoint));
  }
  std::string region = env("AWS_REGION");
  if (region.empty()) region = env("AWS_DEFAULT_REGION");
  if (!region.empty()) c.region = region;
  const std::string addressing = env("SMARTCITY_S3_ADDRESSING");
  if (addressing == "path")
    c.addressing = Addressing::kPath;
  else if (addressing == "virtual")
    c.addressing = Addressing::kVirtualHost;
  else if (addressing.empty() || addressing == "auto")
    c.addressing = Addressing::kAuto;
  else
    return Status::InvalidArgument(
        fmt::format("SMARTCITY_S3_ADDRESSING={} is not one of path, virtual, auto", addressing));

  c.credentials.access_key = env("AWS_ACCESS_KEY_ID");
  c.credentials.secret_key = env("AWS_SECRET_ACCESS_KEY");
  c.credentials.session_token = env("AWS_SESSION_TOKEN");
  if (!c.credentials.access_key.empty() || !c.credentials.secret_key.empty()) {
    if (c.credentials.access_key.empty() || c.credentials.secret_key.empty()) {
      return Status::InvalidArgument(
          "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both (or neither, "
          "to use "
          "the shared credentials file)");
    }
    c.credentials.source = "environment";
    return c;
  }
  std::string file = env("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty()) {
    const std::string home = env("HOME");
    if (!home.empty()) file = home + "/.aws/credentials";
  }
  std::string profile = env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  auto creds = file.empty() ? Result<S3Credentials>(Status::NotFound("no HOME"))
                            : ReadSharedCredentials(file, profile);
  if (!creds.ok()) {
    if (creds.status().kind() != ErrorKind::kNotFound) return creds.status();
    return Status::InvalidArgument(
        fmt::format("lake {}: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                    "or give a shared "
                    "credentials file ({})",
                    uri, creds.status().message()));
  }
  c.credentials = std::move(*creds);
  return c;
}

// ----------------------------------------------------------------------------------------- errors

Status S3ErrorStatus(long http_status, std::string_view body, std::string_view what,
                     std::string_view bucket) {
  const std::string code = XmlUnescape(XmlElement(body, "Code").value_or(""));
  const std::string shown = code.empty() ? fmt::format("HTTP {}", http_status)
                                         : fmt::format("HTTP {} {}", http_status, code);
  const std::string head = fmt::format("{}: {}", what, shown);
  if (code == "InvalidAccessKeyId" || code == "InvalidToken" || code == "ExpiredToken" ||
      code == "TokenRefreshRequired") {
    return Status::PermissionDenied(
        fmt::format("{}: the S3 access key is not known to the server (check AWS_ACCESS_KEY_ID / "
                    "the credentials profile)",
                    head));
  }
  if (code == "SignatureDoesNotMatch") {
    return Status::PermissionDenied(fmt::format(
        "{}: the S3 secret key is wrong (check AWS_SECRET_ACCESS_KEY / the credentials profile)",
        head));
  }
  if (code == "AccessDenied" || code == "AllAccessDisabled" ||
      (code.empty() && http_status == 403)) {
    return Status::PermissionDenied(fmt::format(
        "{}: access denied to bucket {} (grant these credentials read/write access to it)", head,
        bucket));
  }
  if (code == "NoSuchBucket") {
    return Status::InvalidArgument(fmt::format(
        "{}: bucket {} does not exist (create it, or fix the --lake location)", head, bucket));
  }
  if (code == "PreconditionFailed" || http_status == 412)
    return Status::AlreadyExists(fmt::format("{}: the object already exists", head));
  if (code == "NoSuchKey" || http_status == 404)
    return Status::NotFound(fmt::format("{}: no such object", head));
  if (IsRetryableStatus(http_status, code)) {
    return Status::Unavailable(
        fmt::format("{}: the S3 server is busy or failing (retrying may help)", head));
  }
  if (code == "EntityTooLarge" || code == "EntityTooSmall")
    return Status::ResourceExhausted(
        fmt::format("{}: object size out of the server's limits", head));
  return Status::IOError(fmt::format("{}: the S3 server refused the request", head));
}

// ------------------------------------------------------------------------------------------ store

namespace {

RetryOptions RetryOptionsOf(const S3Config& c) {
  RetryOptions o;
  o.initial_backoff = c.retry_base_delay;
  o.max_backoff = c.retry_max_delay;
  o.multiplier = 2.0;
  o.jitter = 0.5;  // waits in [d/2, d]: many writers do not retry in step
  o.deadline = c.retry_budget;
  return o;
}

}  // namespace

S3ObjectStore::S3ObjectStore(S3Config config, std::unique_ptr<HttpClient> http)
    : config_(std::move(config)),
      http_(std::move(http)),
      retry_(RetryOptionsOf(config_), config_.clock) {
  sign_ =
      SigV4{config_.region, "s3", config_.credentials.access_key, config_.credentials.secret_key};
  if (config_.endpoint.empty()) {
    base_url_ = fmt::format("https://s3.{}.amazonaws.com", config_.region);
    path_style_ = config_.addressing == S3Config::Addressing::kPath;
  } else {
    base_url_ = config_.endpoint;
    path_style_ = config_.addressing != S3Config::Addressing::kVirtualHost;
  }
  // Buckets with dots break TLS host names in virtual-host style; AWS itself falls back to path
  // style.
  if (!path_style_ && config_.bucket.find('.') != std::string::npos &&
      base_url_.starts_with("https://"))
    path_style_ = true;
}

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Open(S3Config config,
                                                           std::unique_ptr<HttpClient> http) {
  if (config.part_size < (5ull << 20))
    return Status::InvalidArgument("S3 multipart part size must be at least 5 MiB");
  if (config.credentials.access_key.empty() || config.credentials.secret_key.empty())
    return Status::InvalidArgument(
        "S3 credentials are missing (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  if (!http) http = std::make_unique<CurlHttpClient>();
  std::unique_ptr<S3ObjectStore> store(new S3ObjectStore(std::move(config), std::move(http)));
  // One cheap signed call: wrong credentials, a missing bucket or a wrong endpoint fail here.
  HttpRequest r;
  std::string query = "list-type=2&max-keys=1";
  if (!store->config_.prefix.empty())
    query += "&prefix=" + UriEncode(store->config_.prefix + "/", false);
  r.url = store->ObjectUrl("", query);
  auto resp = store->Call(std::move(r), fmt::format("opening lake {}", store->ReaderUri("")));
  if (!resp.ok()) return resp.status();
  return store;
}

std::string S3ObjectStore::FullKey(std::string_view key) const {
  return config_.prefix.empty() ? std::string(key) : config_.prefix + "/" + std::string(key);
}

std::string S3ObjectStore::ObjectUrl(std::string_view full_key, std::string_view query) const {
  std::string url;
  if (path_style_) {
    url = fmt::format("{}/{}", base_url_, config_.bucket);
    if (!full_key.empty()) url += "/" + UriEncode(full_key, true);
  } else {
    const size_t scheme_end = base_url_.find("://") + 3;
    url = fmt::format("{}{}.{}/{}", base_url_.substr(0, scheme_end), config_.bucket,
                      base_url_.substr(scheme_end), UriEncode(full_key, true));
  }
  if (!query.empty()) url += fmt::format("?{}", query);
  return url;
}

std::string S3ObjectStore::ReaderUri(std::string_view key) const {
  std::string uri = "s3://" + config_.bucket;
  if (!config_.prefix.empty()) uri += "/" + config_.prefix;
  if (!key.empty()) uri += "/" + std::string(key);
  return uri;
}

std::string S3ObjectStore::Describe() const {
  return fmt::format("S3 lake {} at {}", ReaderUri(""), base_url_);
}

Result<HttpResponse> S3ObjectStore::Call(HttpRequest request, std::string_view what,
                                         std::initializer_list<long> ok_statuses) {
  request.sign = &sign_;
  request.headers.emplace_back("x-amz-content-sha256", kPayloadHash);
  if (!config_.credentials.session_token.empty())
    request.headers.emplace_back("x-amz-security-token", config_.credentials.session_token);
  RetryPolicy::Attempts attempts = retry_.Start();
  for (;;) {
    Status failure;
    auto resp = http_->Send(request);
    if (!resp.ok()) {
      failure = resp.status().WithContext(what);
    } else if ((resp->status >= 200 && resp->status < 300 &&
                // CompleteMultipartUpload can answer 200 with an error document.
                !(request.method == "POST" && resp->body.find("<Error>") != std::string::npos)) ||
               std::find(ok_statuses.begin(), ok_statuses.end(), resp->status) !=
                   ok_statuses.end()) {
      return resp;
    } else {
      failure = S3ErrorStatus(resp->status, resp->body, what, config_.bucket);
    }
    if (!attempts.ShouldRetry(&failure)) return failure;
    ++retries_;
    attempts.Wait();
  }
}

Status S3ObjectStore::PutObject(std::string_view key, std::string_view bytes, bool if_absent) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  HttpRequest r;
  r.method = "PUT";
  r.url = ObjectUrl(FullKey(key));
  r.body = bytes;
  r.headers.emplace_back("Content-Type", "application/octet-stream");
  if (if_absent) r.headers.emplace_back("If-None-Match", "*");
  auto resp = Call(std::move(r), fmt::format("writing {}", ReaderUri(key)));
  return resp.status();
}

Status S3ObjectStore::Put(std::string_view key, std::string_view bytes) {
  return PutObject(key, bytes, false);
}

Status S3ObjectStore::PutIfAbsent(std::string_view key, std::string_view bytes) {
  return PutObject(key, bytes, true);
}

Status S3ObjectStore::PutFile(std::string_view key, const fs::path& local_file) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  std::error_code ec;
  const uint64_t size = fs::file_size(local_file, ec);
  if (ec)
    return Status::IOError(fmt::format("cannot read {}: {}", local_file.string(), ec.message()));
  if (size > config_.multipart_threshold) return MultipartUpload(FullKey(key), local_file, size);
  std::ifstream in(local_file, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size)))
    return Status::IOError(fmt::format("cannot read {}", local_file.string()));
  return PutObject(key, bytes, false);
}

Status S3ObjectStore::MultipartUpload(const std::string& full_key, const fs::path& file,
                                      uint64_t size) {
  const std::string uri =
      ReaderUri(full_key.substr(config_.prefix.empty() ? 0 : config_.prefix.size() + 1));
  HttpRequest start;
  start.method = "POST";
  start.url = ObjectUrl(full_key, "uploads=");
  start.headers.emplace_back("Content-Type", "application/octet-stream");
  SC_ASSIGN_OR_RETURN(HttpResponse started,
                      Call(std::move(start), fmt::format("starting the upload of {}", uri)));
  auto id = XmlElement(started.body, "UploadId");
  if (!id || id->empty())
    return Status::IOError(
        fmt::format("starting the upload of {}: no UploadId in the answer", uri));
  const std::string upload_id = XmlUnescape(*id);
  const std::string id_query = "uploadId=" + UriEncode(upload_id, false);

  auto upload_parts = [&]() -> Result<std::string> {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::IOError(fmt::format("cannot read {}", file.string()));
    std::string buf;
    std::string complete = "<CompleteMultipartUpload>";
    uint64_t done = 0;
    for (int part = 1; done < size; ++part) {
      const uint64_t n = std::min(config_.part_size, size - done);
      buf.resize(n);
      if (!in.read(buf.data(), static_cast<std::streamsize>(n)))
        return Status::IOError(fmt::format("cannot read {}", file.string()));
      HttpRequest p;
      p.method = "PUT";
      p.url = ObjectUrl(full_key, fmt::format("partNumber={}&{}", part, id_query));
      p.body = buf;
      SC_ASSIGN_OR_RETURN(HttpResponse put,
                          Call(std::move(p), fmt::format("uploading part {} of {}", part, uri)));
      const std::string etag = put.Header("etag");
      if (etag.empty())
        return Status::IOError(
            fmt::format("uploading part {} of {}: no ETag in the answer", part, uri));
      complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", part,
                              XmlEscape(etag));
      done += n;
    }
    return complete + "</CompleteMultipartUpload>";
  };
  auto body = upload_parts();
  Status s = body.status();
  if (s.ok()) {
    HttpRequest c;
    c.method = "POST";
    c.url = ObjectUrl(full_key, id_query);
    c.body = *body;
    s = Call(std::move(c), fmt::format("completing the upload of {}", uri)).status();
  }
  if (!s.ok()) {
    // Abort so the parts do not linger (and cost) in the bucket; best effort.
    HttpRequest a;
    a.method = "DELETE";
    a.url = ObjectUrl(full_key, id_query);
    (void)Call(std::move(a), fmt::format("aborting the upload of {}", uri), {404}).status();
  }
  return s;
}

Result<std::string> S3ObjectStore::Get(std::string_view key) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  HttpRequest r;
  r.url = ObjectUrl(FullKey(key));
  SC_ASSIGN_OR_RETURN(HttpResponse resp,
                      Call(std::move(r), fmt::format("reading {}", ReaderUri(key))));
  return std::move(resp.body);
}

Result<std::string> S3ObjectStore::GetRange(std::string_view key, uint64_t offset,
                                            uint64_t length) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  if (length == 0) return std::string();
  HttpRequest r;
  r.url = ObjectUrl(FullKey(key));
  const bool to_end = length > UINT64_MAX - offset;
  r.headers.emplace_back("Range", to_end ? fmt::format("bytes={}-", offset)
                                         : fmt::format("bytes={}-{}", offset, offset + length - 1));
  // 416: the range starts at or past the end: no bytes (like a local read past the end).
  SC_ASSIGN_OR_RETURN(HttpResponse resp,
                      Call(std::move(r), fmt::format("reading {}", ReaderUri(key)), {416}));
  if (resp.status == 416) return std::string();
  if (resp.status == 200 && (offset > 0 || !to_end)) {
    // A server that ignores Range sends the whole object.
    const uint64_t b = std::min<uint64_t>(offset, resp.body.size());
    return resp.body.substr(b, std::min<uint64_t>(length, resp.body.size() - b));
  }
  return std::move(resp.body);
}

Result<ObjectInfo> S3ObjectStore::Head(std::string_view key) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  HttpRequest r;
  r.method = "HEAD";
  r.url = ObjectUrl(FullKey(key));
  SC_ASSIGN_OR_RETURN(HttpResponse resp,
                      Call(std::move(r), fmt::format("looking up {}", ReaderUri(key))));
  ObjectInfo info;
  info.key = std::string(key);
  info.size = std::strtoull(resp.Header("content-length").c_str(), nullptr, 10);
  info.modified = ParseHttpTime(resp.Header("last-modified"));
  return info;
}

Result<std::vector<ObjectInfo>> S3ObjectStore::List(std::string_view prefix) {
  std::vector<ObjectInfo> out;
  const std::string full_prefix =
      config_.prefix.empty() ? std::string(prefix) : config_.prefix + "/" + std::string(prefix);
  const size_t strip = config_.prefix.empty() ? 0 : config_.prefix.size() + 1;
  std::string token;
  for (int page = 0;; ++page) {
    // The canonical query: parameters sorted by name, values encoded.
    std::string query;
    if (!token.empty()) query += "continuation-token=" + UriEncode(token, false) + "&";
    query += "list-type=2";
    if (config_.list_page_size > 0) query += fmt::format("&max-keys={}", config_.list_page_size);
    if (!full_prefix.empty()) query += "&prefix=" + UriEncode(full_prefix, false);
    HttpRequest r;
    r.url = ObjectUrl("", query);
    SC_ASSIGN_OR_RETURN(HttpResponse resp,
                        Call(std::move(r), fmt::format("listing {}", ReaderUri(prefix))));
    size_t pos = 0;
    while (auto item = XmlElement(resp.body, "Contents", &pos)) {
      std::string key = XmlUnescape(XmlElement(*item, "Key").value_or(""));
      if (key.size() < strip || key.compare(0, full_prefix.size(), full_prefix) != 0) continue;
      ObjectInfo info;
      info.key = key.substr(strip);
      info.size =
          std::strtoull(std::string(XmlElement(*item, "Size").value_or("0")).c_str(), nullptr, 10);
      info.modified = ParseHttpTime(std::string(XmlElement(*item, "LastModified").value_or("")));
      out.push_back(std::move(info));
    }
    const bool truncated = XmlElement(resp.body, "IsTruncated").value_or("false") == "true";
    if (!truncated) break;
    token = XmlUnescape(XmlElement(resp.body, "NextContinuationToken").value_or(""));
    if (token.empty())
      return Status::IOError(fmt::format(
          "listing {}: a truncated page without a continuation token", ReaderUri(prefix)));
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

engine::S3Access DuckDbS3Access(const S3ObjectStore& store) {
  const S3Config& c = store.config();
  engine::S3Access a;
  a.endpoint = c.endpoint;
  a.region = c.region;
  a.access_key = c.credentials.access_key;
  a.secret_key = c.credentials.secret_key;
  a.session_token = c.credentials.session_token;
  a.path_style = store.ObjectUrl("").find("://" + c.bucket + ".") == std::string::npos;
  return a;
}

Status PrepareDuckDbReads(const ObjectStore& store, engine::Connection* conn) {
  const auto* s3 = dynamic_cast<const S3ObjectStore*>(&store);
  if (s3 == nullptr) return Status::OK();
  std::error_code ec;
  // The project root is four levels above the binary's folder (build/<variant>/src/cli/smartcity);
  // an unresolvable /proc/self/exe just leaves the environment variable as the only place looked.
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::filesystem::path root =
      ec ? std::filesystem::path() : exe.parent_path() / ".." / ".." / ".." / "..";
  auto ext = engine::FindHttpfsExtension(root.lexically_normal());
  if (!ext) {
    return Status::NotFound(
        fmt::format("reading the {} needs DuckDB's httpfs extension, which was not found: set "
                    "SMARTCITY_DUCKDB_EXTENSION_DIR to a folder holding httpfs.duckdb_extension "
                    "(DuckDB 1.4.4), or "
                    "run scripts/pyenv.sh in the project to install duckdb-ext-httpfs",
                    store.Describe()));
  }
  return engine::ConfigureS3(conn, DuckDbS3Access(*s3), *ext);
}

Status S3ObjectStore::Delete(std::string_view key) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  HttpRequest r;
  r.method = "DELETE";
  r.url = ObjectUrl(FullKey(key));
  return Call(std::move(r), fmt::format("deleting {}", ReaderUri(key)), {404}).status();
}

}  // namespace smartcity::lake
