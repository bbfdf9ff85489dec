#include "simulation/simulator.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <queue>
#include <span>
#include <string>

#include "model/schema.h"
#include "simulation/fleet.h"
#include "simulation/json_writer.h"
#include "simulation/rng.h"
#include "simulation/route.h"
#include "simulation/weather.h"

namespace smartcity::simulation {

uint64_t SimulationSummary::TotalEmitted() const {
  uint64_t n = 0;
  for (uint64_t v : emitted) n += v;
  return n;
}

uint64_t SimulationSummary::TotalGenerated() const {
  uint64_t n = 0;
  for (uint64_t v : generated) n += v;
  return n;
}

namespace {

constexpr int64_t kMicrosPerHour = 3'600'000'000LL;

namespace vehicle_col = model::vehicle_col;
namespace gps_col = model::gps_col;
namespace traffic_col = model::traffic_col;
namespace weather_col = model::weather_col;
namespace emergency_col = model::emergency_col;

// Incident types and statuses are the model's (model/schema.h).
using IncidentType = model::EmergencyType;
using model::EmergencyStatus;
using model::NameOf;
// Which field (by position) an injected fault leaves out or writes with the wrong type.
struct FieldPlan {
  int omit = -1;
  int wrong = -1;
};

// The JSON keys of one topic and what they hold, from the model (model/schema.h): the quoted keys
// (`"speed":`) are built at compile time, so writing one costs what writing a literal did.
struct TopicKeys {
  std::span<const std::string_view> quoted;
  std::span<const model::JsonField> fields;
};
template <Topic T>
constexpr TopicKeys KeysOf() {
  return {model::QuotedJsonKeys<T>::kKeys, model::QuotedJsonKeys<T>::kFields};
}
constexpr std::array<TopicKeys, kTopicCount> kKeys = {
    KeysOf<Topic::kVehicle>(), KeysOf<Topic::kGps>(), KeysOf<Topic::kTraffic>(),
    KeysOf<Topic::kWeather>(), KeysOf<Topic::kEmergency>()};

// Every event starts with its id and deviceId (ObjectEncoder::Key checks the order in debug
// builds).
constexpr int kIdColumn = model::vehicle_col::kId;
constexpr int kDeviceIdColumn = model::vehicle_col::kDeviceId;
static_assert([] {
  for (Topic t : kAllTopics) {
    if (kKeys[static_cast<size_t>(t)].fields[0].column != kIdColumn ||
        kKeys[static_cast<size_t>(t)].fields[1].column != kDeviceIdColumn) {
      return false;
    }
  }
  return true;
}());

// Writes one JSON object field by field, in the model's order, applying a FieldPlan.
class ObjectEncoder {
 public:
  ObjectEncoder(std::string* out, FieldPlan plan, Topic topic)
      : w_(out), plan_(plan), keys_(kKeys[static_cast<size_t>(topic)]) {
    w_.Char('{');
  }
  // Writes the separator and the key of the field that fills raw-table column `column` (the next
  // field of the topic); returns true when the caller should write the value.
  bool Key(int column) {
    const int i = index_++;
    assert(keys_.fields[static_cast<size_t>(i)].column == column);  // fields in the model's order
    (void)column;
    if (i == plan_.omit) return false;
    if (!first_) w_.Char(',');
    first_ = false;
    w_.Raw(keys_.quoted[static_cast<size_t>(i)]);
    if (i == plan_.wrong) {
      // A number where a string belongs and a string where a number belongs; `true` for strings so
      // that no accepted alternative form (location as array/object) is produced by accident.
      w_.Raw(keys_.fields[static_cast<size_t>(i)].is_number() ? "\"n/a\"" : "true");
      return false;
    }
    return true;
  }
  JsonWriter& w() { return w_; }
  void End() { w_.Char('}'); }

 private:
  JsonWriter w_;
  FieldPlan plan_;
  TopicKeys keys_;
  int index_ = 0;
  bool first_ = true;
};

struct Vehicle {
  std::string device_id;
  VehicleSpec spec;
  int year = 0;
  Micros phase{0};        // this device's clock offset within a tick
  double distance_m = 0;  // along the route
  double speed_kmh = 0;
  double driver_factor = 1;  // how this driver treats the limit
  double noise_kmh = 0;      // AR(1) speed noise
  size_t segment_hint = 0;
  size_t next_camera = 0;
  bool arrived = false;
  Rng rng;
};

struct Incident {
  std::string id;
  IncidentType type;
  double distance_m;
  LatLon pos;
  EventTime end;
  std::string description;
  std::vector<uint32_t> reporters;  // vehicles that sent an Active event for it
};

struct HeldMessage {
  EventTime release;
  uint64_t order;  // FIFO among equal release times
  Topic topic;
  uint32_t vehicle;
  std::string value;
  EventTime event_time;
  bool operator>(const HeldMessage& o) const {
    return release != o.release ? release > o.release : order > o.order;
  }
};

// One message of the current tick: its bytes live in arena_ (or in a released HeldMessage).
struct Pending {
  Topic topic;
  uint32_t vehicle;
  size_t offset;
  size_t length;
  EventTime event_time;
  bool json_ok;
  const std::string* storage;  // nullptr: arena_
};

class SimulatorImpl final : public Simulator {
 public:
  explicit SimulatorImpl(const SimulationOptions& o)
      : options_(o),
        route_(Route::LondonToBirmingham()),
        weather_(HashMix(o.seed, 0x77)),
        id_rng_(HashMix(o.seed, 0x1d)),
        incident_rng_(HashMix(o.seed, 0x1c)),
        fault_rng_(HashMix(o.seed, 0xfa)),
        tick_s_(std::chrono::duration<double>(o.tick).count()) {
    Rng fleet_rng(HashMix(o.seed, 0xf1));
    int64_t y;
    unsigned m, d;
    CivilFromDays(std::chrono::floor<std::chrono::days>(o.start).time_since_epoch().count(), &y, &m,
                  &d);
    const int width = std::max<int>(4, static_cast<int>(std::to_string(o.vehicles).size()));
    vehicles_.resize(static_cast<size_t>(o.vehicles));
    for (int i = 0; i < o.vehicles; ++i) {
      Vehicle& v = vehicles_[static_cast<size_t>(i)];
      std::string number = std::to_string(i + 1);
      v.device_id =
          "vehicle-" +
          std::string(static_cast<size_t>(width) - std::min<size_t>(width, number.size()), '0') +
          number;
      v.spec = DrawVehicle(fleet_rng, static_cast<int>(y), &v.year);
      v.phase =
          Micros(static_cast<int64_t>(fleet_rng.Uniform() * static_cast<double>(o.tick.count())));
      // The first vehicle sets off from central London; the rest are already on their way.
      v.distance_m = i == 0 ? 0 : fleet_rng.Uniform(0, 0.7) * route_.length_m();
      v.driver_factor = fleet_rng.Uniform(0.92, 1.08);
      v.rng = Rng(HashMix(o.seed, 0xe0, static_cast<uint64_t>(i)));
      const RoutePoint p = route_.PointAt(v.distance_m);
      v.segment_hint = p.segment;
      v.speed_kmh =
          std::min(route_.SegmentStart(p.segment).speed_limit_kmh, v.spec.max_speed_kmh) * 0.9;
      while (v.next_camera < route_.cameras().size() &&
             route_.cameras()[v.next_camera].distance_m <= v.distance_m) {
        ++v.next_camera;
      }
    }
    for (const FaultSpec& f : o.faults) {
      if (f.rate > 0) faults_.push_back(f);
    }
    arena_.reserve(1 << 16);
  }

  bool NextTick(std::vector<Message>* out) override {
    out->clear();
    arena_.clear();
    pending_.clear();
    released_.clear();
    if (finished_) return false;
    now_ = options_.start + options_.tick * static_cast<int64_t>(tick_index_);
    if (tick_index_ == 0) summary_.first_event_time = now_;
    GenerateTick();
    ++tick_index_;
    ++summary_.ticks;
    const bool all_arrived = summary_.vehicles_arrived == options_.vehicles;
    const bool duration_done =
        options_.duration &&
        options_.tick * static_cast<int64_t>(tick_index_) >= *options_.duration;
    finished_ = count_reached_ || all_arrived || duration_done;
    // When the run is over, whatever is still held back (late, reordered) goes out now as well.
    ReleaseHeld(finished_ ? EventTime::max() : now_);
    QueueReleased();
    HandOut(out);
    return !finished_;
  }

  void Stop(std::vector<Message>* out) override {
    out->clear();
    arena_.clear();
    pending_.clear();
    released_.clear();
    if (finished_) return;
    ReleaseHeld(EventTime::max());
    finished_ = true;
    QueueReleased();
    HandOut(out);
  }

  EventTime now() const override { return now_; }
  Micros tick() const override { return options_.tick; }
  const SimulationSummary& summary() const override { return summary_; }

 private:
  void GenerateTick() {
    const double base_hours =
        static_cast<double>(now_.time_since_epoch().count()) / static_cast<double>(kMicrosPerHour);
    const double base_local_hour = UkLocalHour(now_, nullptr);
    const double rush = RushHourIntensity(now_);
    const double incident_p = options_.incidents_per_vehicle_hour * tick_s_ / 3600.0;
    for (uint32_t vi = 0; vi < vehicles_.size() && !count_reached_; ++vi) {
      Vehicle& v = vehicles_[vi];
      if (v.arrived) continue;
      const EventTime ts = now_ + v.phase;
      const double phase_h =
          static_cast<double>(v.phase.count()) / static_cast<double>(kMicrosPerHour);
      FormatTimestamp(ts, ts_);

      // Drive: the weather and incidents where the vehicle is now set its target speed for this
      // tick.
      RoutePoint here = route_.PointAt(v.distance_m, v.segment_hint);
      const Waypoint& stretch = route_.SegmentStart(here.segment);
      const WeatherReading wx_here =
          weather_.At(here.pos, base_hours + phase_h, base_local_hour + phase_h, rush);
      double target = std::min(stretch.speed_limit_kmh * v.driver_factor, v.spec.max_speed_kmh);
      target *= 1.0 - rush * (stretch.urban ? 0.55 : 0.40);
      switch (wx_here.condition) {
        case WeatherCondition::kRain:
          target *= wx_here.precipitation_mm_h > 4 ? 0.80 : 0.90;
          break;
        case WeatherCondition::kSnow:
          target *= 0.55;
          break;
        case WeatherCondition::kFog:
          target *= 0.70;
          break;
        default:
          break;
      }
      for (const Incident& inc : incidents_) {
        const double ahead = inc.distance_m - v.distance_m;
        if (ahead >= -50 && ahead <= 2000) {
          target *= (inc.type == IncidentType::kAccident || inc.type == IncidentType::kFire) ? 0.30
                                                                                             : 0.70;
          break;
        }
      }
      v.noise_kmh = 0.9 * v.noise_kmh + 1.2 * v.rng.Normal();
      target = std::max(0.0, target + v.noise_kmh);
      const double accel = 7.2 * tick_s_, brake = 14.4 * tick_s_;  // 2 m/s^2 up, 4 m/s^2 down
      v.speed_kmh += std::clamp(target - v.speed_kmh, -brake, accel);
      v.speed_kmh = std::clamp(v.speed_kmh, 0.0, v.spec.max_speed_kmh);
      const double before = v.distance_m;
      v.distance_m = std::min(route_.length_m(), v.distance_m + v.speed_kmh / 3.6 * tick_s_);
      const RoutePoint p = route_.PointAt(v.distance_m, here.segment);
      v.segment_hint = p.segment;
      const WeatherReading wx =
          weather_.At(p.pos, base_hours + phase_h, base_local_hour + phase_h, rush);
      FormatLocation(p.pos);

      EmitVehicle(vi, ts, p);
      if (count_reached_) break;
      EmitGps(vi, ts, p);
      if (count_reached_) break;
      EmitWeather(vi, ts, wx);
      if (count_reached_) break;

      // Cameras passed during this tick.
      const auto& cams = route_.cameras();
      while (!count_reached_ && v.next_camera < cams.size() &&
             cams[v.next_camera].distance_m <= v.distance_m &&
             cams[v.next_camera].distance_m > before) {
        EmitTraffic(vi, ts, cams[v.next_camera]);
        ++summary_.camera_passes;
        ++v.next_camera;
      }
      while (v.next_camera < cams.size() && cams[v.next_camera].distance_m <= v.distance_m)
        ++v.next_camera;

      // Incidents: ones this vehicle reported that are now over, new ones it passes, and maybe a
      // new one.
      for (Incident& inc : incidents_) {
        if (count_reached_) break;
        if (inc.end <= now_) {
          if (std::find(inc.reporters.begin(), inc.reporters.end(), vi) != inc.reporters.end()) {
            EmitEmergency(vi, ts, inc, NameOf(EmergencyStatus::kResolved));
          }
        } else if (std::abs(inc.distance_m - v.distance_m) <= 1000 &&
                   std::find(inc.reporters.begin(), inc.reporters.end(), vi) ==
                       inc.reporters.end()) {
          inc.reporters.push_back(vi);
          EmitEmergency(vi, ts, inc, NameOf(EmergencyStatus::kActive));
        }
      }
      if (!count_reached_ && v.distance_m < route_.length_m() - 500 &&
          incident_rng_.Bernoulli(incident_p)) {
        RaiseIncident(vi, ts);
      }
      if (v.distance_m >= route_.length_m()) {
        v.arrived = true;
        ++summary_.vehicles_arrived;
      }
    }
    if (options_.count && summary_.TotalGenerated() >= *options_.count) count_reached_ = true;
    // Incidents that ended this tick leave the road once their reporters were told.
    const size_t before = incidents_.size();
    std::erase_if(incidents_, [&](const Incident& inc) { return inc.end <= now_; });
    summary_.incidents_resolved += before - incidents_.size();
  }

  void RaiseIncident(uint32_t vi, EventTime ts) {
    Vehicle& v = vehicles_[vi];
    Incident inc;
    inc.id = "INC-" + NewUuid().substr(0, 8);
    const double u = incident_rng_.Uniform();
    inc.type = u < 0.45   ? IncidentType::kAccident
               : u < 0.65 ? IncidentType::kMedical
               : u < 0.87 ? IncidentType::kPolice
                          : IncidentType::kFire;
    double minutes_lo = 15, minutes_hi = 60;
    switch (inc.type) {
      case IncidentType::kAccident:
        minutes_lo = 20, minutes_hi = 75;
        break;
      case IncidentType::kFire:
        minutes_lo = 30, minutes_hi = 90;
        break;
      case IncidentType::kMedical:
        minutes_lo = 10, minutes_hi = 40;
        break;
      case IncidentType::kPolice:
        minutes_lo = 15, minutes_hi = 60;
        break;
    }
    inc.end =
        now_ + Micros(static_cast<int64_t>(incident_rng_.Uniform(minutes_lo, minutes_hi) * 60e6));
    inc.distance_m = std::min(route_.length_m(), v.distance_m + incident_rng_.Uniform(50, 400));
    const RoutePoint p = route_.PointAt(inc.distance_m, v.segment_hint);
    inc.pos = p.pos;
    const Waypoint& w = route_.SegmentStart(p.segment);
    std::string road(w.road.empty() ? std::string_view("road") : w.road);
    std::string place(w.name);
    const int lanes = 1 + static_cast<int>(incident_rng_.Below(2));
    switch (inc.type) {
      case IncidentType::kAccident:
        inc.description = "Collision on the " + road + " near " + place + ": " +
                          std::to_string(lanes) + (lanes == 1 ? " lane" : " lanes") + " blocked";
        break;
      case IncidentType::kFire:
        inc.description =
            "Vehicle fire on the " + road + " near " + place + ": fire service attending";
        break;
      case IncidentType::kMedical:
        inc.description =
            "Medical emergency on the " + road + " near " + place + ": ambulance on scene";
        break;
      case IncidentType::kPolice:
        inc.description = "Police incident on the " + road + " near " + place + ": expect delays";
        break;
    }
    inc.reporters.push_back(vi);
    ++summary_.incidents_raised;
    incidents_.push_back(std::move(inc));
    EmitEmergency(vi, ts, incidents_.back(), NameOf(EmergencyStatus::kActive));
  }

  // ---- encoding --------------------------------------------------------------------------------

  std::string NewUuid() {
    static constexpr char kHex[] = "0123456789abcdef";
    uint64_t hi = id_rng_.Next(), lo = id_rng_.Next();
    hi = (hi & ~0xf000ULL) | 0x4000ULL;                         // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
    std::string s(36, '-');
    int pos = 0;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) ++pos;
      const uint64_t word = i < 16 ? hi : lo;
      const int shift = 60 - 4 * (i % 16);
      s[static_cast<size_t>(pos++)] = kHex[(word >> shift) & 15];
    }
    return s;
  }

  void WriteUuid(JsonWriter& w) {
    static constexpr char kHex[] = "0123456789abcdef";
    uint64_t hi = id_rng_.Next(), lo = id_rng_.Next();
    hi = (hi & ~0xf000ULL) | 0x4000ULL;
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    char s[38];
    s[0] = '"';
    int pos = 1;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) s[pos++] = '-';
      const uint64_t word = i < 16 ? hi : lo;
      s[pos++] = kHex[(word >> (60 - 4 * (i % 16))) & 15];
    }
    s[37] = '"';
    w.Raw(std::string_view(s, 38));
  }

  void FormatLocation(LatLon p) {
    std::string s;
    s.reserve(32);
    JsonWriter w(&s);
    w.Raw("\"(");
    w.Fixed(p.lat, 6);
    w.Raw(", ");
    w.Fixed(p.lon, 6);
    w.Raw(")\"");
    location_ = std::move(s);
  }

  // Starts an event: counts it, draws its fault, and returns the plan for the encoder. Returns
  // false when --count is reached (the event is not generated).
  bool BeginEvent(Topic topic, FieldPlan* plan) {
    if (options_.count && summary_.TotalGenerated() >= *options_.count) {
      count_reached_ = true;
      return false;
    }
    summary_.generated[static_cast<size_t>(topic)]++;
    fault_ = -1;
    if (!faults_.empty()) {
      double u = fault_rng_.Uniform();
      for (const FaultSpec& f : faults_) {
        if (u < f.rate) {
          fault_ = static_cast<int>(f.kind);
          break;
        }
        u -= f.rate;
      }
      const int fields = static_cast<int>(model::JsonFieldCount(topic));
      if (fault_ == static_cast<int>(FaultKind::kMissingField))
        plan->omit = static_cast<int>(fault_rng_.Below(fields));
      if (fault_ == static_cast<int>(FaultKind::kWrongType))
        plan->wrong = static_cast<int>(fault_rng_.Below(fields));
    }
    event_start_ = arena_.size();
    return true;
  }

  // Finishes the event just encoded at arena_[event_start_..): applies content and delivery faults
  // and queues it for this tick or holds it back.
  void EndEvent(Topic topic, uint32_t vi, EventTime ts) {
    const size_t t = static_cast<size_t>(topic);
    bool json_ok = true;
    bool valid = true;
    if (fault_ >= 0) summary_.faults[static_cast<size_t>(fault_)]++;
    switch (fault_ < 0 ? FaultKind::kLate : static_cast<FaultKind>(fault_)) {
      case FaultKind::kMalformed: {
        const size_t len = arena_.size() - event_start_;
        // Any proper prefix of a JSON object is invalid JSON; keep between a quarter and all but
        // one byte.
        const size_t keep = len / 4 + static_cast<size_t>(fault_rng_.Below(len - 1 - len / 4));
        arena_.resize(event_start_ + keep);
        json_ok = false;
        valid = false;
        break;
      }
      case FaultKind::kOversize: {
        arena_.pop_back();  // the closing brace
        const size_t len = arena_.size() - event_start_;
        arena_.append(",\"padding\":\"");
        const size_t target = options_.oversize_bytes;
        const size_t used = len + 14;
        if (target > used) arena_.append(target - used, 'x');
        arena_.append("\"}");
        valid = false;
        break;
      }
      case FaultKind::kWrongType:
      case FaultKind::kMissingField:
        if (fault_ >= 0) valid = false;
        break;
      default:
        break;
    }
    const size_t len = arena_.size() - event_start_;
    // Held-back messages count too: one of them can carry the run's newest timestamp.
    if (ts > summary_.last_event_time) summary_.last_event_time = ts;
    if (fault_ == static_cast<int>(FaultKind::kLate) ||
        fault_ == static_cast<int>(FaultKind::kReorder)) {
      Micros delay{0};
      for (const FaultSpec& f : faults_) {
        if (static_cast<int>(f.kind) == fault_) delay = f.delay;
      }
      held_.push(
          HeldMessage{ts + delay, held_order_++, topic, vi, arena_.substr(event_start_, len), ts});
      arena_.resize(event_start_);
      return;
    }
    const int copies = fault_ == static_cast<int>(FaultKind::kDuplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      pending_.push_back(Pending{topic, vi, event_start_, len, ts, json_ok, nullptr});
      summary_.emitted[t]++;
      summary_.payload_bytes += len;
      if (valid) summary_.valid[t]++;
    }
  }

  void HandOut(std::vector<Message>* out) const {
    out->reserve(pending_.size());
    for (const Pending& p : pending_) {
      const std::string& buf = p.storage != nullptr ? *p.storage : arena_;
      out->push_back(Message{p.topic, vehicles_[p.vehicle].device_id,
                             std::string_view(buf).substr(p.offset, p.length), p.event_time,
                             p.json_ok});
    }
  }

  // Moves the held-back messages due by `upto` to released_.
  void ReleaseHeld(EventTime upto) {
    while (!held_.empty() && held_.top().release <= upto) {
      released_.push_back(std::move(const_cast<HeldMessage&>(held_.top())));
      held_.pop();
    }
  }

  // Queues this tick's released messages, once, after released_ has stopped growing (pending_ keeps
  // pointers into it).
  void QueueReleased() {
    for (const HeldMessage& h : released_) {
      const size_t t = static_cast<size_t>(h.topic);
      pending_.push_back(
          Pending{h.topic, h.vehicle, 0, h.value.size(), h.event_time, true, &h.value});
      summary_.emitted[t]++;
      summary_.valid[t]++;
      summary_.payload_bytes += h.value.size();
    }
  }

  void Common(ObjectEncoder& e, uint32_t vi) {
    if (e.Key(kIdColumn))
      WriteUuid(e.w());
    else
      (void)id_rng_.Next(), (void)id_rng_.Next();  // keep ids identical with and without faults
    if (e.Key(kDeviceIdColumn)) e.w().PlainString(vehicles_[vi].device_id);
  }

  void EmitVehicle(uint32_t vi, EventTime ts, const RoutePoint& p) {
    FieldPlan plan;
    if (!BeginEvent(Topic::kVehicle, &plan)) return;
    const Vehicle& v = vehicles_[vi];
    ObjectEncoder e(&arena_, plan, Topic::kVehicle);
    Common(e, vi);
    if (e.Key(vehicle_col::kTimestamp)) e.w().PlainString(std::string_view(ts_, kTimestampLength));
    if (e.Key(vehicle_col::kLatitude /* location */)) e.w().Raw(location_);
    if (e.Key(vehicle_col::kSpeed)) e.w().Fixed(v.speed_kmh, 2);
    if (e.Key(vehicle_col::kDirection)) e.w().PlainString(CompassName(p.bearing_deg));
    if (e.Key(vehicle_col::kMake)) e.w().PlainString(v.spec.make);
    if (e.Key(vehicle_col::kModel)) e.w().PlainString(v.spec.model);
    if (e.Key(vehicle_col::kYear)) e.w().Int(v.year);
    if (e.Key(vehicle_col::kFuelType)) e.w().PlainString(v.spec.fuel_type);
    e.End();
    EndEvent(Topic::kVehicle, vi, ts);
  }

  void EmitGps(uint32_t vi, EventTime ts, const RoutePoint& p) {
    FieldPlan plan;
    if (!BeginEvent(Topic::kGps, &plan)) return;
    const Vehicle& v = vehicles_[vi];
    ObjectEncoder e(&arena_, plan, Topic::kGps);
    Common(e, vi);
    if (e.Key(gps_col::kTimestamp)) e.w().PlainString(std::string_view(ts_, kTimestampLength));
    if (e.Key(gps_col::kSpeed)) e.w().Fixed(v.speed_kmh, 2);
    if (e.Key(gps_col::kDirection)) e.w().PlainString(CompassName(p.bearing_deg));
    if (e.Key(gps_col::kVehicleType)) e.w().PlainString(v.spec.vehicle_type);
    e.End();
    EndEvent(Topic::kGps, vi, ts);
  }

  void EmitWeather(uint32_t vi, EventTime ts, const WeatherReading& wx) {
    FieldPlan plan;
    if (!BeginEvent(Topic::kWeather, &plan)) return;
    ObjectEncoder e(&arena_, plan, Topic::kWeather);
    Common(e, vi);
    if (e.Key(weather_col::kLatitude /* location */)) e.w().Raw(location_);
    if (e.Key(weather_col::kTimestamp)) e.w().PlainString(std::string_view(ts_, kTimestampLength));
    if (e.Key(weather_col::kTemperature)) e.w().Fixed(wx.temperature_c, 1);
    if (e.Key(weather_col::kWeatherCondition))
      e.w().PlainString(WeatherConditionName(wx.condition));
    if (e.Key(weather_col::kPrecipitation)) e.w().Fixed(wx.precipitation_mm_h, 1);
    if (e.Key(weather_col::kWindSpeed)) e.w().Fixed(wx.wind_speed_kmh, 1);
    if (e.Key(weather_col::kHumidity)) e.w().Int(wx.humidity_pct);
    if (e.Key(weather_col::kAirQualityIndex)) e.w().Int(wx.air_quality_index);
    e.End();
    EndEvent(Topic::kWeather, vi, ts);
  }

  void EmitTraffic(uint32_t vi, EventTime ts, const Camera& cam) {
    FieldPlan plan;
    if (!BeginEvent(Topic::kTraffic, &plan)) return;
    ObjectEncoder e(&arena_, plan, Topic::kTraffic);
    Common(e, vi);
    if (e.Key(traffic_col::kCameraId)) e.w().PlainString(cam.id);
    if (e.Key(traffic_col::kLatitude /* location */)) {
      e.w().Raw("\"(");
      e.w().Fixed(cam.pos.lat, 6);
      e.w().Raw(", ");
      e.w().Fixed(cam.pos.lon, 6);
      e.w().Raw(")\"");
    }
    if (e.Key(traffic_col::kTimestamp)) e.w().PlainString(std::string_view(ts_, kTimestampLength));
    // A stand-in for the camera frame: 48 bytes of image data, base64-encoded (64 characters).
    static constexpr char kB64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char snap[66];
    snap[0] = '"';
    for (int i = 0; i < 64; i += 8) {
      const uint64_t r = id_rng_.Next();
      for (int j = 0; j < 8; ++j) snap[1 + i + j] = kB64[(r >> (6 * j)) & 63];
    }
    snap[65] = '"';
    if (e.Key(traffic_col::kSnapshot)) e.w().Raw(std::string_view(snap, 66));
    e.End();
    EndEvent(Topic::kTraffic, vi, ts);
  }

  void EmitEmergency(uint32_t vi, EventTime ts, const Incident& inc, std::string_view status) {
    FieldPlan plan;
    if (!BeginEvent(Topic::kEmergency, &plan)) return;
    ObjectEncoder e(&arena_, plan, Topic::kEmergency);
    Common(e, vi);
    if (e.Key(emergency_col::kIncidentId)) e.w().PlainString(inc.id);
    if (e.Key(emergency_col::kType)) e.w().PlainString(NameOf(inc.type));
    if (e.Key(emergency_col::kTimestamp))
      e.w().PlainString(std::string_view(ts_, kTimestampLength));
    if (e.Key(emergency_col::kLatitude /* location */)) {
      e.w().Raw("\"(");
      e.w().Fixed(inc.pos.lat, 6);
      e.w().Raw(", ");
      e.w().Fixed(inc.pos.lon, 6);
      e.w().Raw(")\"");
    }
    if (e.Key(emergency_col::kStatus)) e.w().PlainString(status);
    if (e.Key(emergency_col::kDescription)) e.w().PlainString(inc.description);
    e.End();
    EndEvent(Topic::kEmergency, vi, ts);
  }

  SimulationOptions options_;
  const Route& route_;
  WeatherField weather_;
  Rng id_rng_;        // ids and snapshots
  Rng incident_rng_;  // incidents
  Rng fault_rng_;     // faults only: turning faults on leaves the events themselves unchanged
  double tick_s_;
  std::vector<FaultSpec> faults_;
  std::vector<Vehicle> vehicles_;
  std::vector<Incident> incidents_;  // active
  std::priority_queue<HeldMessage, std::vector<HeldMessage>, std::greater<>> held_;
  uint64_t held_order_ = 0;
  std::vector<HeldMessage> released_;
  std::string arena_;
  std::vector<Pending> pending_;
  std::string location_;
  char ts_[kTimestampLength];
  int fault_ = -1;
  size_t event_start_ = 0;
  uint64_t tick_index_ = 0;
  EventTime now_{};
  bool count_reached_ = false;
  bool finished_ = false;
  SimulationSummary summary_;
};

}  // namespace

Result<std::unique_ptr<Simulator>> Simulator::Create(const SimulationOptions& options) {
  SC_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<Simulator>(new SimulatorImpl(options));
}

}  // namespace smartcity::simulation
