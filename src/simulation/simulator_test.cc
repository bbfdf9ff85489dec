// The simulator checked from its output, as an independent reader would: every message is parsed
// with simdjson and held against SPEC section 2 (schemas, formats, ranges), against physics
// (positions on the route, progress, speeds, clocks, incident life cycles) and against the run's
// own summary (fault counts). Nothing here reuses the simulator's encoders; positions are checked
// with this file's own haversine arithmetic against the route's waypoints.
#include "simulation/simulator.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "simulation/route.h"

namespace smartcity::simulation {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// ---- the schema of SPEC section 2, as data ------------------------------------------------------

enum class JType { kString, kNumber, kInt };
struct Field {
  std::string_view name;
  JType type;
};
constexpr Field kVehicleFields[] = {{"id", JType::kString},        {"deviceId", JType::kString},
                                    {"timestamp", JType::kString}, {"location", JType::kString},
                                    {"speed", JType::kNumber},     {"direction", JType::kString},
                                    {"make", JType::kString},      {"model", JType::kString},
                                    {"year", JType::kInt},         {"fuelType", JType::kString}};
constexpr Field kGpsFields[] = {{"id", JType::kString},        {"deviceId", JType::kString},
                                {"timestamp", JType::kString}, {"speed", JType::kNumber},
                                {"direction", JType::kString}, {"vehicleType", JType::kString}};
constexpr Field kTrafficFields[] = {{"id", JType::kString},        {"deviceId", JType::kString},
                                    {"cameraId", JType::kString},  {"location", JType::kString},
                                    {"timestamp", JType::kString}, {"snapshot", JType::kString}};
constexpr Field kWeatherFields[] = {{"id", JType::kString},
                                    {"deviceId", JType::kString},
                                    {"location", JType::kString},
                                    {"timestamp", JType::kString},
                                    {"temperature", JType::kNumber},
                                    {"weatherCondition", JType::kString},
                                    {"precipitation", JType::kNumber},
                                    {"windSpeed", JType::kNumber},
                                    {"humidity", JType::kInt},
                                    {"airQualityIndex", JType::kInt}};
constexpr Field kEmergencyFields[] = {
    {"id", JType::kString},     {"deviceId", JType::kString},   {"incidentId", JType::kString},
    {"type", JType::kString},   {"timestamp", JType::kString},  {"location", JType::kString},
    {"status", JType::kString}, {"description", JType::kString}};

std::span<const Field> Schema(Topic t) {
  switch (t) {
    case Topic::kVehicle:
      return kVehicleFields;
    case Topic::kGps:
      return kGpsFields;
    case Topic::kTraffic:
      return kTrafficFields;
    case Topic::kWeather:
      return kWeatherFields;
    case Topic::kEmergency:
      return kEmergencyFields;
  }
  return {};
}

// The processor's default record size limit: anything larger is an oversize record.
constexpr size_t kRecordLimit = 64 * 1024;

enum class Verdict { kValid, kMalformed, kOversize, kUnknownField, kMissingField, kWrongType };

struct Parsed {
  Topic topic;
  std::span<const Field> schema;
  std::array<simdjson::dom::element, 10> v;

  const simdjson::dom::element& at(std::string_view name) const {
    for (size_t i = 0; i < schema.size(); ++i) {
      if (schema[i].name == name) return v[i];
    }
    ADD_FAILURE() << "no field " << name;
    return v[0];
  }
  std::string_view Str(std::string_view name) const { return at(name).get_string().value_unsafe(); }
  double Num(std::string_view name) const {
    const auto& e = at(name);
    if (e.is_double()) return e.get_double().value_unsafe();
    return static_cast<double>(e.get_int64().value_unsafe());
  }
  int64_t Int(std::string_view name) const { return at(name).get_int64().value_unsafe(); }
};

bool HasType(const simdjson::dom::element& e, JType t) {
  using simdjson::dom::element_type;
  switch (t) {
    case JType::kString:
      return e.type() == element_type::STRING;
    case JType::kNumber:
      return e.type() == element_type::DOUBLE || e.type() == element_type::INT64 ||
             e.type() == element_type::UINT64;
    case JType::kInt:
      return e.type() == element_type::INT64 || e.type() == element_type::UINT64;
  }
  return false;
}

// Parses one message and says what, if anything, is wrong with it. Elements in `out` live until the
// next call.
class EventParser {
 public:
  Verdict Parse(const Message& m, Parsed* out, std::string* why = nullptr) {
    out->topic = m.topic;
    out->schema = Schema(m.topic);
    simdjson::dom::element doc;
    simdjson::dom::object obj;
    if (parser_.parse(m.value.data(), m.value.size()).get(doc) || doc.get_object().get(obj)) {
      return Verdict::kMalformed;
    }
    if (m.value.size() > kRecordLimit) return Verdict::kOversize;
    uint32_t seen = 0;
    for (auto field : obj) {
      size_t i = 0;
      while (i < out->schema.size() && out->schema[i].name != field.key) ++i;
      if (i == out->schema.size() || (seen & (1u << i)) != 0) {
        if (why) *why = "unexpected or repeated key '" + std::string(field.key) + "'";
        return Verdict::kUnknownField;
      }
      seen |= 1u << i;
      out->v[i] = field.value;
    }
    if (seen != (1u << out->schema.size()) - 1) {
      if (why) *why = "a field is missing";
      return Verdict::kMissingField;
    }
    for (size_t i = 0; i < out->schema.size(); ++i) {
      if (!HasType(out->v[i], out->schema[i].type)) {
        if (why) *why = "field " + std::string(out->schema[i].name) + " has the wrong type";
        return Verdict::kWrongType;
      }
    }
    return Verdict::kValid;
  }

 private:
  simdjson::dom::parser parser_;
};

// ---- independent formats and geometry -----------------------------------------------------------

// "YYYY-MM-DDTHH:MM:SS.ffffffZ", exactly.
bool ParseIsoMicros(std::string_view s, EventTime* out) {
  if (s.size() != 27) return false;
  static constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  for (size_t i = 0; i < s.size(); ++i) {
    if (kPattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != kPattern[i]) return false;
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  using namespace std::chrono;
  const year_month_day ymd{year(num(0, 4)), month(static_cast<unsigned>(num(5, 2))),
                           day(static_cast<unsigned>(num(8, 2)))};
  const int h = num(11, 2), mi = num(14, 2), sec = num(17, 2), us = num(20, 6);
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return false;
  *out = EventTime(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(sec) + microseconds(us);
  return true;
}

bool ParseSixDecimals(std::string_view s, double* out) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos || s.size() - dot - 1 != 6 || dot == 0) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "(lat, lon)" with 6 decimals each.
bool ParseLocation(std::string_view s, LatLon* out) {
  if (s.size() < 6 || s.front() != '(' || s.back() != ')') return false;
  const size_t comma = s.find(", ");
  if (comma == std::string_view::npos) return false;
  return ParseSixDecimals(s.substr(1, comma - 1), &out->lat) &&
         ParseSixDecimals(s.substr(comma + 2, s.size() - comma - 3), &out->lon);
}

double Haversine(LatLon a, LatLon b) {
  constexpr double kR = 6'371'000.0, kRad = M_PI / 180;
  const double dlat = (b.lat - a.lat) * kRad, dlon = (b.lon - a.lon) * kRad;
  const double h = std::pow(std::sin(dlat / 2), 2) + std::cos(a.lat * kRad) *
                                                         std::cos(b.lat * kRad) *
                                                         std::pow(std::sin(dlon / 2), 2);
  return 2 * kR * std::asin(std::sqrt(h));
}

// The route's polyline measured with this file's haversine: off-route distance and distance along.
class Polyline {
 public:
  Polyline() {
    for (const Waypoint& w : Route::LondonToBirmingham().waypoints()) pts_.push_back(w.pos);
    cum_.push_back(0);
    for (size_t i = 1; i < pts_.size(); ++i)
      cum_.push_back(cum_.back() + Haversine(pts_[i - 1], pts_[i]));
  }
  double length() const { return cum_.back(); }
  // Whether no waypoint lies strictly between two distances along (the road does not bend there).
  bool Straight(double a, double b) const {
    if (a > b) std::swap(a, b);
    return std::upper_bound(cum_.begin(), cum_.end(), a) ==
           std::lower_bound(cum_.begin(), cum_.end(), b);
  }
  const std::vector<LatLon>& points() const { return pts_; }

  struct Projection {
    double off_m;
    double along_m;
  };
  Projection Project(LatLon p) const {
    Projection best{1e18, 0};
    const double kx = std::cos(p.lat * M_PI / 180);
    for (size_t i = 0; i + 1 < pts_.size(); ++i) {
      const LatLon a = pts_[i], b = pts_[i + 1];
      const double dx = (b.lon - a.lon) * kx, dy = b.lat - a.lat;
      const double px = (p.lon - a.lon) * kx, py = p.lat - a.lat;
      const double t = std::clamp((px * dx + py * dy) / (dx * dx + dy * dy), 0.0, 1.0);
      const LatLon q{a.lat + t * (b.lat - a.lat), a.lon + t * (b.lon - a.lon)};
      const double off = Haversine(p, q);
      if (off < best.off_m) best = {off, cum_[i] + Haversine(a, q)};
    }
    return best;
  }

 private:
  std::vector<LatLon> pts_;
  std::vector<double> cum_;
};

const Polyline& ThePolyline() {
  static const Polyline p;
  return p;
}

int VehicleNumber(std::string_view device_id) {
  if (device_id.substr(0, 8) != "vehicle-" || device_id.size() < 12) return -1;
  int n = 0;
  auto [p, ec] = std::from_chars(device_id.data() + 8, device_id.data() + device_id.size(), n);
  return ec == std::errc() && p == device_id.data() + device_id.size() ? n : -1;
}

// Initial bearing from a to b in degrees [0, 360), and its 8-point compass sector (0 = North).
double Bearing(LatLon a, LatLon b) {
  constexpr double kRad = M_PI / 180;
  const double y = std::sin((b.lon - a.lon) * kRad) * std::cos(b.lat * kRad);
  const double x =
      std::cos(a.lat * kRad) * std::sin(b.lat * kRad) -
      std::sin(a.lat * kRad) * std::cos(b.lat * kRad) * std::cos((b.lon - a.lon) * kRad);
  const double deg = std::atan2(y, x) / kRad;
  return deg < 0 ? deg + 360 : deg;
}
int CompassIndex(double bearing) {
  return static_cast<int>(std::floor(std::fmod(bearing + 22.5, 360.0) / 45.0)) % 8;
}
int CompassIndexOf(std::string_view name) {
  static constexpr std::string_view kNames[] = {"North", "North-East", "East", "South-East",
                                                "South", "South-West", "West", "North-West"};
  for (int i = 0; i < 8; ++i) {
    if (kNames[i] == name) return i;
  }
  return -100;
}

bool IsUuidV4(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  }
  return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

bool OneOf(std::string_view v, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

// ---- running a simulation
// ------------------------------------------------------------------------

struct RunResult {
  SimulationSummary summary;
  size_t batches = 0;
};

// Runs to completion, calling `each(batch_index, last_batch, message)` for every message.
RunResult Drive(const SimulationOptions& o,
                const std::function<void(size_t, bool, const Message&)>& each) {
  auto sim = Simulator::Create(o);
  EXPECT_TRUE(sim.ok()) << sim.status().message();
  if (!sim.ok()) return {};
  std::vector<Message> batch;
  RunResult r;
  bool more = true;
  while (more) {
    more = (*sim)->NextTick(&batch);
    for (const Message& m : batch) each(r.batches, !more, m);
    ++r.batches;
  }
  r.summary = (*sim)->summary();
  EXPECT_FALSE((*sim)->NextTick(&batch));
  EXPECT_TRUE(batch.empty());
  return r;
}

// Collects failure descriptions without flooding the log: the first few verbatim, then a count.
class Failures {
 public:
  void Add(const std::string& what, std::string_view value = {}) {
    if (list_.size() < 12)
      list_.push_back(what + (value.empty() ? "" : "  in: " + std::string(value.substr(0, 300))));
    ++count_;
  }
  uint64_t count() const { return count_; }
  std::string Describe() const {
    std::string s = std::to_string(count_) + " failures";
    for (const auto& l : list_) s += "\n  " + l;
    return s;
  }

 private:
  std::vector<std::string> list_;
  uint64_t count_ = 0;
};

// ---- conformance and plausibility of one large run
// -----------------------------------------------

struct IncidentSeen {
  std::string type, location, description;
  EventTime first_active = EventTime::max();
  std::map<std::string, std::pair<int, int>> per_device;  // deviceId -> (#Active, #Resolved)
  std::map<std::string, EventTime> active_at;
};

struct VehicleTrack {
  EventTime last_ts[kTopicCount]{};
  size_t last_tick_batch = SIZE_MAX;
  EventTime tick_ts{};
  double along_prev = -1, along = -1;
  double speed_prev = -1, speed = -1;
  std::string location;
  double temperature = NAN;
  std::string make, model, fuel, vehicle_type;
  int64_t year = 0;
  std::set<std::string> cameras;
};

// Where a vehicle was first and last seen, and which way it drives.
struct Trip {
  EventTime first_ts = EventTime::max(), last_ts{};
  double first_along = -1, last_along = -1;
  int dir = 0;  // +1 towards Birmingham, -1 towards London, 0 not yet known
};

// One run checked message by message: schemas, physics along the polyline in each vehicle's
// direction, incident life cycles. The test states what it expects of the totals.
struct RunCheck {
  void Run(const SimulationOptions& o) {
    options_ = o;
    const bool one_trip = o.mode == SimulationMode::kOneTrip;
    const Polyline& line = ThePolyline();
    const double tick_s = std::chrono::duration<double>(options_.tick).count();
    std::unordered_set<std::string> ids;
    std::map<std::string, VehicleTrack> tracks;
    std::map<std::string, IncidentSeen> incidents;
    std::map<std::string, std::string> camera_locations;
    EventParser parser;
    Parsed ev;
    auto& C = conformance_;
    auto& P = plausibility_;
    auto& E = emergencies_;
    std::unordered_map<std::string, EventTime>
        vehicle_tick_ts;  // deviceId -> ts of this batch's vehicle_data
    size_t current_batch = SIZE_MAX;

    run_ = Drive(options_, [&](size_t batch, bool, const Message& m) {
      if (batch != current_batch) {
        current_batch = batch;
        vehicle_tick_ts.clear();
      }
      const auto t = static_cast<size_t>(m.topic);
      ++messages_[t];
      std::string why;
      const Verdict verdict = parser.Parse(m, &ev, &why);
      if (verdict != Verdict::kValid) {
        C.Add("not a valid " + std::string(DefaultTopicName(m.topic)) + " event: " + why, m.value);
        return;
      }
      if (!m.json_ok) C.Add("json_ok false on valid JSON", m.value);
      // Common fields.
      const std::string id(ev.Str("id"));
      if (!IsUuidV4(id)) C.Add("id is not a lowercase uuid v4", m.value);
      if (!ids.insert(id).second) C.Add("id used twice: " + id, m.value);
      const std::string device(ev.Str("deviceId"));
      const int vehicle_no = VehicleNumber(device);
      if (vehicle_no < 1 || (one_trip && vehicle_no > options_.vehicles))
        C.Add("deviceId is not vehicle-NNNN", m.value);
      if (m.key != device) C.Add("message key is not the deviceId", m.value);
      EventTime ts;
      if (!ParseIsoMicros(ev.Str("timestamp"), &ts)) {
        C.Add("timestamp is not YYYY-MM-DDTHH:MM:SS.ffffffZ", m.value);
        return;
      }
      if (ts != m.event_time) C.Add("timestamp differs from the message's event time", m.value);
      max_ts_ = std::max(max_ts_, ts);
      if (ts < options_.start || ts >= options_.start + *options_.duration)
        C.Add("timestamp outside the run", m.value);
      LatLon pos{};
      if (m.topic != Topic::kGps) {
        if (!ParseLocation(ev.Str("location"), &pos)) {
          C.Add("location is not \"(lat, lon)\" with 6 decimals", m.value);
          return;
        }
        if (pos.lat < 51.4 || pos.lat > 52.6 || pos.lon < -2.0 || pos.lon > 0.0)
          C.Add("location not in England", m.value);
        const double off = line.Project(pos).off_m;
        if (off > 300) P.Add("location " + std::to_string(off) + " m off the route", m.value);
      }
      VehicleTrack& vt = tracks[device];
      // Per device and topic, the clock only moves forwards (no faults in this run).
      if (m.topic != Topic::kEmergency && m.topic != Topic::kTraffic) {
        if (vt.last_ts[t] != EventTime{} && ts <= vt.last_ts[t])
          P.Add("timestamp not after the previous one", m.value);
        if (vt.last_ts[t] != EventTime{} && ts - vt.last_ts[t] != options_.tick) {
          P.Add("consecutive readings of one vehicle are not one tick apart", m.value);
        }
        vt.last_ts[t] = ts;
      }

      switch (m.topic) {
        case Topic::kVehicle: {
          ++topic_counts_[t];
          const double speed = ev.Num("speed");
          if (!(speed >= 0 && speed <= 200)) C.Add("speed outside 0..200 km/h", m.value);
          if (!OneOf(ev.Str("direction"), {"North", "North-East", "East", "South-East", "South",
                                           "South-West", "West", "North-West"})) {
            C.Add("direction is not a compass point", m.value);
          }
          if (ev.Str("make").empty() || ev.Str("model").empty())
            C.Add("empty make or model", m.value);
          const int64_t year = ev.Int("year");
          if (year < 1990 || year > 2026) C.Add("implausible model year", m.value);
          if (!OneOf(ev.Str("fuelType"), {"Petrol", "Diesel", "Hybrid", "Electric"}))
            C.Add("unknown fuelType", m.value);
          // A vehicle does not change make, model, year or fuel on the way.
          if (vt.make.empty()) {
            vt.make = ev.Str("make"), vt.model = ev.Str("model"), vt.fuel = ev.Str("fuelType"),
            vt.year = year;
          } else if (vt.make != ev.Str("make") || vt.model != ev.Str("model") ||
                     vt.fuel != ev.Str("fuelType") || vt.year != year) {
            P.Add("vehicle changed identity", m.value);
          }
          // Physics: on the route, moving in one direction (London -> Birmingham only on a one-way
          // trip) by speed x tick, accelerating like a road vehicle.
          vt.along_prev = vt.along;
          vt.speed_prev = vt.speed;
          vt.along = line.Project(pos).along_m;
          vt.speed = speed;
          Trip& trip = trips_[device];
          if (trip.first_along < 0) trip.first_along = vt.along, trip.first_ts = ts;
          trip.last_along = vt.along, trip.last_ts = ts;
          if (vt.along_prev >= 0) {
            double moved = vt.along - vt.along_prev;
            if (std::abs(moved) > 1.0) {
              const int dir = moved > 0 ? 1 : -1;
              if (trip.dir == 0) trip.dir = dir;
              if (dir != trip.dir || (one_trip && dir < 0))
                P.Add("vehicle turned round: moved " + std::to_string(moved) + " m", m.value);
            }
            if (trip.dir < 0) moved = -moved;
            // The reported direction is the compass point of the way it moved (give or take
            // one point where the road bends within the tick).
            if (std::abs(moved) > 30 && line.Straight(std::min(vt.along_prev, vt.along) - 5,
                                                      std::max(vt.along_prev, vt.along) + 5)) {
              LatLon prev{};
              if (ParseLocation(vt.location, &prev)) {
                const int want = CompassIndex(Bearing(prev, pos));
                const int got = CompassIndexOf(ev.Str("direction"));
                const int off = (got - want + 8) % 8;
                if (off != 0 && off != 1 && off != 7)
                  P.Add("direction is not the way the vehicle moves", m.value);
              }
            }
            const double expected = speed / 3.6 * tick_s;
            const bool at_end = trip.dir < 0 ? vt.along < 1 : vt.along > line.length() - 1;
            if (std::abs(moved - expected) > 2.0 + 0.02 * expected && !at_end) {
              P.Add("moved " + std::to_string(moved) + " m in a tick at " + std::to_string(speed) +
                        " km/h",
                    m.value);
            }
            const double dv = speed - vt.speed_prev;
            if (dv > 7.2 * tick_s + 0.011 || dv < -14.4 * tick_s - 0.011) {
              P.Add("speed changed by " + std::to_string(dv) + " km/h in one tick", m.value);
            }
          }
          if (speed > 112 * 1.08 + 15) P.Add("speed far above the 70 mph limit", m.value);
          vt.location = ev.Str("location");
          vt.tick_ts = ts;
          vt.last_tick_batch = batch;
          vehicle_tick_ts[device] = ts;
          speed_sum_ += speed;
          break;
        }
        case Topic::kGps: {
          ++topic_counts_[t];
          if (!OneOf(ev.Str("vehicleType"), {"private", "taxi", "van", "coach", "truck"})) {
            C.Add("unknown vehicleType", m.value);
          }
          if (vt.vehicle_type.empty()) vt.vehicle_type = ev.Str("vehicleType");
          if (vt.vehicle_type != ev.Str("vehicleType")) P.Add("vehicleType changed", m.value);
          if (vt.last_tick_batch != batch || vt.tick_ts != ts)
            P.Add("gps_data without vehicle_data of the same time", m.value);
          if (std::abs(ev.Num("speed") - vt.speed) > 1e-9)
            P.Add("gps speed differs from vehicle speed", m.value);
          break;
        }
        case Topic::kWeather: {
          ++topic_counts_[t];
          if (vt.last_tick_batch != batch || vt.tick_ts != ts)
            P.Add("weather_data without vehicle_data of the same time", m.value);
          if (ev.Str("location") != vt.location)
            P.Add("weather location is not the vehicle's", m.value);
          const double temp = ev.Num("temperature");
          if (!(temp >= -25 && temp <= 40)) C.Add("temperature outside -25..40 C", m.value);
          const std::string_view cond = ev.Str("weatherCondition");
          if (!OneOf(cond, {"Sunny", "Cloudy", "Rain", "Snow", "Fog"}))
            C.Add("unknown weatherCondition", m.value);
          conditions_.insert(std::string(cond));
          const double precip = ev.Num("precipitation");
          if (!(precip >= 0 && precip <= 100)) C.Add("precipitation outside 0..100 mm/h", m.value);
          if ((cond == "Rain" || cond == "Snow") != (precip > 0))
            C.Add("precipitation disagrees with condition", m.value);
          const double wind = ev.Num("windSpeed");
          if (!(wind >= 0 && wind <= 200)) C.Add("windSpeed outside 0..200 km/h", m.value);
          const int64_t hum = ev.Int("humidity");
          if (hum < 0 || hum > 100) C.Add("humidity outside 0..100", m.value);
          const int64_t aqi = ev.Int("airQualityIndex");
          if (aqi < 0 || aqi > 500) C.Add("airQualityIndex outside 0..500", m.value);
          // Smooth in time and space: one tick later and a few tens of metres on, nearly the same
          // air.
          if (!std::isnan(vt.temperature) && std::abs(temp - vt.temperature) > 0.3) {
            P.Add(
                "temperature jumped by " + std::to_string(temp - vt.temperature) + " C in one tick",
                m.value);
          }
          vt.temperature = temp;
          break;
        }
        case Topic::kTraffic: {
          ++topic_counts_[t];
          const std::string cam(ev.Str("cameraId"));
          if (cam.size() < 9 || cam.substr(0, 4) != "CAM-" || cam[cam.size() - 4] != '-')
            C.Add("cameraId format", m.value);
          const std::string_view snap = ev.Str("snapshot");
          if (snap.size() != 64 ||
              snap.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
                  std::string_view::npos) {
            C.Add("snapshot is not 64 base64 characters", m.value);
          }
          // A fixed camera: one location per id, and the vehicle passed it during this very tick.
          // ... and it is one of the route's cameras, at that camera's place.
          const auto& route_cams = Route::LondonToBirmingham().cameras();
          const auto known = std::find_if(route_cams.begin(), route_cams.end(),
                                          [&](const Camera& c) { return c.id == cam; });
          if (known == route_cams.end()) {
            P.Add("unknown camera " + cam, m.value);
          } else if (std::abs(known->pos.lat - pos.lat) > 1e-6 ||
                     std::abs(known->pos.lon - pos.lon) > 1e-6) {
            P.Add("camera " + cam + " reported away from where it stands", m.value);
          }
          auto [it, fresh] = camera_locations.emplace(cam, std::string(ev.Str("location")));
          if (!fresh && it->second != ev.Str("location"))
            P.Add("camera " + cam + " moved", m.value);
          if (vt.last_tick_batch != batch || vt.tick_ts != ts)
            P.Add("traffic_data outside the vehicle's tick", m.value);
          const double cam_along = line.Project(pos).along_m;
          const double from = std::min(vt.along_prev, vt.along),
                       to = std::max(vt.along_prev, vt.along);
          // (Before its first reading a vehicle's previous position is not known.)
          if (vt.along_prev >= 0 && !(cam_along > from - 3 && cam_along <= to + 3)) {
            P.Add("camera at " + std::to_string(cam_along) + " m not passed in this tick (" +
                      std::to_string(vt.along_prev) + " .. " + std::to_string(vt.along) + ")",
                  m.value);
          }
          if (!vt.cameras.insert(cam).second) P.Add("vehicle passed one camera twice", m.value);
          break;
        }
        case Topic::kEmergency: {
          ++topic_counts_[t];
          const std::string inc_id(ev.Str("incidentId"));
          if (inc_id.size() != 12 || inc_id.substr(0, 4) != "INC-")
            C.Add("incidentId format", m.value);
          const std::string_view type = ev.Str("type");
          if (!OneOf(type, {"Accident", "Fire", "Medical", "Police"}))
            C.Add("unknown emergency type", m.value);
          const std::string_view status = ev.Str("status");
          if (!OneOf(status, {"Active", "Resolved"})) C.Add("unknown emergency status", m.value);
          if (ev.Str("description").empty()) C.Add("empty description", m.value);
          if (vt.last_tick_batch != batch || vt.tick_ts != ts)
            E.Add("emergency_data outside the vehicle's tick", m.value);
          IncidentSeen& inc = incidents[inc_id];
          if (inc.type.empty()) {
            inc.type = type, inc.location = ev.Str("location"),
            inc.description = ev.Str("description");
          } else if (inc.type != type || inc.location != ev.Str("location") ||
                     inc.description != ev.Str("description")) {
            E.Add("incident " + inc_id + " changed type, location or description", m.value);
          }
          auto& [actives, resolveds] = inc.per_device[device];
          if (status == "Active") {
            ++actives;
            if (resolveds > 0) E.Add("Active after Resolved", m.value);
            inc.active_at[device] = ts;
            inc.first_active = std::min(inc.first_active, ts);
            // Raised near the vehicle that reports it.
            LatLon here{};
            if (ParseLocation(vt.location, &here) && Haversine(here, pos) > 1100) {
              E.Add("reporter " + std::to_string(Haversine(here, pos)) + " m from the incident",
                    m.value);
            }
            ++actives_;
          } else {
            ++resolveds;
            if (actives != 1)
              E.Add("Resolved without an earlier Active from this device", m.value);
            else if (!(ts > inc.active_at[device]))
              E.Add("Resolved not after Active", m.value);
            const auto open = ts - inc.first_active;
            if (open < minutes(10) || open > minutes(90) + options_.tick)
              E.Add("incident lasted an implausible time", m.value);
            ++resolveds_;
          }
          if (actives > 1 || resolveds > 1)
            E.Add("a device reported the same status twice", m.value);
          break;
        }
      }
    });
    ids_ = ids.size();
    incidents_ = incidents.size();
    cameras_seen_ = camera_locations.size();
  }

  SimulationOptions options_;
  RunResult run_;
  Failures conformance_, plausibility_, emergencies_;
  std::array<uint64_t, kTopicCount> messages_{}, topic_counts_{};
  uint64_t ids_ = 0, incidents_ = 0, cameras_seen_ = 0, actives_ = 0, resolveds_ = 0;
  double speed_sum_ = 0;
  std::set<std::string> conditions_;
  EventTime max_ts_{};
  std::map<std::string, Trip> trips_;
};

// The totals every run must show.
void ExpectConformingRun(const RunCheck& r) {
  uint64_t total = 0;
  for (uint64_t n : r.messages_) total += n;
  EXPECT_GE(total, 100'000u);
  EXPECT_EQ(total, r.run_.summary.TotalEmitted());
  for (Topic t : kAllTopics) {
    const auto i = static_cast<size_t>(t);
    EXPECT_EQ(r.messages_[i], r.run_.summary.emitted[i]) << DefaultTopicName(t);
    EXPECT_EQ(r.run_.summary.generated[i], r.run_.summary.emitted[i]) << DefaultTopicName(t);
    EXPECT_EQ(r.run_.summary.valid[i], r.run_.summary.emitted[i]) << DefaultTopicName(t);
  }
  EXPECT_EQ(r.messages_[1], r.messages_[0]);
  EXPECT_EQ(r.messages_[3], r.messages_[0]);
  EXPECT_GE(r.messages_[static_cast<size_t>(Topic::kTraffic)], 300u);
  EXPECT_EQ(r.messages_[static_cast<size_t>(Topic::kTraffic)], r.run_.summary.camera_passes);
  EXPECT_GE(r.actives_, 100u);
  EXPECT_GE(r.resolveds_, 20u);
  EXPECT_EQ(r.incidents_, r.run_.summary.incidents_raised);
  EXPECT_GE(r.conditions_.size(), 2u) << "the weather never changes";
  EXPECT_EQ(r.ids_, total) << "ids are not unique";
  EXPECT_EQ(r.run_.summary.last_event_time, r.max_ts_);
  EXPECT_EQ(r.run_.summary.first_event_time, r.options_.start);
  EXPECT_EQ(r.trips_.size(), r.run_.summary.vehicles_entered);
  EXPECT_EQ(r.run_.summary.vehicles_entered,
            r.run_.summary.vehicles_arrived + r.run_.summary.vehicles_on_road);

  EXPECT_EQ(r.conformance_.count(), 0u) << "schema conformance: " << r.conformance_.Describe();
  EXPECT_EQ(r.plausibility_.count(), 0u) << "physical plausibility: " << r.plausibility_.Describe();
  EXPECT_EQ(r.emergencies_.count(), 0u) << "incident life cycles: " << r.emergencies_.Describe();
  const double mean = r.speed_sum_ / static_cast<double>(r.messages_[0]);
  EXPECT_GT(mean, 30.0);
  EXPECT_LT(mean, 115.0);
}

// The one-way trip: a fixed fleet, all London -> Birmingham.
TEST(BigRun, SchemaPhysicsAndIncidentsOver100kEvents) {
  SimulationOptions o;
  o.mode = SimulationMode::kOneTrip;
  o.seed = 7;
  o.vehicles = 60;
  o.tick = seconds(4);
  o.duration = minutes(40);
  o.incidents_per_vehicle_hour = 4;  // enough incidents to see Active and Resolved many times
  RunCheck r;
  r.Run(o);
  ExpectConformingRun(r);
  // One vehicle, gps and weather reading per vehicle per tick.
  const uint64_t ticks = static_cast<uint64_t>(*o.duration / o.tick);
  EXPECT_EQ(r.run_.summary.ticks, ticks);
  EXPECT_EQ(r.messages_[0], ticks * o.vehicles);
  EXPECT_EQ(r.run_.summary.vehicles_entered, 60u);
}

// The steady corridor over midnight: vehicles in both directions, some on the road from the start,
// some entering at either end and some leaving at the far end, every message conforming.
TEST(BigRun, SteadyStateBothDirectionsOverMidnight) {
  SimulationOptions o;
  o.seed = 8;
  o.vehicles = 150;
  o.tick = seconds(5);
  o.start = *ParseTimestamp("2026-01-06T21:30:00Z");  // a Tuesday evening into Wednesday
  o.duration = minutes(210);
  o.incidents_per_vehicle_hour = 3;
  RunCheck r;
  r.Run(o);
  ExpectConformingRun(r);
  const double length = ThePolyline().length();
  const EventTime end = o.start + *o.duration;
  int towards[2] = {0, 0}, entered[2] = {0, 0}, left[2] = {0, 0};
  int badly_entered = 0, badly_left = 0;
  for (const auto& [device, trip] : r.trips_) {
    // (A vehicle seen once, at the far end as it left, has no direction from its moves.)
    const int d = trip.dir != 0 ? (trip.dir > 0 ? 0 : 1) : (trip.last_along > length / 2 ? 0 : 1);
    ++towards[d];
    // Entered during the run: first seen at its own end of the route.
    if (trip.first_ts >= o.start + o.tick) {
      ++entered[d];
      const double from_start = d == 0 ? trip.first_along : length - trip.first_along;
      if (from_start > 200) ++badly_entered;
    }
    // Left: last seen at the far end; or else still on the road when the run ended.
    const double to_end = d == 0 ? length - trip.last_along : trip.last_along;
    if (to_end < 5) {
      ++left[d];
    } else if (trip.last_ts < end - o.tick) {
      ++badly_left;
    }
  }
  for (int d : {0, 1}) {
    EXPECT_GE(towards[d], 20) << (d == 0 ? "London -> Birmingham" : "Birmingham -> London");
    EXPECT_GE(entered[d], 5) << d;
    EXPECT_GE(left[d], 5) << d;
  }
  EXPECT_EQ(badly_entered, 0) << "a vehicle appeared in the middle of the road";
  EXPECT_EQ(badly_left, 0) << "a vehicle vanished before the end of its trip";
  EXPECT_EQ(static_cast<uint64_t>(left[0] + left[1]), r.run_.summary.vehicles_arrived);
  // Numbers are given out in order and never reused: the highest is the number of vehicles seen.
  int highest = 0;
  for (const auto& [device, trip] : r.trips_) highest = std::max(highest, VehicleNumber(device));
  EXPECT_EQ(static_cast<uint64_t>(highest), r.trips_.size());
}

TEST(RouteTest, RunsFromLondonToBirmingham) {
  const auto& pts = ThePolyline().points();
  EXPECT_LT(Haversine(pts.front(), {51.5074, -0.1278}), 200);
  EXPECT_LT(Haversine(pts.back(), {52.4862, -1.8904}), 200);
  // The M40 way is about 190 km by road; the polyline is a little shorter than the road.
  EXPECT_GT(ThePolyline().length(), 170'000);
  EXPECT_LT(ThePolyline().length(), 200'000);
  // The route's own distance agrees with this file's.
  const Route& r = Route::LondonToBirmingham();
  EXPECT_NEAR(r.length_m(), ThePolyline().length(), 200);
  for (double d = 0; d < r.length_m(); d += 997) {
    const RoutePoint p = r.PointAt(d);
    const auto proj = ThePolyline().Project(p.pos);
    EXPECT_LT(proj.off_m, 5) << d;
    EXPECT_NEAR(proj.along_m, d, 60) << d;
  }
  // Cameras lie on the route, in order.
  double last = -1;
  for (const Camera& c : r.cameras()) {
    const auto proj = ThePolyline().Project(c.pos);
    EXPECT_LT(proj.off_m, 5) << c.id;
    EXPECT_GT(proj.along_m, last) << c.id;
    last = proj.along_m;
  }
}

// Every camera between a vehicle's consecutive positions produces exactly one traffic_data.
TEST(SimulatorTest, EveryCameraPassedIsReported) {
  SimulationOptions o;
  o.mode = SimulationMode::kOneTrip;  // along the route means forwards
  o.seed = 11;
  o.vehicles = 20;
  o.duration = minutes(15);
  o.start = *ParseTimestamp("2026-01-05T11:00:00Z");  // free-flowing traffic passes more cameras
  const Polyline& line = ThePolyline();
  std::vector<double> camera_along;
  for (const Camera& c : Route::LondonToBirmingham().cameras())
    camera_along.push_back(line.Project(c.pos).along_m);
  EventParser parser;
  Parsed ev;
  std::map<std::string, double> along;
  uint64_t expected = 0, seen = 0, ambiguous = 0;
  Drive(o, [&](size_t, bool, const Message& m) {
    ASSERT_EQ(parser.Parse(m, &ev), Verdict::kValid);
    const std::string device(ev.Str("deviceId"));
    if (m.topic == Topic::kVehicle) {
      LatLon p{};
      ASSERT_TRUE(ParseLocation(ev.Str("location"), &p));
      const double now = line.Project(p).along_m;
      auto it = along.find(device);
      if (it != along.end()) {
        for (double c : camera_along) {
          if (std::abs(c - it->second) < 3 || std::abs(c - now) < 3) {
            if (c > it->second - 3 && c <= now + 3)
              ++ambiguous;  // too close to call with 6 decimals
          } else if (c > it->second && c <= now) {
            ++expected;
          }
        }
      }
      along[device] = now;
    } else if (m.topic == Topic::kTraffic) {
      ++seen;
    }
  });
  EXPECT_GT(expected, 30u);
  EXPECT_GE(seen, expected);
  EXPECT_LE(seen, expected + ambiguous);
}

// Rush hour (07-09, 17-19 UK time on weekdays) slows traffic: the same fleet at the same places is
// slower at 08:00 on a Monday than at 11:00, or at 08:00 on a Saturday.
TEST(SimulatorTest, RushHourSlowsTraffic) {
  auto mean_speed = [](const char* start) {
    SimulationOptions o;
    o.mode = SimulationMode::kOneTrip;  // the same vehicles at the same places
    o.seed = 5;
    o.vehicles = 20;
    o.duration = minutes(10);
    o.incidents_per_vehicle_hour = 0;
    o.start = *ParseTimestamp(start);
    EventParser parser;
    Parsed ev;
    double sum = 0;
    uint64_t n = 0;
    Drive(o, [&](size_t, bool, const Message& m) {
      if (m.topic != Topic::kVehicle) return;
      EXPECT_EQ(parser.Parse(m, &ev), Verdict::kValid);
      sum += ev.Num("speed");
      ++n;
    });
    return sum / static_cast<double>(n);
  };
  const double rush = mean_speed("2026-01-05T08:00:00Z");  // Monday, GMT
  const double midday = mean_speed("2026-01-05T11:00:00Z");
  const double saturday = mean_speed("2026-01-10T08:00:00Z");
  const double summer_rush = mean_speed("2026-06-15T07:00:00Z");  // 08:00 BST, a Monday
  EXPECT_LT(rush, 0.85 * midday) << rush << " vs " << midday;
  EXPECT_LT(rush, 0.85 * saturday) << rush << " vs " << saturday;
  const double summer_midday = mean_speed("2026-06-15T10:00:00Z");
  EXPECT_LT(summer_rush, 0.85 * summer_midday) << summer_rush << " vs " << summer_midday;
}

// ---- determinism -------------------------------------------------------------------------------

std::string Transcript(const SimulationOptions& o) {
  std::string s;
  Drive(o, [&](size_t batch, bool, const Message& m) {
    s += std::to_string(batch) + ' ' + std::string(DefaultTopicName(m.topic)) + ' ' +
         std::string(m.key) + ' ' + (m.json_ok ? "ok " : "bad ") +
         std::to_string(m.event_time.time_since_epoch().count()) + ' ';
    s.append(m.value);
    s += '\n';
  });
  return s;
}

SimulationOptions DeterminismOptions() {
  SimulationOptions o;
  o.seed = 1234;
  o.vehicles = 20;
  o.duration = minutes(10);
  o.incidents_per_vehicle_hour = 4;
  return o;
}

std::vector<FaultSpec> AllFaults() {
  return {{FaultKind::kLate, 0.01, minutes(2)},     {FaultKind::kReorder, 0.02, seconds(10)},
          {FaultKind::kDuplicate, 0.01, Micros(0)}, {FaultKind::kMalformed, 0.01, Micros(0)},
          {FaultKind::kWrongType, 0.01, Micros(0)}, {FaultKind::kMissingField, 0.01, Micros(0)},
          {FaultKind::kOversize, 0.002, Micros(0)}};
}

TEST(DeterminismTest, SameSeedGivesByteIdenticalOutput) {
  SimulationOptions o = DeterminismOptions();
  const std::string a = Transcript(o), b = Transcript(o);
  EXPECT_GT(a.size(), 1'000'000u);
  EXPECT_TRUE(a == b) << "first difference at byte "
                      << std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
  o.faults = AllFaults();
  const std::string c = Transcript(o), d = Transcript(o);
  EXPECT_TRUE(c == d) << "with faults, first difference at byte "
                      << std::mismatch(c.begin(), c.end(), d.begin(), d.end()).first - c.begin();
}

TEST(DeterminismTest, AnotherSeedGivesOtherEventsAndIds) {
  SimulationOptions o = DeterminismOptions();
  o.duration = minutes(2);
  std::set<std::string> ids_a;
  EventParser parser;
  Parsed ev;
  std::vector<std::string> values_a;
  Drive(o, [&](size_t, bool, const Message& m) {
    ASSERT_EQ(parser.Parse(m, &ev), Verdict::kValid);
    ids_a.insert(std::string(ev.Str("id")));
    values_a.emplace_back(m.value);
  });
  o.seed += 1;
  uint64_t shared_ids = 0, same_values = 0, n = 0;
  Drive(o, [&](size_t, bool, const Message& m) {
    ASSERT_EQ(parser.Parse(m, &ev), Verdict::kValid);
    shared_ids += ids_a.count(std::string(ev.Str("id")));
    if (n < values_a.size() && values_a[n] == m.value) ++same_values;
    ++n;
  });
  EXPECT_EQ(shared_ids, 0u);
  EXPECT_EQ(same_values, 0u);
}

// Turning faults on changes only the faulted messages: every message that is still a valid event
// is byte for byte the message of the same id in the run without faults.
TEST(DeterminismTest, FaultsLeaveTheOtherEventsUnchanged) {
  SimulationOptions o = DeterminismOptions();
  std::unordered_map<std::string, std::string> clean;
  EventParser parser;
  Parsed ev;
  const RunResult base = Drive(o, [&](size_t, bool, const Message& m) {
    ASSERT_EQ(parser.Parse(m, &ev), Verdict::kValid);
    clean.emplace(std::string(ev.Str("id")), std::string(m.value));
  });
  o.faults = AllFaults();
  uint64_t same = 0, changed = 0, unknown_id = 0;
  std::unordered_set<std::string> matched;
  const RunResult faulty = Drive(o, [&](size_t, bool, const Message& m) {
    if (parser.Parse(m, &ev) != Verdict::kValid) return;
    auto it = clean.find(std::string(ev.Str("id")));
    if (it == clean.end()) {
      ++unknown_id;
    } else if (it->second == m.value) {
      ++same;
      matched.insert(it->first);
    } else {
      ++changed;
    }
  });
  EXPECT_EQ(changed, 0u);
  EXPECT_EQ(unknown_id, 0u);
  EXPECT_EQ(base.summary.generated, faulty.summary.generated);
  EXPECT_EQ(base.summary.first_event_time, faulty.summary.first_event_time);
  EXPECT_EQ(base.summary.last_event_time, faulty.summary.last_event_time);
  const auto& f = faulty.summary.faults;
  const uint64_t content_faults = f[static_cast<size_t>(FaultKind::kMalformed)] +
                                  f[static_cast<size_t>(FaultKind::kWrongType)] +
                                  f[static_cast<size_t>(FaultKind::kMissingField)] +
                                  f[static_cast<size_t>(FaultKind::kOversize)];
  EXPECT_GT(content_faults, 100u);
  EXPECT_EQ(matched.size(), base.summary.TotalGenerated() - content_faults);
  EXPECT_EQ(same, matched.size() + f[static_cast<size_t>(FaultKind::kDuplicate)]);
}

// ---- fault injection, counted from the output alone
// -----------------------------------------------

// What an independent reader of the stream can tell about each message, knowing only the run's
// start, tick and fault delays (its parameters, not its outcome).
struct FaultCount {
  std::array<uint64_t, kFaultKindCount> kinds{};
  std::array<uint64_t, kTopicCount> emitted{}, valid{};
  uint64_t delayed_in_final_batch =
      0;                    // held back, then flushed at the end before their delay was up
  uint64_t final_slot = 0;  // in the last (tick, vehicle) slot: order cannot show a delay
  uint64_t unknown_fields = 0;
  std::vector<double> late_behind_s, reorder_behind_s;
};

FaultCount CountFaults(const SimulationOptions& o, RunResult* run) {
  Micros late_delay{0}, reorder_delay{0};
  for (const FaultSpec& f : o.faults) {
    if (f.kind == FaultKind::kLate) late_delay = f.delay;
    if (f.kind == FaultKind::kReorder) reorder_delay = f.delay;
  }
  const Micros threshold = (late_delay + reorder_delay) / 2;
  FaultCount c;
  EventParser parser;
  Parsed ev;
  std::unordered_set<std::string> ids;
  // Events come out in (tick, vehicle) order; a held-back one appears after a later slot.
  std::pair<int64_t, int> max_slot{-1, -1};
  EventTime max_ts{};
  *run = Drive(o, [&](size_t, bool final_batch, const Message& m) {
    const auto t = static_cast<size_t>(m.topic);
    ++c.emitted[t];
    switch (parser.Parse(m, &ev)) {
      case Verdict::kMalformed:
        ++c.kinds[static_cast<size_t>(FaultKind::kMalformed)];
        return;
      case Verdict::kOversize:
        ++c.kinds[static_cast<size_t>(FaultKind::kOversize)];
        return;
      case Verdict::kMissingField:
        ++c.kinds[static_cast<size_t>(FaultKind::kMissingField)];
        return;
      case Verdict::kWrongType:
        ++c.kinds[static_cast<size_t>(FaultKind::kWrongType)];
        return;
      case Verdict::kUnknownField:
        ++c.unknown_fields;
        return;
      case Verdict::kValid:
        break;
    }
    ++c.valid[t];
    if (!ids.insert(std::string(ev.Str("id"))).second) {
      ++c.kinds[static_cast<size_t>(FaultKind::kDuplicate)];
      return;
    }
    EventTime ts;
    EXPECT_TRUE(ParseIsoMicros(ev.Str("timestamp"), &ts));
    const std::pair<int64_t, int> slot{(ts - o.start) / o.tick, VehicleNumber(ev.Str("deviceId"))};
    if (slot < max_slot) {
      const Micros behind = max_ts - ts;
      const bool late = behind >= threshold;
      if (final_batch && !late) {
        ++c.delayed_in_final_batch;
      } else {
        ++c.kinds[static_cast<size_t>(late ? FaultKind::kLate : FaultKind::kReorder)];
        // Flushed at the end, a held message may go out before its delay is up.
        if (!final_batch) {
          (late ? c.late_behind_s : c.reorder_behind_s)
              .push_back(std::chrono::duration<double>(behind).count());
        }
      }
      return;
    }
    if (final_batch && slot == max_slot) ++c.final_slot;
    max_slot = slot;
    max_ts = std::max(max_ts, ts);
  });
  return c;
}

TEST(FaultTest, InjectedCountsMatchWhatTheOutputShows) {
  SimulationOptions o;
  o.seed = 99;
  o.vehicles = 30;
  o.duration = minutes(15);
  o.incidents_per_vehicle_hour = 2;
  o.oversize_bytes = 70'000;
  o.faults = AllFaults();
  RunResult run;
  const FaultCount c = CountFaults(o, &run);
  const SimulationSummary& s = run.summary;
  auto kind = [](FaultKind k) { return static_cast<size_t>(k); };

  for (FaultKind k : {FaultKind::kMalformed, FaultKind::kOversize, FaultKind::kMissingField,
                      FaultKind::kWrongType, FaultKind::kDuplicate}) {
    EXPECT_EQ(c.kinds[kind(k)], s.faults[kind(k)]) << FaultKindName(k);
    EXPECT_GT(s.faults[kind(k)], 20u) << FaultKindName(k);
  }
  EXPECT_EQ(c.unknown_fields, 0u);
  EXPECT_EQ(c.emitted, s.emitted);
  EXPECT_EQ(c.valid, s.valid);
  for (Topic t : kAllTopics) {
    const auto i = static_cast<size_t>(t);
    EXPECT_LE(s.generated[i], s.emitted[i]) << DefaultTopicName(t);
  }
  EXPECT_EQ(s.TotalEmitted(), s.TotalGenerated() + s.faults[kind(FaultKind::kDuplicate)]);

  // Late and reordered: every one is seen out of order, except messages held back from the very
  // last slot of the run (nothing follows them). Those flushed at the end, before their delay was
  // up, cannot be told late from reordered by timing.
  const uint64_t late = s.faults[kind(FaultKind::kLate)],
                 reorder = s.faults[kind(FaultKind::kReorder)];
  EXPECT_GT(late, 50u);
  EXPECT_GT(reorder, 100u);
  const uint64_t seen = c.kinds[kind(FaultKind::kLate)] + c.kinds[kind(FaultKind::kReorder)] +
                        c.delayed_in_final_batch;
  EXPECT_LE(seen, late + reorder);
  EXPECT_LE(late + reorder - seen, c.final_slot);
  EXPECT_LE(c.kinds[kind(FaultKind::kLate)], late);
  EXPECT_LE(c.kinds[kind(FaultKind::kReorder)], reorder);
  EXPECT_LE(late - c.kinds[kind(FaultKind::kLate)], c.delayed_in_final_batch + c.final_slot);
  EXPECT_LE(reorder - c.kinds[kind(FaultKind::kReorder)], c.delayed_in_final_batch + c.final_slot);
  // How far behind: about the chosen delay (to within a tick or two), not anything else.
  for (double b : c.late_behind_s) ASSERT_NEAR(b, 120.0, 2.0);
  for (double b : c.reorder_behind_s) ASSERT_NEAR(b, 10.0, 2.0);
}

TEST(FaultTest, OversizeHasTheConfiguredSizeAndMalformedIsCarriedAsNotJson) {
  SimulationOptions o;
  o.vehicles = 10;
  o.duration = minutes(5);
  o.oversize_bytes = 100'000;
  o.faults = {{FaultKind::kOversize, 0.05, Micros(0)}, {FaultKind::kMalformed, 0.05, Micros(0)}};
  EventParser parser;
  Parsed ev;
  uint64_t oversize = 0, malformed = 0;
  Drive(o, [&](size_t, bool, const Message& m) {
    switch (parser.Parse(m, &ev)) {
      case Verdict::kOversize:
        ++oversize;
        EXPECT_EQ(m.value.size(), 100'000u);
        EXPECT_TRUE(m.json_ok);
        break;
      case Verdict::kMalformed:
        ++malformed;
        EXPECT_FALSE(m.json_ok);
        EXPECT_GE(m.value.size(), 10u);
        EXPECT_EQ(m.value.front(), '{');
        break;
      case Verdict::kValid:
        EXPECT_TRUE(m.json_ok);
        break;
      default:
        ADD_FAILURE() << m.value;
    }
  });
  EXPECT_GT(oversize, 20u);
  EXPECT_GT(malformed, 20u);
}

// A run stopped early still hands out what it held back, so nothing generated is lost.
TEST(FaultTest, StopReleasesEverythingHeldBack) {
  SimulationOptions o;
  o.vehicles = 20;
  o.faults = {{FaultKind::kLate, 0.05, minutes(5)}};
  auto sim = Simulator::Create(o);
  ASSERT_TRUE(sim.ok());
  std::vector<Message> batch;
  uint64_t n = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*sim)->NextTick(&batch));
    n += batch.size();
  }
  EXPECT_LT(n, (*sim)->summary().TotalGenerated());
  (*sim)->Stop(&batch);
  n += batch.size();
  EXPECT_EQ(n, (*sim)->summary().TotalGenerated());
  EXPECT_EQ((*sim)->summary().TotalEmitted(), n);
  EXPECT_FALSE((*sim)->NextTick(&batch));
  EXPECT_TRUE(batch.empty());
}

// ---- how a run ends
// ------------------------------------------------------------------------------

TEST(SimulatorTest, CountGivesExactlyThatManyEvents) {
  for (uint64_t count : {1ull, 2ull, 1000ull, 12'345ull}) {
    SimulationOptions o;
    o.vehicles = 7;
    o.count = count;
    uint64_t n = 0;
    const RunResult r = Drive(o, [&](size_t, bool, const Message&) { ++n; });
    EXPECT_EQ(n, count);
    EXPECT_EQ(r.summary.TotalEmitted(), count);
  }
}

TEST(SimulatorTest, DurationBoundsEventTime) {
  SimulationOptions o;
  o.vehicles = 3;
  o.tick = std::chrono::milliseconds(500);
  o.duration = seconds(10);
  EventTime last{};
  const RunResult r =
      Drive(o, [&](size_t, bool, const Message& m) { last = std::max(last, m.event_time); });
  EXPECT_EQ(r.summary.ticks, 20u);
  EXPECT_LT(last, o.start + seconds(10));
  EXPECT_GE(last, o.start + seconds(9));
}

// On a one-way trip with neither --duration nor --count, the run ends when the whole fleet has
// reached Birmingham.
TEST(SimulatorTest, EndsWhenEveryVehicleHasArrived) {
  SimulationOptions o;
  o.mode = SimulationMode::kOneTrip;
  o.vehicles = 3;
  o.tick = seconds(10);
  o.start = *ParseTimestamp("2026-01-04T03:00:00Z");  // a quiet Sunday night
  EventParser parser;
  Parsed ev;
  std::map<std::string, LatLon> last;
  const RunResult r = Drive(o, [&](size_t, bool, const Message& m) {
    if (m.topic != Topic::kVehicle) return;
    ASSERT_EQ(parser.Parse(m, &ev), Verdict::kValid);
    ASSERT_TRUE(ParseLocation(ev.Str("location"), &last[std::string(ev.Str("deviceId"))]));
  });
  EXPECT_EQ(r.summary.vehicles_arrived, 3);
  ASSERT_EQ(last.size(), 3u);
  for (const auto& [device, pos] : last)
    EXPECT_LT(Haversine(pos, {52.4862, -1.8904}), 100) << device;
  // The first vehicle drives the whole way, about 190 km: between 1.5 and 4 hours.
  EXPECT_GT(r.summary.last_event_time - r.summary.first_event_time, std::chrono::minutes(90));
  EXPECT_LT(r.summary.last_event_time - r.summary.first_event_time, std::chrono::hours(4));
}

// ---- the steady corridor ------------------------------------------------------------------------

// Without --duration or --count a steady run never ends by itself; over days its own state stays
// bounded: vehicles that left are released, incidents end, held-back messages go out after their
// delay.
TEST(SteadyStateTest, RunsForDaysInBoundedMemory) {
  SimulationOptions o;
  o.seed = 21;
  o.vehicles = 40;
  o.tick = seconds(60);
  o.incidents_per_vehicle_hour = 2;
  o.faults = {{FaultKind::kLate, 0.01, minutes(30)}, {FaultKind::kDuplicate, 0.01, Micros(0)}};
  auto sim = Simulator::Create(o);
  ASSERT_TRUE(sim.ok());
  std::vector<Message> batch;
  const int ticks_per_day = 24 * 60;
  SimulatorState first_day{}, later{};
  auto take_max = [](SimulatorState* m, const SimulatorState& s) {
    m->vehicles = std::max(m->vehicles, s.vehicles);
    m->vehicle_slots = std::max(m->vehicle_slots, s.vehicle_slots);
    m->incidents = std::max(m->incidents, s.incidents);
    m->incident_reporters = std::max(m->incident_reporters, s.incident_reporters);
    m->held_back = std::max(m->held_back, s.held_back);
  };
  uint64_t max_on_road = 0, messages = 0;
  for (int i = 0; i < 6 * ticks_per_day; ++i) {
    ASSERT_TRUE((*sim)->NextTick(&batch)) << "a steady run ended by itself after " << i << " ticks";
    messages += batch.size();
    const SimulatorState st = (*sim)->state();
    take_max(i < ticks_per_day ? &first_day : &later, st);
    max_on_road = std::max(max_on_road, (*sim)->summary().vehicles_on_road);
    EXPECT_LE(st.vehicles, (*sim)->summary().vehicles_on_road + 20);
  }
  const SimulationSummary& s = (*sim)->summary();
  // Six days of a 40-vehicle corridor: hundreds of trips came and went...
  EXPECT_GT(s.vehicles_entered, 1000u);
  EXPECT_GT(s.vehicles_arrived, 1000u);
  EXPECT_GT(s.incidents_resolved, 500u);
  EXPECT_EQ(s.vehicles_entered, s.vehicles_arrived + s.vehicles_on_road);
  // ... yet the state held never outgrows what one day needed, or what the fleet size implies.
  EXPECT_LE(later.vehicles, first_day.vehicles * 3 / 2);
  EXPECT_LE(later.vehicle_slots, first_day.vehicle_slots * 3 / 2);
  EXPECT_LE(later.incidents, first_day.incidents * 2 + 5);
  EXPECT_LE(later.incident_reporters, first_day.incident_reporters * 2 + 20);
  EXPECT_LE(later.held_back, first_day.held_back * 2 + 20);
  EXPECT_LE(max_on_road, 4u * 40);
  EXPECT_LE(later.vehicle_slots, 8u * 40);
  EXPECT_GT(first_day.held_back, 0u);
  (*sim)->Stop(&batch);
  messages += batch.size();
  EXPECT_EQ(messages, s.TotalEmitted());
  EXPECT_EQ((*sim)->state().held_back, 0u);
}

// --vehicles is the number on the road at the daily mean (without incidents, which hold traffic
// up); the entry rate follows the clock, so there are many more at 08:00 on a weekday than at
// 03:00, and a weekday's rush hours stand out.
TEST(SteadyStateTest, DailyProfileAndMeanFleet) {
  SimulationOptions o;
  o.seed = 4;
  o.vehicles = 60;
  o.tick = seconds(20);
  o.incidents_per_vehicle_hour = 0;
  o.start = *ParseTimestamp("2026-01-06T00:00:00Z");  // Tuesday, GMT: UK local time = UTC
  o.duration = std::chrono::hours(48);
  std::map<int, uint64_t> per_hour;  // readings per UTC hour of day, both days
  const RunResult r = Drive(o, [&](size_t, bool, const Message& m) {
    if (m.topic != Topic::kVehicle) return;
    const auto since = m.event_time - o.start;
    per_hour[static_cast<int>((since / std::chrono::hours(1)) % 24)]++;
  });
  const double ticks_per_hour = 3600.0 / 20;
  auto on_road = [&](int hour) { return per_hour[hour] / (2 * ticks_per_hour); };
  EXPECT_GT(on_road(8), 5 * on_road(3)) << on_road(8) << " at 08:00, " << on_road(3) << " at 03:00";
  EXPECT_GT(on_road(18), 4 * on_road(3));
  EXPECT_GT(on_road(8), on_road(13));
  const double mean =
      static_cast<double>(r.summary.generated[0]) / static_cast<double>(r.summary.ticks);
  EXPECT_NEAR(mean, 60, 60 * 0.1) << "mean vehicles on the road over two days";
}

// Same seed and options, same bytes: over midnight, in both directions, with vehicles entering
// and leaving, with faults too.
TEST(SteadyStateTest, ByteIdenticalOverMidnight) {
  SimulationOptions o;
  o.seed = 77;
  o.vehicles = 40;
  o.tick = seconds(2);
  o.start = *ParseTimestamp("2026-03-28T23:40:00Z");  // into the night the clocks go forward
  o.duration = minutes(40);
  o.incidents_per_vehicle_hour = 4;
  const std::string a = Transcript(o), b = Transcript(o);
  EXPECT_GT(a.size(), 1'000'000u);
  EXPECT_TRUE(a == b) << "first difference at byte "
                      << std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
  EXPECT_NE(a.find("T00:"), std::string::npos);
  EXPECT_NE(a.find("T23:"), std::string::npos);
  o.faults = AllFaults();
  const std::string c = Transcript(o), d = Transcript(o);
  EXPECT_TRUE(c == d) << "with faults, first difference at byte "
                      << std::mismatch(c.begin(), c.end(), d.begin(), d.end()).first - c.begin();
  o.seed += 1;
  o.faults.clear();
  EXPECT_NE(Transcript(o), a);
}

// A late message still carries the key of its vehicle after that vehicle has left the road.
TEST(SteadyStateTest, HeldBackMessagesOutliveTheirVehicle) {
  SimulationOptions o;
  o.seed = 5;
  o.vehicles = 30;
  o.tick = seconds(30);
  o.duration = std::chrono::hours(6);
  o.faults = {{FaultKind::kLate, 0.05, minutes(20)}};
  EventParser parser;
  Parsed ev;
  std::map<std::string, size_t> last_reading_batch;  // deviceId -> batch of its last vehicle_data
  std::vector<std::pair<std::string, size_t>> late;  // deviceId, batch, of messages held back
  uint64_t checked = 0;
  const RunResult r = Drive(o, [&](size_t batch, bool, const Message& m) {
    ASSERT_EQ(parser.Parse(m, &ev), Verdict::kValid);
    ASSERT_EQ(m.key, ev.Str("deviceId"));
    ++checked;
    if (m.topic == Topic::kVehicle) {
      auto [it, fresh] = last_reading_batch.emplace(std::string(m.key), batch);
      if (!fresh && it->second > batch) late.emplace_back(m.key, batch);  // an old reading
      if (!fresh) it->second = std::max(it->second, batch);
    }
    if (m.event_time + minutes(10) < o.start + o.tick * static_cast<int64_t>(batch))
      late.emplace_back(m.key, batch);
  });
  uint64_t after_leaving = 0;
  for (const auto& [device, batch] : late) {
    if (batch > last_reading_batch[device]) ++after_leaving;
  }
  EXPECT_GT(checked, 10'000u);
  EXPECT_GT(r.summary.vehicles_arrived, 10u);
  EXPECT_GT(after_leaving, 0u) << "no late message went out after its vehicle had left";
}

// PointAt finds the same point whatever hint it starts from, behind or ahead.
TEST(RouteTest, PointAtIsTheSameFromAnyHint) {
  const Route& r = Route::LondonToBirmingham();
  const size_t segments = r.waypoints().size() - 1;
  for (double d = 0; d <= r.length_m(); d += 1234.5) {
    const RoutePoint want = r.PointAt(d);
    for (size_t hint = 0; hint < segments + 3; ++hint) {
      const RoutePoint got = r.PointAt(d, hint);
      ASSERT_EQ(got.segment, want.segment) << d << " from " << hint;
      ASSERT_EQ(got.pos.lat, want.pos.lat);
      ASSERT_EQ(got.pos.lon, want.pos.lon);
    }
  }
}

}  // namespace
}  // namespace smartcity::simulation
