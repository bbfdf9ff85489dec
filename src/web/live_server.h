// LiveServer: the live view's HTTP server (SPEC section 7) — the dashboard, the JSON API, the
// Server-Sent Events stream and Prometheus /metrics, all read-only views of one LiveState
// (docs/api.md). The one place that uses cpp-httplib.
//
// Hardening: GET and HEAD only (other methods: 405; unknown paths: 404); a Host header other than
// the listen address, localhost, 127.0.0.1, [::1] or an allowed host is refused (403: DNS
// rebinding); request line and header lines bounded by the library (8 KiB: 414 / 400), request
// bodies by `max_body_bytes` (413, announced or chunked); `X-Content-Type-Options: nosniff` on
// every response; a listen backlog of `listen_backlog`; read
// and write timeouts so a slow or silent client cannot hold a worker for long; a fixed worker pool;
// at most `max_sse_clients` event streams at once (503 beyond), so streams never take every worker.
// Binds with SO_REUSEADDR only (never SO_REUSEPORT: a second process must not share the port).
//
// Ownership: borrows the LiveState (must outlive the server). Thread-safety: Start/Stop from one
// thread; requests are served on the server's own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "web/api.h"
#include "web/live_state.h"

namespace httplib {
class Server;
}

namespace smartcity::web {

struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
};
// "HOST:PORT", ":PORT" or "PORT" (host 127.0.0.1). kInvalidArgument naming the problem otherwise.
Result<ListenAddress> ParseListenAddress(std::string_view text);

struct LiveServerOptions {
  ListenAddress listen;
  int threads = 32;
  int max_sse_clients = 12;
  std::chrono::milliseconds sse_interval{1000};
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  size_t max_body_bytes = 64 << 10;
  // Pending connections the kernel queues before accept (listen(2)'s backlog; the library's own
  // default, 5, makes a burst of clients wait for SYN retransmits, 1 s and more).
  int listen_backlog = 1024;
  // Host header values served besides the listen address, localhost, 127.0.0.1 and [::1] (each
  // with or without the port): names the server is reached by (DNS rebinding protection).
  std::vector<std::string> allowed_hosts;
  int sse_rate_seconds = 120;  // rate history sent with each SSE update
  // /healthz answers 503 once the pipeline's loop has not turned for this long (0: never; see
  // Liveness in web/live_state.h).
  std::chrono::milliseconds stall_timeout{std::chrono::minutes(5)};
};

// This process's process_* metrics from /proc/self (stat, statm, fd), /proc/stat's boot time and
// RLIMIT_NOFILE; a value that cannot be read is 0.
ProcessMetrics ReadProcessMetrics();

class LiveServer {
 public:
  // Binds and starts serving on a background thread. kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<LiveServer>> Start(LiveServerOptions options,
                                                   const LiveState* state);
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  int port() const { return port_; }
  // The listening socket's backlog as the kernel applies it (TCP_INFO), or -1.
  int ListenBacklog() const;
  // "http://127.0.0.1:8080/"
  std::string url() const;
  // Ends the event streams and stops the server; waits for its threads. Idempotent.
  void Stop() EXCLUDES(mu_);

 private:
  LiveServer(LiveServerOptions options, const LiveState* state);
  void Routes();
  // True when the Host header value `header` names this server (see
  // LiveServerOptions::allowed_hosts).
  bool HostAllowed(const std::string& header) const;
  // Waits up to `d` or until Stop(); false when stopping.
  bool WaitFor(std::chrono::milliseconds d) EXCLUDES(mu_);

  const LiveServerOptions options_;
  const LiveState* const state_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  int listen_fd_ = -1;  // the listening socket (owned by the library)
  std::atomic<int> sse_clients_{0};
  Mutex mu_;
  CondVar cv_;  // signalled when stopping_ is set
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace smartcity::web
