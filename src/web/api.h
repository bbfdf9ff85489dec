// The live view's read-only API: renders a LiveSnapshot as the JSON documents of docs/api.md and as
// Prometheus text (format 0.0.4). Pure functions of the snapshot: no locks, no I/O.
#pragma once

#include <cstdint>
#include <string>

#include "web/live_state.h"

namespace smartcity::web {

std::string VehiclesJson(const LiveSnapshot& s);
std::string IncidentsJson(const LiveSnapshot& s);
// `seconds`: how much of the rate history (1..kRateSeconds, newest last): complete seconds only,
// so at most kRateSeconds - 1 (the current second is left out).
std::string RatesJson(const LiveSnapshot& s, int seconds);
std::string StatusJson(const LiveSnapshot& s);
// The alerts, active first (docs/api.md, "Alerts").
std::string AlertsJson(const LiveSnapshot& s);
// The route's waypoints and fixed cameras (static).
std::string RouteJson();
// One Server-Sent Events update: vehicles, incidents, cameras, the last `rate_seconds` of rates and
// the status, as one JSON object.
std::string UpdateJson(const LiveSnapshot& s, int rate_seconds);
// The standard process_* metrics (as Prometheus' own clients export them), read from /proc by
// ReadProcessMetrics (web/live_server.h).
struct ProcessMetrics {
  double cpu_seconds = 0;         // user + system
  uint64_t resident_bytes = 0;    // RSS
  uint64_t virtual_bytes = 0;     // VmSize
  double start_time_seconds = 0;  // Unix time the process started (10 ms resolution)
  int64_t open_fds = 0;
  int64_t max_fds = 0;  // RLIMIT_NOFILE's soft limit
};

// Prometheus text exposition format 0.0.4: every sample printed so that it reads back exactly
// (integer counts as integers, other values with the shortest text that round-trips).
std::string MetricsText(const LiveSnapshot& s, const ProcessMetrics& process);

}  // namespace smartcity::web
