// The live view's read-only API: renders a LiveSnapshot as the JSON documents of docs/api.md and as
// Prometheus text (format 0.0.4). Pure functions of the snapshot: no locks, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simulation/route.h"
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
// The map's context, drawn from the route's own waypoints (no outside data): its places (the
// cities at its ends, the towns its motorway junctions serve, the junctions, districts and suburbs
// it passes) and its roads (runs of waypoints on the same road, classed motorway, a-road or
// street).
struct RoutePlace {
  std::string name;
  std::string kind;  // city, town, junction, district, suburb
  simulation::LatLon pos;
  size_t waypoint = 0;  // the waypoint it comes from
};
struct RouteRoad {
  std::string name;        // "M40"
  std::string road_class;  // motorway, a-road, street
  size_t from = 0;         // waypoints from..to (inclusive) lie on it
  size_t to = 0;
};
struct RouteContext {
  std::vector<RoutePlace> places;
  std::vector<RouteRoad> roads;
};
RouteContext RouteContextOf(const simulation::Route& route);

// The route's waypoints, fixed cameras, places and roads (static).
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
