// S3ObjectStore against a scripted fake HTTP layer: request shapes (addressing, encoding,
// conditional put, ranges, pagination, multipart), error mapping, retries within the budget, and
// that no secret ever reaches a Status. The same store against a real S3 server: s3_itest.cc.
#include "lake/s3_object_store.h"

#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <map>

#include "common/clock.h"
#include "common/retry.h"
#include "testing/files.h"

namespace smartcity::lake {
namespace {

namespace fs = std::filesystem;
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";

// Answers requests from a script (in order); records every request.
class FakeHttp final : public HttpClient {
 public:
  struct Recorded {
    std::string method, url, body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool signed_request = false;
    std::string Header(const std::string& name) const {
      for (const auto& [k, v] : headers)
        if (k == name) return v;
      return "";
    }
  };
  Result<HttpResponse> Send(const HttpRequest& r) override {
    std::lock_guard lock(mu);
    requests.push_back(
        Recorded{r.method, r.url, std::string(r.body), r.headers, r.sign != nullptr});
    if (r.sign != nullptr) secret_seen = r.sign->secret_key;
    if (script.empty())
      return Status::Internal("fake: no scripted answer for " + r.method + " " + r.url);
    auto next = std::move(script.front());
    script.pop_front();
    return next;
  }
  void Answer(long status, std::string body = "", std::map<std::string, std::string> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    script.push_back(std::move(r));
  }
  void Fail(Status s) { script.push_back(std::move(s)); }

  std::mutex mu;
  std::deque<Result<HttpResponse>> script;
  std::vector<Recorded> requests;
  std::string secret_seen;
};

// Hands requests to a FakeHttp that the test owns (so it outlives a store that failed to open).
class ForwardingHttp final : public HttpClient {
 public:
  explicit ForwardingHttp(FakeHttp* to) : to_(to) {}
  Result<HttpResponse> Send(const HttpRequest& r) override { return to_->Send(r); }

 private:
  FakeHttp* to_;
};

std::string ErrorXml(const std::string& code) {
  // Real servers echo request details; our Status must not copy them.
  return "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>detail " + kSecret +
         "</Message><StringToSign>AWS4-HMAC-SHA256 " + kSecret + "</StringToSign></Error>";
}

S3Config TestConfig() {
  S3Config c;
  c.bucket = "lake-bucket";
  c.prefix = "city/prod";
  c.endpoint = "http://127.0.0.1:9000";
  c.region = "eu-west-2";
  c.credentials.access_key = "AKIDEXAMPLE";
  c.credentials.secret_key = kSecret;
  c.credentials.source = "test";
  c.retry_budget = std::chrono::milliseconds(2'000);
  c.retry_base_delay = std::chrono::milliseconds(1);
  c.retry_max_delay = std::chrono::milliseconds(5);
  return c;
}

// Opens a store over a fake that first answers the open probe.
std::unique_ptr<S3ObjectStore> OpenStore(FakeHttp** fake, S3Config config = TestConfig()) {
  auto http = std::make_unique<FakeHttp>();
  http->Answer(200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  *fake = http.get();
  auto store = S3ObjectStore::Open(std::move(config), std::move(http));
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(S3UriTest, SplitsBucketAndPrefix) {
  std::string b, p;
  ASSERT_TRUE(ParseS3Uri("s3://my-bucket/a/b/", &b, &p).ok());
  EXPECT_EQ(b, "my-bucket");
  EXPECT_EQ(p, "a/b");
  ASSERT_TRUE(ParseS3Uri("s3a://my-bucket", &b, &p).ok());
  EXPECT_EQ(p, "");
  EXPECT_EQ(ParseS3Uri("s3://My_Bucket/x", &b, &p).kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(ParseS3Uri("s3://bucket/a/../b", &b, &p).kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(ParseS3Uri("gs://bucket/a", &b, &p).kind(), ErrorKind::kInvalidArgument);
}

TEST(S3ConfigTest, ReadsTheStandardEnvironment) {
  std::map<std::string, std::string> env = {{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"},
                                            {"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9100"},
                                            {"AWS_DEFAULT_REGION", "eu-west-1"},
                                            {"AWS_ACCESS_KEY_ID", "AK"},
                                            {"AWS_SECRET_ACCESS_KEY", "SK"},
                                            {"AWS_SESSION_TOKEN", "TOK"}};
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto c = S3Config::FromEnvironment("s3://bkt/pre", get);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:9100");  // the S3-specific variable wins
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->credentials.access_key, "AK");
  EXPECT_EQ(c->credentials.session_token, "TOK");
  env["AWS_REGION"] = "ap-south-1";
  EXPECT_EQ(S3Config::FromEnvironment("s3://bkt/pre", get)->region, "ap-south-1");
  env.erase("AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(S3Config::FromEnvironment("s3://bkt/pre", get).status().kind(),
            ErrorKind::kInvalidArgument);
  env["AWS_SECRET_ACCESS_KEY"] = "SK";
  env["AWS_ENDPOINT_URL_S3"] = "127.0.0.1:9000";
  EXPECT_EQ(S3Config::FromEnvironment("s3://bkt/pre", get).status().kind(),
            ErrorKind::kInvalidArgument);
}

TEST(S3ConfigTest, FallsBackToTheSharedCredentialsFileAndProfile) {
  test::TempDir home("s3-creds");
  const fs::path& dir = home.path();
  fs::create_directories(dir / ".aws");
  {
    std::ofstream f(dir / ".aws" / "credentials");
    f << "# comment\n[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = "
         "DEFAULTSECRET\n\n"
         "[ci]\naws_access_key_id=CIKEY\naws_secret_access_key=CISECRET\naws_session_token = "
         "CITOKEN\n"
         "[broken]\naws_access_key_id=ONLYKEY\n";
  }
  std::map<std::string, std::string> env = {{"HOME", dir.string()}};
  auto get = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto c = S3Config::FromEnvironment("s3://bkt", get);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->credentials.access_key, "DEFAULTKEY");
  EXPECT_EQ(c->credentials.secret_key, "DEFAULTSECRET");
  env["AWS_PROFILE"] = "ci";
  c = S3Config::FromEnvironment("s3://bkt", get);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->credentials.access_key, "CIKEY");
  EXPECT_EQ(c->credentials.session_token, "CITOKEN");
  env["AWS_PROFILE"] = "broken";
  EXPECT_EQ(S3Config::FromEnvironment("s3://bkt", get).status().kind(),
            ErrorKind::kInvalidArgument);
  env["AWS_PROFILE"] = "nope";
  auto missing = S3Config::FromEnvironment("s3://bkt", get);
  EXPECT_EQ(missing.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  // AWS_SHARED_CREDENTIALS_FILE beats ~/.aws/credentials.
  {
    std::ofstream f(dir / "other");
    f << "[nope]\naws_access_key_id=OTHER\naws_secret_access_key=OTHERSECRET\n";
  }
  env["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "other").string();
  EXPECT_EQ(S3Config::FromEnvironment("s3://bkt", get)->credentials.access_key, "OTHER");
}

TEST(S3ObjectStoreTest, AddressesPathStyleAndVirtualHostStyle) {
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->ObjectUrl("city/prod/t/event_date=2024-01-01/a b.parquet"),
            "http://127.0.0.1:9000/lake-bucket/city/prod/t/event_date%3D2024-01-01/a%20b.parquet");
  EXPECT_EQ(fake->requests[0].url,
            "http://127.0.0.1:9000/lake-bucket?list-type=2&max-keys=1&prefix=city%2Fprod%2F");
  EXPECT_TRUE(fake->requests[0].signed_request);
  EXPECT_EQ(store->ReaderUri("t/x.json"), "s3://lake-bucket/city/prod/t/x.json");

  S3Config v = TestConfig();
  v.addressing = S3Config::Addressing::kVirtualHost;
  v.endpoint = "http://s3.local:9000";
  auto vstore = OpenStore(&fake, v);
  ASSERT_TRUE(vstore);
  EXPECT_EQ(vstore->ObjectUrl("k/v"), "http://lake-bucket.s3.local:9000/k/v");

  S3Config aws = TestConfig();
  aws.endpoint.clear();
  auto astore = OpenStore(&fake, aws);
  ASSERT_TRUE(astore);
  EXPECT_EQ(astore->ObjectUrl("k"), "https://lake-bucket.s3.eu-west-2.amazonaws.com/k");
}

TEST(S3ObjectStoreTest, ConditionalPutSendsIfNoneMatchAndMaps412ToAlreadyExists) {
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake);
  ASSERT_TRUE(store);
  fake->Answer(200);
  ASSERT_TRUE(store->PutIfAbsent("t/_delta_log/00000000000000000000.json", "{}\n").ok());
  const auto& put = fake->requests.back();
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.Header("If-None-Match"), "*");
  EXPECT_EQ(put.body, "{}\n");
  EXPECT_EQ(put.Header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  fake->Answer(412, ErrorXml("PreconditionFailed"));
  EXPECT_EQ(store->PutIfAbsent("t/_delta_log/00000000000000000000.json", "{}\n").kind(),
            ErrorKind::kAlreadyExists);
  // 409 ConditionalRequestConflict: a concurrent conditional write; retried, then decided.
  fake->Answer(409, ErrorXml("ConditionalRequestConflict"));
  fake->Answer(412, ErrorXml("PreconditionFailed"));
  EXPECT_EQ(store->PutIfAbsent("t/_delta_log/00000000000000000001.json", "{}\n").kind(),
            ErrorKind::kAlreadyExists);
  EXPECT_EQ(store->retries(), 1u);
  // A plain put has no condition.
  fake->Answer(200);
  ASSERT_TRUE(store->Put("t/x", "y").ok());
  EXPECT_EQ(fake->requests.back().Header("If-None-Match"), "");
}

TEST(S3ObjectStoreTest, RetriesThrottlingServerErrorsAndConnectionFailures) {
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake);
  ASSERT_TRUE(store);
  fake->Answer(503, ErrorXml("SlowDown"));
  fake->Answer(500, ErrorXml("InternalError"));
  fake->Fail(Status::Unavailable("connection refused"));
  fake->Fail(Status::Timeout("timed out"));
  fake->Answer(200, "payload");
  auto got = store->Get("t/x");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, "payload");
  EXPECT_EQ(store->retries(), 4u);
}

TEST(S3ObjectStoreTest, GivesUpWhenTheRetryBudgetIsSpent) {
  S3Config c = TestConfig();
  c.retry_budget = std::chrono::milliseconds(50);
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake, c);
  ASSERT_TRUE(store);
  for (int i = 0; i < 10000; ++i) fake->Fail(Status::Unavailable("connection refused"));
  Status s = store->Put("t/x", "y");
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_NE(s.message().find("gave up after"), std::string::npos) << s.message();
  EXPECT_GT(store->retries(), 0u);
}

// The waits go through the configured Clock: a minute-long budget is spent at once, to the
// microsecond, on a FakeClock.
TEST(S3ObjectStoreTest, RetriesWaitThroughTheConfiguredClock) {
  FakeClock clock;
  S3Config c = TestConfig();
  c.clock = &clock;
  c.retry_budget = std::chrono::seconds(60);
  c.retry_base_delay = std::chrono::milliseconds(100);
  c.retry_max_delay = std::chrono::seconds(5);
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake, c);
  ASSERT_TRUE(store);
  for (int i = 0; i < 10000; ++i) fake->Fail(Status::Unavailable("connection refused"));
  const ProcessingTime start = clock.Now();
  Status s = store->Put("t/x", "y");
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(s.retries_spent());
  EXPECT_EQ(clock.Now() - start, std::chrono::seconds(60)) << "the last attempt is at the budget";
  // At least 60 s / 5 s waits, at most what waits of d/2 allow.
  EXPECT_GE(store->retries(), 12u);
  EXPECT_LE(store->retries(), 40u);
  EXPECT_EQ(fake->requests.size(), 1 + store->retries() + 1) << "the open probe, then each attempt";
}

// The layering rule of docs/retries.md: the store is the one layer that retries its requests. A
// caller's own RetryPolicy (the processor's around a checkpoint write, the loader's around a pass)
// returns a failure the store gave up on at once, instead of starting the store's retries over.
TEST(S3ObjectStoreTest, RetriesDoNotMultiplyWithTheCallersPolicy) {
  FakeClock clock;
  S3Config c = TestConfig();
  c.clock = &clock;
  c.retry_budget = std::chrono::seconds(60);
  c.retry_base_delay = std::chrono::milliseconds(100);
  c.retry_max_delay = std::chrono::seconds(5);
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake, c);
  ASSERT_TRUE(store);
  for (int i = 0; i < 10000; ++i) fake->Fail(Status::Unavailable("connection refused"));
  const size_t probe = fake->requests.size();
  RetryOptions caller;  // the processor's: 100 ms doubling to 10 s, 8 retries, 3 min
  caller.max_attempts = 9;
  caller.deadline = std::chrono::minutes(3);
  uint64_t caller_retries = 0;
  const ProcessingTime start = clock.Now();
  Status s =
      RetryPolicy(caller, &clock)
          .Run(
              [&] {
                return store->PutIfAbsent("_checkpoints/q/p0/state/1", "x").WithContext("writing");
              },
              &caller_retries);
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(caller_retries, 0u);
  EXPECT_EQ(fake->requests.size() - probe, store->retries() + 1)
      << "one run of the store's retries";
  EXPECT_EQ(clock.Now() - start, std::chrono::seconds(60)) << "the store's budget, not 9 of them";
}

TEST(S3ObjectStoreTest, CredentialAndBucketErrorsFailAtOnceWithoutSecrets) {
  for (const char* code :
       {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "NoSuchBucket"}) {
    SCOPED_TRACE(code);
    FakeHttp owned;
    FakeHttp* fake = &owned;
    fake->Answer(std::string(code) == "NoSuchBucket" ? 404 : 403, ErrorXml(code));
    auto store = S3ObjectStore::Open(TestConfig(), std::make_unique<ForwardingHttp>(fake));
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(fake->requests.size(), 1u) << "a credential or bucket error must not be retried";
    const std::string& m = store.status().message();
    EXPECT_EQ(store.status().kind(), std::string(code) == "NoSuchBucket"
                                         ? ErrorKind::kInvalidArgument
                                         : ErrorKind::kPermissionDenied);
    EXPECT_NE(m.find(code), std::string::npos) << m;
    EXPECT_EQ(m.find(kSecret), std::string::npos) << m;
    EXPECT_EQ(m.find("SECRETKEY"), std::string::npos) << m;
    EXPECT_EQ(fake->secret_seen, kSecret);  // it was given to the signer, only there
  }
  // A HEAD has no body: 403 alone still means access denied, 404 not found.
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake);
  ASSERT_TRUE(store);
  fake->Answer(403);
  EXPECT_EQ(store->Head("t/x").status().kind(), ErrorKind::kPermissionDenied);
  fake->Answer(404);
  EXPECT_EQ(store->Head("t/x").status().kind(), ErrorKind::kNotFound);
  fake->Answer(404, ErrorXml("NoSuchKey"));
  EXPECT_EQ(store->Get("t/x").status().kind(), ErrorKind::kNotFound);
}

TEST(S3ObjectStoreTest, HeadRangesDeleteAndSessionToken) {
  S3Config c = TestConfig();
  c.credentials.session_token = "SESSION";
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake, c);
  ASSERT_TRUE(store);
  EXPECT_EQ(fake->requests[0].Header("x-amz-security-token"), "SESSION");
  fake->Answer(200, "",
               {{"content-length", "1234"}, {"last-modified", "Wed, 01 May 2024 12:00:00 GMT"}});
  auto info = store->Head("t/x");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 1234u);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(info->modified), 1714564800);
  fake->Answer(206, "bcd");
  EXPECT_EQ(*store->GetRange("t/x", 1, 3), "bcd");
  EXPECT_EQ(fake->requests.back().Header("Range"), "bytes=1-3");
  fake->Answer(206, "cdef");
  EXPECT_EQ(*store->GetRange("t/x", 2, UINT64_MAX), "cdef");
  EXPECT_EQ(fake->requests.back().Header("Range"), "bytes=2-");
  fake->Answer(416, ErrorXml("InvalidRange"));
  EXPECT_EQ(*store->GetRange("t/x", 100, 5), "");
  fake->Answer(204);
  EXPECT_TRUE(store->Delete("t/x").ok());
  EXPECT_EQ(fake->requests.back().method, "DELETE");
  fake->Answer(404, ErrorXml("NoSuchKey"));
  EXPECT_TRUE(store->Delete("t/x").ok());
  EXPECT_EQ(store->Put("/bad", "x").kind(), ErrorKind::kInvalidArgument);
}

TEST(S3ObjectStoreTest, ListFollowsContinuationTokensAndStripsThePrefix) {
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake);
  ASSERT_TRUE(store);
  fake->Answer(200,
               "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=1</"
               "NextContinuationToken>"
               "<Contents><Key>city/prod/t/b&amp;c.json</"
               "Key><LastModified>2024-05-01T12:00:00.000Z</LastModified>"
               "<Size>7</Size></Contents></ListBucketResult>");
  fake->Answer(
      200,
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>city/prod/t/a.json</Key><Size>3</Size></Contents></ListBucketResult>");
  auto l = store->List("t/");
  ASSERT_TRUE(l.ok()) << l.status().message();
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].key, "t/a.json");
  EXPECT_EQ((*l)[1].key, "t/b&c.json");
  EXPECT_EQ((*l)[1].size, 7u);
  EXPECT_EQ(std::chrono::system_clock::to_time_t((*l)[1].modified), 1714564800);
  EXPECT_EQ(fake->requests[1].url,
            "http://127.0.0.1:9000/lake-bucket?list-type=2&prefix=city%2Fprod%2Ft%2F");
  EXPECT_EQ(fake->requests[2].url,
            "http://127.0.0.1:9000/"
            "lake-bucket?continuation-token=tok%2F%2B%3D1&list-type=2&prefix=city%2Fprod%2Ft%2F");
}

class S3MultipartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream f(file_, std::ios::binary);
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 11; ++i) {
      chunk[0] = static_cast<char>('a' + i);
      f << chunk;
    }
  }
  S3Config Config() {
    S3Config c = TestConfig();
    c.multipart_threshold = 5ull << 20;
    c.part_size = 5ull << 20;
    return c;
  }
  test::TempDir tmp_{"s3-multipart"};
  const fs::path file_ = tmp_ / "upload.bin";
};

TEST_F(S3MultipartTest, UploadsPartsAndCompletes) {
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake, Config());
  ASSERT_TRUE(store);
  fake->Answer(
      200,
      "<InitiateMultipartUploadResult><UploadId>up/1=</UploadId></InitiateMultipartUploadResult>");
  for (int i = 1; i <= 3; ++i)
    fake->Answer(200, "", {{"etag", "\"etag" + std::to_string(i) + "\""}});
  fake->Answer(
      200, "<CompleteMultipartUploadResult><ETag>\"x-3\"</ETag></CompleteMultipartUploadResult>");
  ASSERT_TRUE(store->PutFile("t/big.parquet", file_).ok());
  ASSERT_EQ(fake->requests.size(), 6u);
  EXPECT_EQ(fake->requests[1].method, "POST");
  EXPECT_EQ(fake->requests[1].url,
            "http://127.0.0.1:9000/lake-bucket/city/prod/t/big.parquet?uploads=");
  EXPECT_EQ(
      fake->requests[2].url,
      "http://127.0.0.1:9000/lake-bucket/city/prod/t/big.parquet?partNumber=1&uploadId=up%2F1%3D");
  EXPECT_EQ(fake->requests[2].body.size(), 5u << 20);
  EXPECT_EQ(fake->requests[4].body.size(), 1u << 20);
  EXPECT_EQ(fake->requests[4].body[0], 'a' + 10);
  EXPECT_EQ(fake->requests[5].method, "POST");
  EXPECT_NE(fake->requests[5].body.find(
                "<Part><PartNumber>3</PartNumber><ETag>&quot;etag3&quot;</ETag></Part>"),
            std::string::npos);
}

TEST_F(S3MultipartTest, AbortsTheUploadWhenAPartFails) {
  FakeHttp* fake = nullptr;
  auto store = OpenStore(&fake, Config());
  ASSERT_TRUE(store);
  fake->Answer(
      200, "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>");
  fake->Answer(200, "", {{"etag", "\"e1\""}});
  fake->Answer(403, ErrorXml("AccessDenied"));
  fake->Answer(204);
  EXPECT_EQ(store->PutFile("t/big.parquet", file_).kind(), ErrorKind::kPermissionDenied);
  ASSERT_EQ(fake->requests.size(), 5u);
  EXPECT_EQ(fake->requests[4].method, "DELETE");
  EXPECT_EQ(fake->requests[4].url,
            "http://127.0.0.1:9000/lake-bucket/city/prod/t/big.parquet?uploadId=U");
}

TEST_F(S3MultipartTest, ACompletionAnsweredWithAnErrorDocumentFails) {
  FakeHttp* fake = nullptr;
  S3Config c = Config();
  c.retry_budget = std::chrono::milliseconds(0);
  auto store = OpenStore(&fake, c);
  ASSERT_TRUE(store);
  fake->Answer(
      200, "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>");
  for (int i = 1; i <= 3; ++i) fake->Answer(200, "", {{"etag", "\"e\""}});
  fake->Answer(200, ErrorXml("InvalidPart"));
  fake->Answer(204);
  EXPECT_FALSE(store->PutFile("t/big.parquet", file_).ok());
  EXPECT_EQ(fake->requests.back().method, "DELETE");
}

}  // namespace
}  // namespace smartcity::lake
