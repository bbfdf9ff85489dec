#include "web/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "model/schema.h"
#include "simulation/route.h"

namespace smartcity::web {

namespace {

using nlohmann::json;
using stream::OutputTable;

// The API names an event's fields as the events do (model/schema.h).
std::string VehicleField(int column) {
  return std::string(model::ColumnName(model::Table::kVehicle, column));
}
std::string WeatherField(int column) {
  return std::string(model::ColumnName(model::Table::kWeather, column));
}
std::string EmergencyField(int column) {
  return std::string(model::ColumnName(model::Table::kEmergency, column));
}
std::string TrafficField(int column) {
  return std::string(model::ColumnName(model::Table::kTraffic, column));
}

json Time(EventTime t) {
  return FormatTimestamp(t);
}
int64_t Millis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
json Wall(WallTime t) {
  return FormatTimestamp(AsEventTime(t));
}
double Seconds(Micros d) {
  return std::chrono::duration<double>(d).count();
}
// Every input partition's lag is known (not while the source cannot reach its cluster).
bool LagKnown(const LiveSnapshot& s) {
  return std::all_of(s.inputs.begin(), s.inputs.end(),
                     [](const InputView& i) { return i.records_behind.has_value(); });
}

json Vehicles(const LiveSnapshot& s) {
  json a = json::array();
  for (const VehicleView& v : s.vehicles) {
    json j = {{VehicleField(model::vehicle_col::kDeviceId), v.device_id},
              {VehicleField(model::vehicle_col::kTimestamp), Time(v.at)},
              {"latitude", v.latitude},
              {"longitude", v.longitude},
              {VehicleField(model::vehicle_col::kSpeed), v.speed},
              {VehicleField(model::vehicle_col::kDirection), v.direction},
              {VehicleField(model::vehicle_col::kMake), v.make},
              {VehicleField(model::vehicle_col::kModel), v.model},
              {VehicleField(model::vehicle_col::kYear), v.year},
              {VehicleField(model::vehicle_col::kFuelType), v.fuel_type},
              {"updatedAt", Wall(v.updated)}};
    if (v.weather) {
      const WeatherView& w = *v.weather;
      j["weather"] = {{WeatherField(model::weather_col::kTimestamp), Time(w.at)},
                      {WeatherField(model::weather_col::kTemperature), w.temperature},
                      {WeatherField(model::weather_col::kWeatherCondition), w.condition},
                      {WeatherField(model::weather_col::kPrecipitation), w.precipitation},
                      {WeatherField(model::weather_col::kWindSpeed), w.wind_speed},
                      {WeatherField(model::weather_col::kHumidity), w.humidity},
                      {WeatherField(model::weather_col::kAirQualityIndex), w.air_quality_index}};
    } else {
      j["weather"] = nullptr;
    }
    a.push_back(std::move(j));
  }
  return a;
}

// The newest event time seen (the event-time "now" incidents' ages are measured at).
EventTime NewestEventTime(const LiveSnapshot& s) {
  EventTime newest{};
  for (const GroupView& g : s.groups) {
    if (g.max_event_time) newest = std::max(newest, *g.max_event_time);
  }
  for (const IncidentView& i : s.incidents) newest = std::max(newest, i.at);
  return newest;
}

json Incidents(const LiveSnapshot& s) {
  json a = json::array();
  const EventTime newest = NewestEventTime(s);
  for (const IncidentView& i : s.incidents) {
    const EventTime raised = i.raised_at();
    a.push_back({{EmergencyField(model::emergency_col::kIncidentId), i.incident_id},
                 {EmergencyField(model::emergency_col::kDeviceId), i.device_id},
                 {EmergencyField(model::emergency_col::kType), i.type},
                 {EmergencyField(model::emergency_col::kStatus), i.status},
                 {"active", i.active()},
                 {EmergencyField(model::emergency_col::kDescription), i.description},
                 {EmergencyField(model::emergency_col::kTimestamp), Time(i.at)},
                 {"raisedAt", Time(raised)},
                 {"ageSeconds", newest > raised ? Seconds(newest - raised) : 0.0},
                 {"latitude", i.latitude},
                 {"longitude", i.longitude}});
  }
  return a;
}

json Cameras(const LiveSnapshot& s) {
  json a = json::array();
  for (const CameraView& c : s.cameras) {
    a.push_back({{TrafficField(model::traffic_col::kCameraId), c.camera_id},
                 {"latitude", c.latitude},
                 {"longitude", c.longitude},
                 {"lastSeen", Time(c.last_seen)},
                 {"passes", c.passes}});
  }
  return a;
}

json Rates(const LiveSnapshot& s, int seconds) {
  seconds = std::clamp(seconds, 1, kRateSeconds - 1);
  json topics = json::object();
  // Only complete seconds: the current one (the history's last bucket) is still filling, and a
  // chart that ended with it would drop towards zero at its right edge.
  for (Topic t : kAllTopics) {
    const auto& r = s.rates[static_cast<size_t>(t)];
    topics[std::string(DefaultTopicName(t))] =
        std::vector<uint32_t>(r.end() - 1 - seconds, r.end() - 1);
  }
  // Wall-clock second of the last bucket (the last complete one), for the charts' time axis.
  return {{"bucketSeconds", 1},
          {"endsAt", Millis(s.now) / 1000 - 1},
          {"seconds", seconds},
          {"topics", topics}};
}

json Alerts(const LiveSnapshot& s) {
  json list = json::array();
  size_t active = 0;
  for (const AlertView& a : s.alerts) {
    active += a.active() ? 1 : 0;
    list.push_back({{"kind", a.kind},
                    {"subject", a.subject},
                    {"severity", a.severity},
                    {"message", a.message},
                    {"since", Wall(a.since)},
                    {"active", a.active()},
                    {"clearedAt", a.cleared ? Wall(*a.cleared) : json(nullptr)}});
  }
  return {{"active", active}, {"alerts", list}};
}

json Status(const LiveSnapshot& s) {
  json counters = json::object();
  json in = json::object(), dead = json::object(), late = json::object(),
       quarantined = json::object();
  uint64_t quarantined_total = 0;
  for (Topic t : kAllTopics) {
    const std::string name(DefaultTopicName(t));
    in[name] = s.events_in[static_cast<size_t>(t)];
    dead[name] = s.dead_letters[static_cast<size_t>(t)];
    late[name] = s.late_events[static_cast<size_t>(t)];
    quarantined[name] = s.quarantined[static_cast<size_t>(t)];
    quarantined_total += s.quarantined[static_cast<size_t>(t)];
  }
  json produced = json::object(), committed = json::object(), newest = json::object();
  for (size_t t = 0; t < stream::kOutputTableCount; ++t) {
    const std::string name(stream::OutputTableName(static_cast<OutputTable>(t)));
    // A lake at rest (`serve`) does not say what was produced: null, not 0.
    produced[name] = s.rows_produced_known ? json(s.rows_out[t]) : json(nullptr);
    committed[name] = s.rows_committed[t];
    newest[name] = s.newest_event_time[t] ? Time(*s.newest_event_time[t]) : json(nullptr);
  }
  uint64_t dead_total = s.dead_letters_other;
  for (uint64_t d : s.dead_letters) dead_total += d;
  json groups = json::array();
  for (const GroupView& g : s.groups) {
    json j = {
        {"group", g.group}, {"committedEpoch", g.committed_epoch}, {"replaying", g.replaying}};
    j["watermark"] = g.watermark ? Time(*g.watermark) : json(nullptr);
    j["liveWatermark"] = g.live_watermark ? Time(*g.live_watermark) : json(nullptr);
    j["maxEventTime"] = g.max_event_time ? Time(*g.max_event_time) : json(nullptr);
    // Against the live watermark when known (it moves between commits), else the one in force.
    const std::optional<Micros> lag = g.watermark_lag();
    j["watermarkLagSeconds"] = lag ? json(Seconds(*lag)) : json(nullptr);
    groups.push_back(std::move(j));
  }
  json inputs = json::array();
  for (const InputView& i : s.inputs) {
    json j = {{"topic", i.topic}, {"partition", i.partition}};
    j["position"] = i.position ? json(*i.position) : json(nullptr);
    j["end"] = i.end ? json(*i.end) : json(nullptr);
    j["recordsBehind"] = i.records_behind ? json(*i.records_behind) : json(nullptr);
    inputs.push_back(std::move(j));
  }
  json commits = json::array();
  for (auto it = s.commits.rbegin(); it != s.commits.rend(); ++it) {  // newest first
    const CommitView& c = *it;
    json rows = json::object();
    uint64_t total = 0;
    for (size_t t = 0; t < stream::kOutputTableCount; ++t) {
      if (c.rows[t] > 0)
        rows[std::string(stream::OutputTableName(static_cast<OutputTable>(t)))] = c.rows[t];
      total += c.rows[t];
    }
    json j = {{"at", Wall(c.at)},
              {"groups", c.groups},
              {"rows", rows},
              {"totalRows", total},
              {"latencyMs", std::chrono::duration<double, std::milli>(c.latency).count()},
              {"final", c.final}};
    if (!c.table.empty()) j["table"] = c.table;
    if (c.version >= 0) j["version"] = c.version;
    commits.push_back(std::move(j));
  }
  json loads = json::array();
  for (auto it = s.loads.rbegin(); it != s.loads.rend(); ++it) {  // newest first
    const LoadView& l = *it;
    loads.push_back({{"at", Wall(l.at)},
                     {"table", l.table},
                     {"firstVersion", l.first_version},
                     {"lastVersion", l.last_version},
                     {"rows", l.rows},
                     {"seconds", l.seconds},
                     {"lakeVersion", l.lake_version}});
  }
  json load_tables = json::array();
  // The warehouse's lag behind the lake: per table and in total (null while unknown: the loader
  // has not reached the warehouse yet).
  bool lag_known = true;
  int64_t lag_versions = 0;
  double lag_seconds = 0;
  for (const TableLoadView& t : s.load_tables) {
    lag_known = lag_known && t.lag_known;
    lag_versions += t.lag_versions();
    lag_seconds = std::max(lag_seconds, t.lag_seconds(s.now));
    load_tables.push_back(
        {{"table", t.table},
         {"loadedVersion", t.loaded_version},
         {"lakeVersion", t.lake_version},
         {"lagVersions", t.lag_known ? json(t.lag_versions()) : json(nullptr)},
         {"lagSeconds", t.lag_known ? json(t.lag_seconds(s.now)) : json(nullptr)},
         {"oldestPendingAt", t.oldest_pending ? Wall(*t.oldest_pending) : json(nullptr)},
         {"rows", t.rows},
         {"loads", t.loads},
         {"lastLoadAt", Wall(t.last_load)}});
  }
  json warehouse = nullptr;
  if (s.warehouse.present) {
    warehouse = {
        {"lagVersions", lag_known ? json(lag_versions) : json(nullptr)},
        {"lagSeconds", lag_known ? json(lag_seconds) : json(nullptr)},
        {"retrying", s.warehouse.retrying.empty() ? json(nullptr) : json(s.warehouse.retrying)},
        {"error", s.warehouse.error.empty() ? json(nullptr) : json(s.warehouse.error)}};
  }
  json health = {{"state", PipelineStateName(s.state)}};
  if (!s.error.empty()) health["error"] = s.error;
  health["ok"] = s.state != PipelineState::kFailed;
  json j = {{"mode", s.mode},
            {"lake", s.lake},
            {"now", Wall(s.now)},
            {"startedAt", Wall(s.started)},
            {"health", health},
            {"records", s.records},
            {"epochsCommitted", s.epochs_committed},
            {"tableCommits", s.table_commits},
            {"epochsReplayed", s.epochs_replayed},
            {"eventsIn", in},
            {"deadLetters", dead},
            {"deadLettersTotal", dead_total},
            {"lateEvents", late},
            {"lateEventsTotal", s.late_events_total},
            {"quarantined", quarantined},
            {"quarantinedTotal", quarantined_total},
            {"lastQuarantineReason", s.last_quarantine_reason},
            {"rowsProduced", produced},
            {"rowsCommitted", committed},
            {"rowsProducedKnown", s.rows_produced_known},
            {"newestEventTime", newest},
            {"watermarkDelaySeconds",
             s.watermark_delay > Micros(0) ? json(Seconds(s.watermark_delay)) : json(nullptr)},
            {"lastCommitLatencyMs",
             std::chrono::duration<double, std::milli>(s.last_commit_latency).count()},
            {"groups", groups},
            {"inputs", inputs},
            {"lagKnown", LagKnown(s)},
            {"commits", commits},
            {"loads", loads},
            {"loadTables", load_tables},
            {"warehouse", warehouse}};
  j["lastCommitAt"] = s.last_commit ? Wall(*s.last_commit) : json(nullptr);
  j["checkpointAgeSeconds"] =
      s.last_commit ? json(std::chrono::duration<double>(s.now - *s.last_commit).count())
                    : json(nullptr);
  return j;
}

// Prometheus label values escape backslash, double quote and newline.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Metric(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

// "gcc 12.2.0", "clang 14.0.6".
std::string Compiler() {
#if defined(__clang__)
  return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown";
#endif
}

void SampleText(std::string* out, std::string_view name, std::string_view labels,
                std::string_view value) {
  *out += name;
  if (!labels.empty()) {
    *out += '{';
    *out += labels;
    *out += '}';
  }
  *out += ' ';
  *out += value;
  *out += '\n';
}

// A value as Prometheus reads it back exactly: the shortest round-trip text of the double
// (1767654010.123, 0.012), NaN, +Inf and -Inf as the format spells them.
std::string PromDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

void Sample(std::string* out, std::string_view name, std::string_view labels, double value) {
  SampleText(out, name, labels, PromDouble(value));
}
// Counts print as exact integers (a double holds only 53 bits).
void Sample(std::string* out, std::string_view name, std::string_view labels, uint64_t value) {
  SampleText(out, name, labels, std::to_string(value));
}
void Sample(std::string* out, std::string_view name, std::string_view labels, int64_t value) {
  SampleText(out, name, labels, std::to_string(value));
}
void Sample(std::string* out, std::string_view name, std::string_view labels, int value) {
  SampleText(out, name, labels, std::to_string(value));
}

// A Unix time with its fraction (microseconds): the exact decimal text, no rounding through a
// double's 9 or 17 significant digits.
std::string UnixSecondsText(int64_t micros) {
  const bool negative = micros < 0;
  const uint64_t m = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  std::string t = fmt::format("{}{}.{:06}", negative ? "-" : "", m / 1000000, m % 1000000);
  while (t.back() == '0') t.pop_back();
  if (t.back() == '.') t.pop_back();
  return t;
}

}  // namespace

std::string VehiclesJson(const LiveSnapshot& s) {
  return json({{"count", s.vehicles.size()}, {"vehicles", Vehicles(s)}}).dump();
}

std::string IncidentsJson(const LiveSnapshot& s) {
  size_t active = 0;
  for (const IncidentView& i : s.incidents) active += i.active() ? 1 : 0;
  return json({{"active", active}, {"incidents", Incidents(s)}, {"cameras", Cameras(s)}}).dump();
}

std::string RatesJson(const LiveSnapshot& s, int seconds) {
  return Rates(s, seconds).dump();
}

std::string StatusJson(const LiveSnapshot& s) {
  return Status(s).dump();
}

RouteContext RouteContextOf(const simulation::Route& route) {
  RouteContext c;
  const auto& wps = route.waypoints();
  auto has_waypoint_named = [&](std::string_view name) {
    return std::any_of(wps.begin(), wps.end(),
                       [&](const simulation::Waypoint& w) { return w.name == name; });
  };
  for (size_t i = 0; i < wps.size(); ++i) {
    const simulation::Waypoint& w = wps[i];
    const std::string_view name = w.name;
    const size_t open = name.find(" (");
    const bool junction =
        name.size() > 3 && name[0] == 'M' && name.find(" J") != std::string_view::npos;
    if (junction) {
      // "M40 J4 (High Wycombe)": the junction, and the town it serves (unless a waypoint has the
      // town's name: that one places it).
      c.places.push_back({std::string(name.substr(0, open)), "junction", w.pos, i});
      if (open != std::string_view::npos && name.back() == ')') {
        const std::string_view town = name.substr(open + 2, name.size() - open - 3);
        if (!has_waypoint_named(town)) c.places.push_back({std::string(town), "town", w.pos, i});
      }
    } else if (const size_t comma = name.rfind(", "); comma != std::string_view::npos) {
      // "Trafalgar Square, London": the city, at its central point.
      c.places.push_back({std::string(name.substr(comma + 2)), "city", w.pos, i});
    } else {
      c.places.push_back({std::string(name), w.urban ? "district" : "suburb", w.pos, i});
    }
  }
  // Runs of waypoints on the same road (a waypoint's road is that of the stretch it starts).
  for (size_t i = 0; i + 1 < wps.size();) {
    size_t j = i + 1;
    while (j + 1 < wps.size() && wps[j].road == wps[i].road) ++j;
    const std::string_view road = wps[i].road;
    const bool numbered = road.size() > 1 && std::isdigit(static_cast<unsigned char>(road[1]));
    const char* cls = numbered && road[0] == 'M'   ? "motorway"
                      : numbered && road[0] == 'A' ? "a-road"
                                                   : "street";
    c.roads.push_back({std::string(road), cls, i, j});
    i = j;
  }
  return c;
}

std::string RouteJson() {
  const auto& route = simulation::Route::LondonToBirmingham();
  json wps = json::array();
  for (const auto& w : route.waypoints()) {
    wps.push_back({{"name", w.name},
                   {"road", w.road},
                   {"latitude", w.pos.lat},
                   {"longitude", w.pos.lon},
                   {"speedLimitKmh", w.speed_limit_kmh},
                   {"urban", w.urban}});
  }
  json cams = json::array();
  for (const auto& c : route.cameras()) {
    cams.push_back({{TrafficField(model::traffic_col::kCameraId), c.id},
                    {"latitude", c.pos.lat},
                    {"longitude", c.pos.lon},
                    {"distanceM", c.distance_m}});
  }
  json j = {{"lengthM", route.length_m()}, {"waypoints", wps}, {"cameras", cams}};
  const RouteContext context = RouteContextOf(route);
  json places = json::array();
  for (const RoutePlace& p : context.places) {
    places.push_back({{"name", p.name},
                      {"kind", p.kind},
                      {"latitude", p.pos.lat},
                      {"longitude", p.pos.lon},
                      {"waypoint", p.waypoint}});
  }
  json roads = json::array();
  for (const RouteRoad& r : context.roads) {
    roads.push_back({{"name", r.name}, {"class", r.road_class}, {"from", r.from}, {"to", r.to}});
  }
  j["places"] = std::move(places);
  j["roads"] = std::move(roads);
  return j.dump();
}

std::string AlertsJson(const LiveSnapshot& s) {
  return Alerts(s).dump();
}

std::string UpdateJson(const LiveSnapshot& s, int rate_seconds) {
  return json({{"alerts", Alerts(s)},
               {"vehicles", Vehicles(s)},
               {"incidents", Incidents(s)},
               {"cameras", Cameras(s)},
               {"rates", Rates(s, rate_seconds)},
               {"status", Status(s)}})
      .dump();
}

std::string MetricsText(const LiveSnapshot& s, const ProcessMetrics& process) {
  std::string o;
  o.reserve(8192);
  Metric(&o, "smartcity_events_in_total", "counter",
         "Input records processed per topic (valid and dead-lettered).");
  for (Topic t : kAllTopics) {
    Sample(&o, "smartcity_events_in_total", "topic=\"" + Label(DefaultTopicName(t)) + "\"",
           s.events_in[static_cast<size_t>(t)]);
  }
  Metric(&o, "smartcity_rows_out_total", "counter", "Rows committed to each lake table.");
  for (size_t t = 0; t < stream::kOutputTableCount; ++t) {
    Sample(&o, "smartcity_rows_out_total",
           "table=\"" + Label(stream::OutputTableName(static_cast<OutputTable>(t))) + "\"",
           s.rows_committed[t]);
  }
  Metric(&o, "smartcity_rows_produced_total", "counter",
         "Rows produced for each table (live, before the commit).");
  for (size_t t = 0; t < stream::kOutputTableCount; ++t) {
    Sample(&o, "smartcity_rows_produced_total",
           "table=\"" + Label(stream::OutputTableName(static_cast<OutputTable>(t))) + "\"",
           s.rows_out[t]);
  }
  Metric(&o, "smartcity_dead_letters_total", "counter",
         "Records that failed parsing or validation, per topic.");
  for (Topic t : kAllTopics) {
    Sample(&o, "smartcity_dead_letters_total", "topic=\"" + Label(DefaultTopicName(t)) + "\"",
           s.dead_letters[static_cast<size_t>(t)]);
  }
  if (s.dead_letters_other > 0) {
    Sample(&o, "smartcity_dead_letters_total", "topic=\"other\"", s.dead_letters_other);
  }
  Metric(&o, "smartcity_quarantined_events_total", "counter",
         "Records quarantined for an implausible event time (in _dead_letters), per topic.");
  for (Topic t : {Topic::kVehicle, Topic::kWeather, Topic::kEmergency}) {
    Sample(&o, "smartcity_quarantined_events_total", "topic=\"" + Label(DefaultTopicName(t)) + "\"",
           s.quarantined[static_cast<size_t>(t)]);
  }
  Metric(&o, "smartcity_late_events_total", "counter",
         "Join inputs behind the watermark, per topic.");
  for (Topic t : {Topic::kVehicle, Topic::kWeather, Topic::kEmergency}) {
    Sample(&o, "smartcity_late_events_total", "topic=\"" + Label(DefaultTopicName(t)) + "\"",
           s.late_events[static_cast<size_t>(t)]);
  }
  Metric(&o, "smartcity_alert_active", "gauge",
         "1 while an alert of this kind is raised (GET /api/alerts lists them), else 0.");
  for (std::string_view kind : kAlertKinds) {
    uint64_t n = 0;
    for (const AlertView& a : s.alerts) n += a.active() && a.kind == kind ? 1 : 0;
    Sample(&o, "smartcity_alert_active", "kind=\"" + Label(kind) + "\"", uint64_t{n > 0 ? 1u : 0u});
  }
  Metric(&o, "smartcity_alerts_active", "gauge", "Alerts raised now, per kind.");
  for (std::string_view kind : kAlertKinds) {
    uint64_t n = 0;
    for (const AlertView& a : s.alerts) n += a.active() && a.kind == kind ? 1 : 0;
    Sample(&o, "smartcity_alerts_active", "kind=\"" + Label(kind) + "\"", n);
  }
  Metric(&o, "smartcity_records_total", "counter",
         "Input records processed (the run summary's events processed).");
  Sample(&o, "smartcity_records_total", "", s.records);
  Metric(&o, "smartcity_epochs_committed_total", "counter", "Partition-group epochs committed.");
  Sample(&o, "smartcity_epochs_committed_total", "", s.epochs_committed);
  Metric(&o, "smartcity_table_commits_total", "counter", "Delta commits written.");
  Sample(&o, "smartcity_table_commits_total", "", s.table_commits);
  Metric(&o, "smartcity_commit_conflicts_total", "counter",
         "Delta commits that lost the race for their log version to another writer (another "
         "member, a compaction) and were retried at the next version.");
  Sample(&o, "smartcity_commit_conflicts_total", "", s.commit_conflicts);
  Metric(&o, "smartcity_group_commits_by_others_total", "counter",
         "Group commit: table commits of this member's epochs that another member's commit made "
         "(it took the staged epoch).");
  Sample(&o, "smartcity_group_commits_by_others_total", "", s.commits_by_others);
  Metric(&o, "smartcity_group_staged_taken_total", "counter",
         "Group commit: other members' staged epochs that this member's commits took.");
  Sample(&o, "smartcity_group_staged_taken_total", "", s.staged_taken);
  Metric(&o, "smartcity_repartition_misplaced_total", "counter",
         "Join-input records read outside their device's partition group (producers not keyed "
         "by device id).");
  Sample(&o, "smartcity_repartition_misplaced_total", "", s.misplaced);
  Metric(&o, "smartcity_repartition_forwarded_total", "counter",
         "Misplaced records forwarded to their device's group through a repartition topic.");
  Sample(&o, "smartcity_repartition_forwarded_total", "", s.forwarded);
  Metric(&o, "smartcity_repartition_received_total", "counter",
         "Forwarded records read back from the repartition topics and joined here.");
  Sample(&o, "smartcity_repartition_received_total", "", s.repartition_received);
  Metric(&o, "smartcity_repartition_duplicates_total", "counter",
         "Forwarded records dropped as already joined (sent again by a forwarder that restarted).");
  Sample(&o, "smartcity_repartition_duplicates_total", "", s.repartition_duplicates);
  Metric(&o, "smartcity_watermark_timestamp_seconds", "gauge",
         "Event-time watermark per partition group (Unix time, microsecond precision).");
  for (const GroupView& g : s.groups) {
    if (!g.watermark) continue;
    SampleText(&o, "smartcity_watermark_timestamp_seconds",
               "group=\"" + std::to_string(g.group) + "\"",
               UnixSecondsText(g.watermark->time_since_epoch().count()));
  }
  Metric(&o, "smartcity_live_watermark_timestamp_seconds", "gauge",
         "The watermark each partition group's next epoch would take now (moves between "
         "commits; Unix time, microsecond precision).");
  for (const GroupView& g : s.groups) {
    if (!g.live_watermark) continue;
    SampleText(&o, "smartcity_live_watermark_timestamp_seconds",
               "group=\"" + std::to_string(g.group) + "\"",
               UnixSecondsText(g.live_watermark->time_since_epoch().count()));
  }
  Metric(&o, "smartcity_watermark_lag_seconds", "gauge",
         "Newest event time seen minus the live watermark (the one in force when no live one is "
         "known), per partition group.");
  for (const GroupView& g : s.groups) {
    const std::optional<Micros> lag = g.watermark_lag();
    if (!lag) continue;
    Sample(&o, "smartcity_watermark_lag_seconds", "group=\"" + std::to_string(g.group) + "\"",
           Seconds(*lag));
  }
  Metric(
      &o, "smartcity_lag_known", "gauge",
      "1 when the lag of every input partition is known; 0 while it is not (the cluster cannot be "
      "reached): smartcity_input_lag_records then has no sample for those partitions.");
  Sample(&o, "smartcity_lag_known", "", LagKnown(s) ? 1.0 : 0.0);
  Metric(&o, "smartcity_input_lag_records", "gauge", "Records not yet read, per input partition.");
  for (const InputView& i : s.inputs) {
    if (!i.records_behind) continue;
    Sample(&o, "smartcity_input_lag_records",
           "topic=\"" + Label(i.topic) + "\",partition=\"" + std::to_string(i.partition) + "\"",
           *i.records_behind);
  }
  Metric(&o, "smartcity_last_commit_latency_seconds", "gauge",
         "Duration of the last epoch commit (offsets log to checkpoint).");
  Sample(&o, "smartcity_last_commit_latency_seconds", "", Seconds(s.last_commit_latency));
  Metric(&o, "smartcity_commit_latency_seconds", "histogram",
         "Duration of the epoch commits of this process (offsets log to checkpoint).");
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= kCommitLatencyBucketCount; ++b) {
    cumulative += s.commit_latency_counts[b];
    const std::string le =
        b < kCommitLatencyBucketCount ? PromDouble(kCommitLatencyBuckets[b]) : "+Inf";
    Sample(&o, "smartcity_commit_latency_seconds_bucket", "le=\"" + le + "\"", cumulative);
  }
  Sample(&o, "smartcity_commit_latency_seconds_sum", "", Seconds(s.commit_latency_sum));
  Sample(&o, "smartcity_commit_latency_seconds_count", "", s.commit_latency_count);
  if (s.last_commit) {
    Metric(&o, "smartcity_checkpoint_age_seconds", "gauge",
           "Time since the last commit and checkpoint.");
    Sample(&o, "smartcity_checkpoint_age_seconds", "",
           std::max(0.0, std::chrono::duration<double>(s.now - *s.last_commit).count()));
  }
  Metric(&o, "smartcity_load_rows_total", "counter",
         "Rows the warehouse loader committed per table (this process).");
  for (const TableLoadView& t : s.load_tables) {
    Sample(&o, "smartcity_load_rows_total", "table=\"" + Label(t.table) + "\"", t.rows);
  }
  Metric(&o, "smartcity_load_lag_versions", "gauge",
         "Lake commits the warehouse has not loaded yet, per table (none while the loader has not "
         "reached the warehouse).");
  for (const TableLoadView& t : s.load_tables) {
    if (!t.lag_known) continue;
    Sample(&o, "smartcity_load_lag_versions", "table=\"" + Label(t.table) + "\"", t.lag_versions());
  }
  Metric(&o, "smartcity_load_lag_seconds", "gauge",
         "Age of the oldest lake commit the warehouse has not loaded yet, per table (0: caught "
         "up).");
  for (const TableLoadView& t : s.load_tables) {
    if (!t.lag_known) continue;
    Sample(&o, "smartcity_load_lag_seconds", "table=\"" + Label(t.table) + "\"",
           t.lag_seconds(s.now));
  }
  if (s.warehouse.present) {
    Metric(&o, "smartcity_warehouse_up", "gauge",
           "1 while the warehouse loader reaches the warehouse; 0 while it retries an unreachable "
           "warehouse or after it stopped with an error.");
    Sample(&o, "smartcity_warehouse_up", "",
           s.warehouse.retrying.empty() && s.warehouse.error.empty() ? 1.0 : 0.0);
  }
  Metric(&o, "smartcity_load_last_timestamp_seconds", "gauge",
         "Unix time of the last committed warehouse load, per table.");
  for (const TableLoadView& t : s.load_tables) {
    SampleText(&o, "smartcity_load_last_timestamp_seconds", "table=\"" + Label(t.table) + "\"",
               UnixSecondsText(
                   std::chrono::duration_cast<Micros>(t.last_load.time_since_epoch()).count()));
  }
  Metric(&o, "smartcity_up", "gauge", "1 unless the pipeline failed.");
  Sample(&o, "smartcity_up", "", s.state == PipelineState::kFailed ? 0 : 1);
  Metric(&o, "smartcity_vehicles", "gauge", "Vehicles with a known position.");
  Sample(&o, "smartcity_vehicles", "", s.vehicles.size());
  size_t active = 0;
  for (const IncidentView& i : s.incidents) active += i.active() ? 1 : 0;
  Metric(&o, "smartcity_active_incidents", "gauge",
         "Incidents whose latest status is not Resolved.");
  Sample(&o, "smartcity_active_incidents", "", static_cast<uint64_t>(active));
  Metric(&o, "smartcity_build_info", "gauge",
         "Always 1; the labels name the build (version, compiler, build type).");
  Sample(&o, "smartcity_build_info",
         "version=\"" + Label(SMARTCITY_VERSION) + "\",compiler=\"" + Label(Compiler()) +
             "\",build_type=\"" + Label(SMARTCITY_BUILD_TYPE) + "\"",
         1);
  Metric(&o, "process_cpu_seconds_total", "counter",
         "Total user and system CPU time spent in seconds.");
  Sample(&o, "process_cpu_seconds_total", "", process.cpu_seconds);
  Metric(&o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  Sample(&o, "process_resident_memory_bytes", "", process.resident_bytes);
  Metric(&o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  Sample(&o, "process_virtual_memory_bytes", "", process.virtual_bytes);
  Metric(&o, "process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.");
  Sample(&o, "process_start_time_seconds", "", process.start_time_seconds);
  Metric(&o, "process_open_fds", "gauge", "Number of open file descriptors.");
  Sample(&o, "process_open_fds", "", process.open_fds);
  Metric(&o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
  Sample(&o, "process_max_fds", "", process.max_fds);
  return o;
}

}  // namespace smartcity::web
