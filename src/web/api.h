// The live view's read-only API: renders a LiveSnapshot as the JSON documents of docs/api.md and as
// Prometheus text (format 0.0.4). Pure functions of the snapshot: no locks, no I/O.
#pragma once

#include <string>

#include "web/live_state.h"

namespace smartcity::web {

std::string VehiclesJson(const LiveSnapshot& s);
std::string IncidentsJson(const LiveSnapshot& s);
// `seconds`: how much of the rate history (1..kRateSeconds, newest last).
std::string RatesJson(const LiveSnapshot& s, int seconds);
std::string StatusJson(const LiveSnapshot& s);
// The route's waypoints and fixed cameras (static).
std::string RouteJson();
// One Server-Sent Events update: vehicles, incidents, cameras, the last `rate_seconds` of rates and
// the status, as one JSON object.
std::string UpdateJson(const LiveSnapshot& s, int rate_seconds);
// Prometheus text exposition format 0.0.4. `resident_bytes`: the process's RSS.
std::string MetricsText(const LiveSnapshot& s, uint64_t resident_bytes);

}  // namespace smartcity::web
