#include "web/live_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdio>

#include "common/process_stats.h"
#include "web/api.h"
#include "web/assets.h"

namespace smartcity::web {

namespace {

constexpr const char* kJson = "application/json; charset=utf-8";

bool IsKnownPath(const std::string& path) {
  static const char* kPaths[] = {"/",          "/api/vehicles", "/api/incidents",
                                 "/api/rates", "/api/status",   "/api/events",
                                 "/api/route", "/metrics",      "/healthz"};
  for (const char* p : kPaths) {
    if (path == p) return true;
  }
  return FindAsset(path) != nullptr;
}

void NoStore(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

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
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
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
  LiveServer* self = s.get();
  s->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
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

  // Read-only: every other method is refused before its body is read.
  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD")
      return httplib::Server::HandlerResponse::Unhandled;
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
  svr.Get("/api/route", [](const httplib::Request&, httplib::Response& res) {
    static const std::string kRoute = RouteJson();
    res.set_content(kRoute, kJson);
  });
  svr.Get("/healthz", [state](const httplib::Request&, httplib::Response& res) {
    const bool ok = state->Snapshot().state != PipelineState::kFailed;
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "failed\n", "text/plain; charset=utf-8");
  });
  svr.Get("/metrics", [state](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(state->Snapshot(), ResidentBytes()),
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
