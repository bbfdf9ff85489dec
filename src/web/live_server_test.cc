// The live view's HTTP server on a loopback port, with the library's client and raw sockets for
// requests no well-behaved client sends.
#include "web/live_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/wait.h"

namespace smartcity::web {
namespace {

// Sends `request` on a new connection and returns the server's answer up to the end of its headers
// (or what came before it closed, or 10 s passed). The write side stays open: the library treats a
// half-closed connection as gone and would not answer.
std::string RawExchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on an oversized request
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  while (answer.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

class LiveServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LiveServerOptions o;
    o.listen.port = 0;
    o.max_sse_clients = 2;
    o.sse_interval = std::chrono::milliseconds(50);
    auto s = LiveServer::Start(o, &state_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }

  FakeClock clock_;
  LiveState state_{LiveStateOptions{}, &clock_};
  std::unique_ptr<LiveServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(LiveServerTest, ServesTheDashboardAndTheApi) {
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<script src=\"/app.js\">"), std::string::npos);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* path : {"/app.js", "/style.css"}) {
    auto r = client_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_FALSE(r->body.empty()) << path;
  }
  for (const char* path :
       {"/api/vehicles", "/api/incidents", "/api/rates", "/api/status", "/api/route"}) {
    auto r = client_->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_FALSE(nlohmann::json::parse(r->body, nullptr, false).is_discarded()) << path;
  }
  auto m = client_->Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m->body.find("# TYPE smartcity_events_in_total counter"), std::string::npos);
  auto head = client_->Head("/api/status");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

TEST_F(LiveServerTest, IsReadOnlyAndAnswersUnknownPathsWith404) {
  auto r = client_->Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  auto post = client_->Post("/api/vehicles", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  auto del = client_->Delete("/metrics");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  auto bad = client_->Get("/api/rates?seconds=abc");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto ok = client_->Get("/api/rates?seconds=5");
  ASSERT_TRUE(ok);
  EXPECT_EQ(nlohmann::json::parse(ok->body)["topics"]["gps_data"].size(), 5u);
}

TEST_F(LiveServerTest, RefusesMalformedAndOversizedRequestsAndKeepsServing) {
  EXPECT_EQ(RawExchange(server_->port(), "garbage\r\n\r\n").substr(0, 12), "HTTP/1.1 400");
  EXPECT_EQ(RawExchange(server_->port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                             std::string(100'000, 'a') + "\r\n\r\n")
                .substr(0, 12),
            "HTTP/1.1 400");
  EXPECT_EQ(RawExchange(server_->port(),
                        "GET /" + std::string(20'000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n")
                .substr(0, 12),
            "HTTP/1.1 414");
  // A body announced far over the limit (and never sent): refused without reading it.
  const std::string big =
      "PUT /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n";
  EXPECT_EQ(RawExchange(server_->port(), big).substr(0, 10), "HTTP/1.1 4");
  EXPECT_EQ(RawExchange(server_->port(), std::string("\x00\xff\x13\x37\r\n\r\n", 8)).substr(0, 12),
            "HTTP/1.1 400");
  auto r = client_->Get("/api/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(LiveServerTest, StreamsUpdatesAndBoundsTheNumberOfStreams) {
  // Two streams are allowed; hold them open on their own threads until each has had updates.
  std::array<std::atomic<int>, 2> updates{};
  std::atomic<bool> stop{false};
  std::vector<std::thread> streams;
  for (int i = 0; i < 2; ++i) {
    streams.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(10, 0);
      c.Get("/api/events", [&](const char* data, size_t n) {
        if (std::string_view(data, n).find("event: update") != std::string_view::npos) ++updates[i];
        return !stop.load();
      });
    });
  }
  test::WaitUntil([&] { return updates[0].load() >= 2 && updates[1].load() >= 2; },
                  std::chrono::seconds(60), std::chrono::milliseconds(10));
  ASSERT_GE(updates[0].load(), 2);
  ASSERT_GE(updates[1].load(), 2);
  auto third = client_->Get("/api/events");
  stop = true;
  for (auto& t : streams) t.join();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 503);
  // Streams ended: a new one is accepted (its first update arrives at once).
  bool got = false;
  httplib::Client c("127.0.0.1", server_->port());
  // The slots are freed when the server notices the closed streams; retry for a while.
  for (int attempt = 0; attempt < 200 && !got; ++attempt) {
    auto r = c.Get("/api/events", [&](const char* data, size_t n) {
      got = std::string_view(data, n).find("\"vehicles\"") != std::string_view::npos;
      return false;
    });
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(got);
}

// The status line of a raw exchange ("HTTP/1.1 413"), and whether its headers carry `header`.
std::string StatusOf(const std::string& answer) {
  return answer.substr(0, 12);
}
bool HasNosniff(const std::string& answer) {
  return answer.find("\r\nX-Content-Type-Options: nosniff\r\n") != std::string::npos;
}

TEST_F(LiveServerTest, BodiesOverTheLimitAre413AnnouncedOrChunked) {
  const int port = server_->port();
  const std::string over = std::to_string((64 << 10) + 1);
  for (const char* method : {"GET", "HEAD", "PUT", "POST"}) {
    // Announced over the limit (the body is never sent).
    std::string a = RawExchange(port, std::string(method) + " /api/status HTTP/1.1\r\nHost: " +
                                          "127.0.0.1\r\nContent-Length: " + over + "\r\n\r\n");
    EXPECT_EQ(StatusOf(a), "HTTP/1.1 413") << method << ": " << a;
    // Chunked, 100 KiB in chunks of 4 KiB.
    std::string req =
        std::string(method) +
        " /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 25; ++i) req += "1000\r\n" + std::string(4096, 'x') + "\r\n";
    req += "0\r\n\r\n";
    a = RawExchange(port, req);
    EXPECT_EQ(StatusOf(a), "HTTP/1.1 413") << method << ": " << a;
  }
  // A body within the limit on a GET is not read: served, and the connection is not reused.
  std::string a = RawExchange(
      port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(StatusOf(a), "HTTP/1.1 200") << a;
  EXPECT_NE(a.find("Connection: close"), std::string::npos) << a;
  auto r = client_->Get("/api/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(LiveServerTest, EveryResponseSaysNosniff) {
  const int port = server_->port();
  for (const std::string& req :
       {std::string("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        std::string("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        std::string("GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        std::string("GET /api/rates?seconds=x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        std::string("PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"),
        std::string("GET /" + std::string(20'000, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        std::string("garbage\r\n\r\n")}) {
    const std::string a = RawExchange(port, req);
    EXPECT_TRUE(HasNosniff(a)) << req.substr(0, 40) << " -> " << a;
  }
}

TEST_F(LiveServerTest, RefusesForeignHostHeaders) {
  const int port = server_->port();
  const std::string p = std::to_string(port);
  auto get = [&](const std::string& host) {
    return StatusOf(RawExchange(port, "GET /api/status HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
  };
  for (const std::string& ok :
       {std::string("127.0.0.1"), "127.0.0.1:" + p, std::string("localhost"), "LocalHost:" + p,
        std::string("[::1]"), "[::1]:" + p}) {
    EXPECT_EQ(get(ok), "HTTP/1.1 200") << ok;
  }
  for (const std::string& bad :
       {std::string("evil.example"), "evil.example:" + p, std::string("127.0.0.1.evil.example"),
        std::string("localhost.evil.example:80"), std::string("127.0.0.1:x"), std::string("[::1"),
        std::string("")}) {
    EXPECT_EQ(get(bad), "HTTP/1.1 403") << bad;
  }
  // HTTP/1.0 without a Host header: no browser sends that.
  EXPECT_EQ(StatusOf(RawExchange(port, "GET /healthz HTTP/1.0\r\n\r\n")), "HTTP/1.1 200");
}

TEST(LiveServerHostTest, AllowedHostsAndTheListenAddressAreServed) {
  FakeClock clock;
  LiveState state(LiveStateOptions{}, &clock);
  LiveServerOptions o;
  o.listen.port = 0;
  o.allowed_hosts = {"City.Example"};
  auto s = LiveServer::Start(o, &state);
  ASSERT_TRUE(s.ok());
  const int port = (*s)->port();
  for (const std::string& host :
       {std::string("city.example"), "city.example:" + std::to_string(port),
        std::string("CITY.EXAMPLE:1")}) {
    EXPECT_EQ(StatusOf(RawExchange(port, "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n")),
              "HTTP/1.1 200")
        << host;
  }
  EXPECT_EQ(StatusOf(RawExchange(port, "GET /healthz HTTP/1.1\r\nHost: other.example\r\n\r\n")),
            "HTTP/1.1 403");
}

TEST_F(LiveServerTest, AnswersAHundredConcurrentClients) {
  // All connect before any is answered (a barrier), then each sends one request; every one must
  // be answered (the timeouts are generous: completion is asserted, not speed).
  constexpr int kClients = 100;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << i;
    timeval tv{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    fds.push_back(fd);
  }
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int fd : fds) {
    threads.emplace_back([fd, &answered] {
      const std::string req =
          "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
      if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
        return;
      std::string answer;
      char buf[4096];
      while (true) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        answer.append(buf, static_cast<size_t>(n));
      }
      if (answer.rfind("HTTP/1.1 200", 0) == 0) ++answered;
    });
  }
  for (auto& t : threads) t.join();
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(answered.load(), kClients);
  // The backlog the docs give (1024), as far as the kernel allows it.
  int somaxconn = 4096;
  std::ifstream("/proc/sys/net/core/somaxconn") >> somaxconn;
  EXPECT_EQ(server_->ListenBacklog(), std::min(1024, somaxconn));
}

// The limits docs/api.md gives.
TEST(LiveServerOptionsTest, DefaultsAreTheDocumentedOnes) {
  const LiveServerOptions o;
  EXPECT_EQ(o.threads, 32);
  EXPECT_EQ(o.listen_backlog, 1024);
  EXPECT_EQ(o.max_body_bytes, size_t{64} << 10);
  EXPECT_EQ(o.max_sse_clients, 12);
  EXPECT_EQ(o.read_timeout, std::chrono::seconds(5));
  EXPECT_EQ(o.write_timeout, std::chrono::seconds(5));
  EXPECT_TRUE(o.allowed_hosts.empty());
  EXPECT_EQ(o.stall_timeout, std::chrono::minutes(5));
}

TEST(ProcessMetricsTest, ReadsThisProcessFromProc) {
  volatile double sink = 0;
  for (int i = 0; i < 20'000'000; ++i) sink = sink + i;  // some CPU time
  const ProcessMetrics m = ReadProcessMetrics();
  EXPECT_GT(m.cpu_seconds, 0);
  EXPECT_GT(m.resident_bytes, 1u << 20);
  EXPECT_GE(m.virtual_bytes, m.resident_bytes);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(m.start_time_seconds, now + 1);
  EXPECT_GT(m.start_time_seconds, now - 3600);  // a test binary started less than an hour ago
  EXPECT_GE(m.open_fds, 3);
  EXPECT_GE(m.max_fds, m.open_fds);
}

TEST(ListenAddressTest, Parses) {
  auto a = ParseListenAddress("0.0.0.0:9000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 9000);
  a = ParseListenAddress("8081");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8081);
  a = ParseListenAddress(":0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 0);
  a = ParseListenAddress("[::1]:80");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_FALSE(ParseListenAddress("host:").ok());
  EXPECT_FALSE(ParseListenAddress("host:70000").ok());
  EXPECT_FALSE(ParseListenAddress("x:12a").ok());
}

TEST(LiveServerBindTest, ABusyPortIsAClearError) {
  FakeClock clock;
  LiveState state(LiveStateOptions{}, &clock);
  LiveServerOptions o;
  o.listen.port = 0;
  auto first = LiveServer::Start(o, &state);
  ASSERT_TRUE(first.ok());
  o.listen.port = (*first)->port();
  auto second = LiveServer::Start(o, &state);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("--listen"), std::string::npos);
}

TEST(LiveServerProbeTest, HealthzAndReadyzAnswerWithTheirReason) {
  FakeClock clock;
  LiveState state(LiveStateOptions{}, &clock);
  LiveServerOptions o;
  o.listen.port = 0;
  o.stall_timeout = std::chrono::seconds(30);
  auto s = LiveServer::Start(o, &state);
  ASSERT_TRUE(s.ok()) << s.status().message();
  httplib::Client client("127.0.0.1", (*s)->port());
  client.set_read_timeout(10, 0);
  auto get = [&](const char* path) {
    auto r = client.Get(path);
    return r ? std::to_string(r->status) + " " + r->body : std::string("no answer");
  };
  EXPECT_EQ(get("/healthz"), "200 ok\n");
  EXPECT_EQ(get("/readyz"), "503 not ready: pipeline starting\n");

  const std::vector<pipeline::Processor::GroupStatus> groups = {
      {2, 5, EventTime(std::chrono::seconds(1)), false}};
  state.UpdateProgress(groups, {}, pipeline::ProcessorCounters{});
  EXPECT_EQ(get("/readyz"), "200 ready: 1 partition group(s)\n");
  auto r = client.Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");

  clock.Advance(std::chrono::seconds(31));  // the loop stopped turning
  EXPECT_EQ(get("/healthz"), "503 stalled: the processing loop has not turned for 31 s\n");
  state.UpdateProgress(groups, {}, pipeline::ProcessorCounters{});
  EXPECT_EQ(get("/healthz"), "200 ok\n");
  state.SetState(PipelineState::kFailed, "disk full");
  EXPECT_EQ(get("/healthz"), "503 failed: disk full\n");
  EXPECT_EQ(get("/readyz"), "503 not ready: pipeline failed\n");
  // HEAD works for both (probes may use it).
  auto head = client.Head("/readyz");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 503);
}

}  // namespace
}  // namespace smartcity::web
