#include "web/live_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "common/process_stats.h"
#include "web/api.h"
#include "web/assets.h"

namespace smartcity::web {

namespace {

constexpr const char* kJson = "application/json; charset=utf-8";

bool IsKnownPath(const std::string& path) {
  static const char* kPaths[] = {"/",           "/api/vehicles", "/api/incidents", "/api/rates",
                                 "/api/status", "/api/events",   "/api/route",     "/metrics",
                                 "/healthz",    "/api/alerts"};
  if (path == "/readyz") return true;  // the readiness probe, beside /healthz
  for (const char* p : kPaths) {
    if (path == p) return true;
  }
  return FindAsset(path) != nullptr;
}

// Lower-case ASCII.
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The host of a Host header value: "[::1]:8080" -> "::1", "a.example:80" -> "a.example", "x" ->
// "x"; "" when the port part is not a number.
std::string HostOfHeader(std::string_view v) {
  std::string_view host = v, port;
  if (!v.empty() && v.front() == '[') {
    const size_t close = v.find(']');
    if (close == std::string_view::npos) return "";
    host = v.substr(1, close - 1);
    std::string_view rest = v.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "";
      port = rest.substr(1);
      if (port.empty()) return "";
    }
  } else if (const size_t colon = v.find(':'); colon != std::string_view::npos) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (port.empty()) return "";
  }
  for (char c : port) {
    if (c < '0' || c > '9') return "";
  }
  return Lower(std::string(host));
}

void NoStore(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

ProcessMetrics ReadProcessMetrics() {
  ProcessMetrics m;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  // /proc/self/stat: "pid (comm) state ..." — comm may hold spaces and parentheses: fields are
  // counted from the last ')'. utime, stime: fields 14, 15; starttime: 22; vsize: 23; rss: 24.
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::istringstream in(stat.substr(close + 2));
    std::vector<std::string> f{"", "", ""};  // f[i] is field i (fields 1, 2 are before)
    std::string x;
    while (in >> x) f.push_back(x);
    auto num = [&](size_t i) {
      return i < f.size() ? std::strtoull(f[i].c_str(), nullptr, 10) : 0;
    };
    m.cpu_seconds = static_cast<double>(num(14) + num(15)) / static_cast<double>(ticks);
    m.virtual_bytes = num(23);
    m.resident_bytes = num(24) * static_cast<uint64_t>(page > 0 ? page : 4096);
    std::ifstream proc_stat("/proc/stat");
    std::string line;
    while (std::getline(proc_stat, line)) {
      if (line.rfind("btime ", 0) == 0) {
        const uint64_t boot = std::strtoull(line.c_str() + 6, nullptr, 10);
        // Whole boot seconds plus clock ticks: exact in a double to the tick.
        const uint64_t start_ticks = num(22);
        m.start_time_seconds =
            static_cast<double>(boot * static_cast<uint64_t>(ticks) + start_ticks) /
            static_cast<double>(ticks);
        break;
      }
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++m.open_fds;
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    m.max_fds = lim.rlim_cur == RLIM_INFINITY ? INT64_MAX : static_cast<int64_t>(lim.rlim_cur);
  }
  return m;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress a;
  std::string_view port_text = text;
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    if (!host.empty()) a.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  int port = -1;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 0 || port > 65535 ||
      port_text.empty()) {
    return Status::InvalidArgument(
        "--listen '" + std::string(text) +
        "' is not HOST:PORT or PORT with a port from 0 to 65535 (e.g. 127.0.0.1:8080)");
  }
  a.port = port;
  return a;
}

LiveServer::LiveServer(LiveServerOptions options, const LiveState* state)
    : options_(std::move(options)), state_(state), server_(std::make_unique<httplib::Server>()) {}

LiveServer::~LiveServer() {
  Stop();
}

std::string LiveServer::url() const {
  const std::string& h = options_.listen.host;
  const bool v6 = h.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(port_) + "/";
}

int LiveServer::ListenBacklog() const {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (listen_fd_ < 0 || ::getsockopt(listen_fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return -1;
  return static_cast<int>(info.tcpi_sacked);  // a listening socket's maximum backlog
}

bool LiveServer::HostAllowed(const std::string& header) const {
  const std::string host = HostOfHeader(header);
  if (host.empty()) return false;
  if (host == "localhost" || host == "127.0.0.1" || host == "::1") return true;
  if (host == Lower(options_.listen.host)) return true;
  for (const std::string& h : options_.allowed_hosts) {
    if (host == Lower(h)) return true;
  }
  return false;
}

bool LiveServer::WaitFor(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  MutexLock lock(&mu_);
  while (!stopping_) {
    if (!cv_.WaitUntil(&mu_, deadline)) break;
  }
  return !stopping_;
}

Result<std::unique_ptr<LiveServer>> LiveServer::Start(LiveServerOptions options,
                                                      const LiveState* state) {
  std::unique_ptr<LiveServer> s(new LiveServer(std::move(options), state));
  httplib::Server& svr = *s->server_;
  const int threads = std::max(2, s->options_.threads);
  // httplib takes ownership of the queue it is handed (it deletes it when listening ends).
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  LiveServer* self = s.get();
  svr.set_socket_options([self](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    self->listen_fd_ = sock;
  });
  svr.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
  svr.set_read_timeout(s->options_.read_timeout);
  svr.set_write_timeout(s->options_.write_timeout);
  svr.set_keep_alive_timeout(2);
  svr.set_keep_alive_max_count(20);
  svr.set_payload_max_length(s->options_.max_body_bytes);
  s->Routes();
  const int port = s->options_.listen.port == 0
                       ? svr.bind_to_any_port(s->options_.listen.host)
                       : (svr.bind_to_port(s->options_.listen.host, s->options_.listen.port)
                              ? s->options_.listen.port
                              : -1);
  if (port < 0) {
    return Status::Unavailable(
        "cannot serve the live view on " + s->options_.listen.host + ":" +
        std::to_string(s->options_.listen.port) +
        " (address in use or not local); choose another with --listen HOST:PORT");
  }
  s->port_ = port;
  // The library listens with a backlog of 5; listen(2) again on the bound socket sets ours (Linux
  // caps it at net.core.somaxconn).
  if (s->listen_fd_ >= 0 && ::listen(s->listen_fd_, std::max(1, s->options_.listen_backlog)) != 0) {
    return Status::Unavailable("cannot set the listen backlog of the live view's socket");
  }
  s->thread_ = std::thread([self] {
    NameThisThread("sc-live-view");
    self->server_->listen_after_bind();
  });
  // Stop() must not race the start of the accept loop (stop() is a no-op before it runs).
  while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s;
}

void LiveServer::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

void LiveServer::Routes() {
  httplib::Server& svr = *server_;
  const LiveState* state = state_;

  // Host check, body limit, read-only: every other method is refused before its body is read.
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // An HTTP/1.0 request without Host is no browser's (DNS rebinding needs one); HTTP/1.1
    // requires it.
    const std::string host = req.get_header_value("Host");
    if (!(host.empty() && req.version == "HTTP/1.0") && !HostAllowed(host)) {
      res.status = 403;
      res.set_content(
          "{\"error\":\"host not allowed: use the listen address or localhost, or start the server "
          "with --allowed-host NAME\"}",
          kJson);
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool chunked =
        Lower(req.get_header_value("Transfer-Encoding")).find("chunked") != std::string::npos;
    uint64_t length = 0;
    if (req.has_header("Content-Length")) {
      const std::string v = req.get_header_value("Content-Length");
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
      if (ec != std::errc() || p != v.data() + v.size()) length = UINT64_MAX;
    }
    // A chunked body's length is unknown until it is read, and it is never read: refused as too
    // large as well (every endpoint takes no body).
    if (length > options_.max_body_bytes || chunked) {
      res.status = 413;
      res.set_content("{\"error\":\"request body too large\"}", kJson);
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "GET" || req.method == "HEAD") {
      // The library does not read a GET's body: the connection cannot be reused after one.
      if (length > 0) res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (IsKnownPath(req.path)) {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      res.set_content("{\"error\":\"method not allowed: this server is read-only (GET, HEAD)\"}",
                      kJson);
    } else {
      res.status = 404;
      res.set_content("{\"error\":\"not found\"}", kJson);
    }
    // The body (if any) is not read: the connection cannot be reused.
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* what = res.status == 404   ? "not found"
                       : res.status == 413 ? "request body too large"
                       : res.status == 414 ? "request URI too long"
                       : res.status == 400 ? "bad request"
                                           : "error";
    res.set_content(std::string("{\"error\":\"") + what + "\"}", kJson);
  });
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
        res.status = 500;
        res.set_content("{\"error\":\"internal error\"}", kJson);
      });

  auto asset = [](const std::string& path) {
    return [path](const httplib::Request&, httplib::Response& res) {
      const Asset* a = FindAsset(path);
      res.set_content(std::string(a->data), std::string(a->content_type));
      NoStore(res);
    };
  };
  svr.Get("/", asset("/index.html"));
  for (const Asset& a : Assets()) svr.Get(std::string(a.path), asset(std::string(a.path)));

  svr.Get("/api/vehicles", [state](const httplib::Request&, httplib::Response& res) {
    res.set_content(VehiclesJson(state->Snapshot()), kJson);
    NoStore(res);
  });
  svr.Get("/api/incidents", [state](const httplib::Request&, httplib::Response& res) {
    res.set_content(IncidentsJson(state->Snapshot()), kJson);
    NoStore(res);
  });
  svr.Get("/api/rates", [state](const httplib::Request& req, httplib::Response& res) {
    int seconds = 300;
    if (req.has_param("seconds")) {
      const std::string v = req.get_param_value("seconds");
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
      if (ec != std::errc() || p != v.data() + v.size() || seconds < 1 || seconds > kRateSeconds) {
        res.status = 400;
        res.set_content("{\"error\":\"seconds must be an integer from 1 to " +
                            std::to_string(kRateSeconds) + "\"}",
                        kJson);
        return;
      }
    }
    res.set_content(RatesJson(state->Snapshot(), seconds), kJson);
    NoStore(res);
  });
  svr.Get("/api/status", [state](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson(state->Snapshot()), kJson);
    NoStore(res);
  });
  svr.Get("/api/alerts", [state](const httplib::Request&, httplib::Response& res) {
    res.set_content(AlertsJson(state->Snapshot()), kJson);
    NoStore(res);
  });
  svr.Get("/api/route", [](const httplib::Request&, httplib::Response& res) {
    static const std::string kRoute = RouteJson();
    res.set_content(kRoute, kJson);
  });
  // The probes (Liveness and Readiness, web/live_state.h): 200 or 503 with a one-line reason.
  auto probe = [](const ProbeResult& p, httplib::Response& res) {
    res.status = p.ok ? 200 : 503;
    res.set_content(p.text, "text/plain; charset=utf-8");
    NoStore(res);
  };
  svr.Get("/healthz", [this, state, probe](const httplib::Request&, httplib::Response& res) {
    probe(Liveness(state->Health(), options_.stall_timeout), res);
  });
  svr.Get("/readyz", [state, probe](const httplib::Request&, httplib::Response& res) {
    probe(Readiness(state->Health()), res);
  });
  svr.Get("/metrics", [state](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(state->Snapshot(), ReadProcessMetrics()),
                    "text/plain; version=0.0.4; charset=utf-8");
    NoStore(res);
  });
  svr.Get("/api/events", [this, state](const httplib::Request&, httplib::Response& res) {
    if (sse_clients_.fetch_add(1) >= options_.max_sse_clients) {
      sse_clients_.fetch_sub(1);
      res.status = 503;
      res.set_header("Retry-After", "5");
      res.set_content("{\"error\":\"too many event streams open; retry later\"}", kJson);
      return;
    }
    NoStore(res);
    res.set_header("X-Accel-Buffering", "no");
    auto sent = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, state, sent](size_t, httplib::DataSink& sink) {
          if (*sent && !WaitFor(options_.sse_interval)) {
            sink.done();
            return true;
          }
          std::string msg =
              *sent ? "event: update\ndata: " : "retry: 2000\n\nevent: update\ndata: ";
          *sent = true;
          msg += UpdateJson(state->Snapshot(), options_.sse_rate_seconds);
          msg += "\n\n";
          return sink.write(msg.data(), msg.size());
        },
        [this](bool) { sse_clients_.fetch_sub(1); });
  });
}

}  // namespace smartcity::web
