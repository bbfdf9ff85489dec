#include "simulation/simulator.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <queue>
#include <span>
#include <string>
#include <vector>

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
// Mean trip time over the time at the speed limits (lorries and coaches are governed below 70 mph,
// drivers vary, town stretches start and stop, rush hours and weather slow traffic), measured on
// runs of several days without incidents.
constexpr double kNominalTripFactor = 1.21;

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

// Directions of travel. Positions are kept as progress along the vehicle's own direction; the
// route's polyline is addressed from London, so a Birmingham -> London vehicle at progress x is at
// length - x.
constexpr int kLondonToBirmingham = 0;
constexpr int kBirminghamToLondon = 1;

struct Vehicle {
  std::string device_id;
  uint64_t number = 0;  // 1-based, never reused within a run: the deviceId's number
  VehicleSpec spec;
  int year = 0;
  Micros phase{0};  // this device's clock offset within a tick
  int dir = kLondonToBirmingham;
  double progress_m = 0;  // along the route in its direction of travel, from where it entered
  double speed_kmh = 0;
  double driver_factor = 1;  // how this driver treats the limit
  double noise_kmh = 0;      // AR(1) speed noise
  size_t segment_hint = 0;
  size_t next_camera = 0;       // into the direction's camera order
  bool arrived = false;         // left at the far end (released at the start of the next tick)
  uint64_t incidents_seen = 0;  // incidents raised before its last look (their seq is lower)
  EventTime entered{};
  Rng rng;
};

struct Incident {
  std::string id;
  uint64_t seq;  // raise order
  int dir;       // the carriageway: only vehicles driving this way see it
  IncidentType type;
  double distance_m;  // from London
  LatLon pos;
  EventTime end;
  std::string description;
  std::vector<uint64_t> reporters;  // numbers of the vehicles that sent an Active event
};

// Incidents of one carriageway by distance from London, with what a passing vehicle needs to know
// (so that looking one up touches only the index).
struct IndexEntry {
  double distance_m;
  uint32_t pos;         // in incidents_
  bool severe = false;  // accident or fire: traffic slows more
  uint64_t seq = 0;
  EventTime end{};
  bool operator<(const IndexEntry& o) const {
    return distance_m != o.distance_m ? distance_m < o.distance_m : pos < o.pos;
  }
};

// An incident a vehicle tells about in this tick.
struct Notice {
  uint64_t seq;
  uint32_t pos;
  bool resolved;
};

// A reporter of an incident that ended in this tick.
struct EndingReport {
  uint64_t number;
  uint32_t pos;
  bool operator<(const EndingReport& o) const {
    return number != o.number ? number < o.number : pos < o.pos;
  }
};

// A camera in the order a vehicle of one direction passes it.
struct CameraStop {
  double progress_m;
  uint32_t camera;
};

struct HeldMessage {
  EventTime release;
  uint64_t order;  // FIFO among equal release times
  Topic topic;
  std::string key;  // a copy: the vehicle may have left the road when this goes out
  std::string value;
  EventTime event_time;
  bool operator>(const HeldMessage& o) const {
    return release != o.release ? release > o.release : order > o.order;
  }
};

// One message of the current tick: its bytes live in arena_ (or in a released HeldMessage), its key
// in a vehicle of vehicles_ (or that HeldMessage).
struct Pending {
  Topic topic;
  std::string_view key;
  size_t offset;
  size_t length;
  EventTime event_time;
  bool json_ok;
  const std::string* storage;  // nullptr: arena_
};

double Smoothstep(double t) {
  t = std::clamp(t, 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

// Vehicles entering the corridor per unit of time, by UK local hour, before normalisation to a
// daily mean of 1: quiet nights (0.15 from midnight to 05:00), a day level of 1 from 07:00 to 19:30
// falling to the night level by 23:00, and on weekdays the rush hours (07-09, 17-19, ramping over
// 30 minutes like RushHourIntensity) on top.
double RawDailyProfile(double hour, bool weekday) {
  const double up = Smoothstep((hour - 5.0) / 2.0);
  const double down = Smoothstep((23.0 - hour) / 3.5);
  double rate = 0.15 + 0.85 * std::min(up, down);
  if (weekday) {
    auto window = [hour](double from, double to) {
      if (hour < from - 0.5 || hour > to + 0.5) return 0.0;
      if (hour < from) return Smoothstep((hour - (from - 0.5)) / 0.5);
      if (hour > to) return Smoothstep(((to + 0.5) - hour) / 0.5);
      return 1.0;
    };
    rate += std::max(1.0 * window(7, 9), 0.9 * window(17, 19));
  }
  return rate;
}

class SimulatorImpl final : public Simulator {
 public:
  explicit SimulatorImpl(const SimulationOptions& o)
      : options_(o),
        route_(Route::LondonToBirmingham()),
        weather_(HashMix(o.seed, 0x77)),
        id_rng_(HashMix(o.seed, 0x1d)),
        incident_rng_(HashMix(o.seed, 0x1c)),
        fault_rng_(HashMix(o.seed, 0xfa)),
        fleet_rng_(HashMix(o.seed, 0xf1)),
        entry_rng_(HashMix(o.seed, 0xe7)),
        tick_s_(std::chrono::duration<double>(o.tick).count()),
        steady_(o.mode == SimulationMode::kSteady),
        incident_id_salt_(static_cast<uint32_t>(HashMix(o.seed, 0x1d1d))) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(std::chrono::floor<std::chrono::days>(o.start).time_since_epoch().count(), &y, &m,
                  &d);
    latest_year_ = static_cast<int>(y);
    id_width_ = std::max<int>(4, static_cast<int>(std::to_string(o.vehicles).size()));
    const auto& cams = route_.cameras();
    for (size_t i = 0; i < cams.size(); ++i) {
      const size_t back = cams.size() - 1 - i;
      camera_order_[kLondonToBirmingham].push_back(
          CameraStop{cams[i].distance_m, static_cast<uint32_t>(i)});
      camera_order_[kBirminghamToLondon].push_back(
          CameraStop{route_.length_m() - cams[back].distance_m, static_cast<uint32_t>(back)});
    }
    if (steady_) {
      SetUpSteadyState();
    } else {
      vehicles_.resize(static_cast<size_t>(o.vehicles));
      for (int i = 0; i < o.vehicles; ++i) {
        Vehicle& v = vehicles_[static_cast<size_t>(i)];
        v.number = static_cast<uint64_t>(i) + 1;
        v.device_id = DeviceId(v.number);
        v.spec = DrawVehicle(fleet_rng_, latest_year_, &v.year);
        v.phase = Micros(
            static_cast<int64_t>(fleet_rng_.Uniform() * static_cast<double>(o.tick.count())));
        // The first vehicle sets off from central London; the rest are already on their way.
        v.progress_m = i == 0 ? 0 : fleet_rng_.Uniform(0, 0.7) * route_.length_m();
        v.driver_factor = fleet_rng_.Uniform(0.92, 1.08);
        v.rng = Rng(HashMix(o.seed, 0xe0, static_cast<uint64_t>(i)));
        v.entered = o.start;
        PlaceOnRoute(v);
      }
      summary_.vehicles_entered = static_cast<uint64_t>(o.vehicles);
    }
    last_number_ = summary_.vehicles_entered;
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
    // Vehicles that left in the last tick are released now that its messages (whose keys point
    // into them) are no longer in use.
    if (vehicles_left_) {
      std::erase_if(vehicles_, [](const Vehicle& v) { return v.arrived; });
      vehicles_left_ = false;
    }
    if (steady_) AdmitEntries();
    GenerateTick();
    ++tick_index_;
    ++summary_.ticks;
    summary_.vehicles_on_road = summary_.vehicles_entered - summary_.vehicles_arrived;
    const bool all_arrived =
        !steady_ && summary_.vehicles_arrived == static_cast<uint64_t>(options_.vehicles);
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
  SimulatorState state() const override {
    SimulatorState s;
    s.vehicles = vehicles_.size();
    s.vehicle_slots = vehicles_.capacity();
    s.incidents = incidents_.size();
    for (const Incident& inc : incidents_) s.incident_reporters += inc.reporters.size();
    s.held_back = held_.size();
    return s;
  }

 private:
  // ---- the fleet -------------------------------------------------------------------------------

  std::string DeviceId(uint64_t number) const {
    std::string digits = std::to_string(number);
    const size_t width = static_cast<size_t>(id_width_);
    if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
    return "vehicle-" + digits;
  }

  // Distance from London of where the vehicle is.
  double Along(const Vehicle& v) const {
    return v.dir == kLondonToBirmingham ? v.progress_m : route_.length_m() - v.progress_m;
  }

  // Sets the derived state of a vehicle just put at progress_m: segment, speed, next camera.
  void PlaceOnRoute(Vehicle& v) {
    const RoutePoint p = route_.PointAt(Along(v));
    v.segment_hint = p.segment;
    v.speed_kmh =
        std::min(route_.SegmentStart(p.segment).speed_limit_kmh, v.spec.max_speed_kmh) * 0.9;
    const auto& stops = camera_order_[v.dir];
    while (v.next_camera < stops.size() && stops[v.next_camera].progress_m <= v.progress_m) {
      ++v.next_camera;
    }
  }

  // A new vehicle at the start of its trip in direction `dir` (kSteady).
  Vehicle& AddVehicle(int dir, EventTime entered) {
    Vehicle& v = vehicles_.emplace_back();
    v.number = ++last_number_;
    v.device_id = DeviceId(v.number);
    v.spec = DrawVehicle(fleet_rng_, latest_year_, &v.year);
    v.driver_factor = fleet_rng_.Uniform(0.92, 1.08);
    v.rng = Rng(HashMix(options_.seed, 0xe0, v.number - 1));
    v.dir = dir;
    v.entered = entered;
    ++summary_.vehicles_entered;
    return v;
  }

  // Relative entry rate at `t`, with a daily mean of 1 (weekdays and weekends alike).
  double DailyProfile(EventTime t) const {
    int weekday = 0;
    const double hour = UkLocalHour(t, &weekday);
    const bool work = weekday < 5;
    return RawDailyProfile(hour, work) / profile_mean_[work ? 0 : 1];
  }

  // Vehicles entering per second at one end at `t`: by Little's law, `vehicles` on the road on
  // average needs vehicles / trip time entries per second, half at each end. The trip time is the
  // mean without incidents: the entry rate does not depend on what happens on the road, so
  // incidents hold more vehicles on the road, as on a real motorway.
  double EntryRatePerEnd(EventTime t) const {
    return static_cast<double>(options_.vehicles) * DailyProfile(t) / trip_s_ / 2.0;
  }

  // Time to the next entry after `t` at one end (exponential: entries are a Poisson process whose
  // rate follows the daily profile).
  Micros EntryGap(EventTime t) {
    const double u = entry_rng_.Uniform();
    const double gap_s = -std::log1p(-u) / EntryRatePerEnd(t);
    return Micros(std::max<int64_t>(1, std::llround(std::min(gap_s, 86'400.0 * 365) * 1e6)));
  }

  // The mean time of a whole trip without incidents.
  double NominalTripSeconds() const {
    double s = 0;
    const auto& w = route_.waypoints();
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      s += HaversineMetres(w[i].pos, w[i + 1].pos) / (w[i].speed_limit_kmh / 3.6);
    }
    return s * kNominalTripFactor;
  }

  // The corridor at the start: as if it had been running all along. Every vehicle that entered in
  // the last mean trip time (at the profile's rate) is on its way, as far along as its time on the
  // road.
  void SetUpSteadyState() {
    for (int work = 0; work < 2; ++work) {
      double sum = 0;
      for (int k = 0; k < 1440; ++k) sum += RawDailyProfile((k + 0.5) / 60.0, work == 0);
      profile_mean_[work] = sum / 1440.0;
    }
    trip_s_ = NominalTripSeconds();
    const auto minute = std::chrono::minutes(1);
    const int minutes = static_cast<int>(std::ceil(trip_s_ / 60.0));
    std::vector<double> cumulative(static_cast<size_t>(minutes));
    double total = 0;
    for (int k = 0; k < minutes; ++k) {
      total += EntryRatePerEnd(options_.start - minute * k - std::chrono::seconds(30)) * 60.0;
      cumulative[static_cast<size_t>(k)] = total;
    }
    struct Start {
      EventTime entered;
      int dir;
    };
    std::vector<Start> starts;
    for (int dir : {kLondonToBirmingham, kBirminghamToLondon}) {
      const int64_t n = std::llround(total);
      for (int64_t j = 0; j < n; ++j) {
        const double x = entry_rng_.Uniform() * total;
        const size_t k = static_cast<size_t>(
            std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin());
        const double ago_min =
            static_cast<double>(std::min(k, cumulative.size() - 1)) + entry_rng_.Uniform();
        starts.push_back(
            Start{options_.start - Micros(static_cast<int64_t>(ago_min * 60e6)) - Micros(1), dir});
      }
    }
    // Numbered in the order they entered.
    std::stable_sort(starts.begin(), starts.end(),
                     [](const Start& a, const Start& b) { return a.entered < b.entered; });
    vehicles_.reserve(starts.size());
    for (const Start& st : starts) {
      Vehicle& v = AddVehicle(st.dir, st.entered);
      v.phase = Micros(
          static_cast<int64_t>(fleet_rng_.Uniform() * static_cast<double>(options_.tick.count())));
      const double on_road_s = std::chrono::duration<double>(options_.start - st.entered).count();
      v.progress_m = std::min(route_.length_m() - 1.0, route_.length_m() * on_road_s / trip_s_);
      PlaceOnRoute(v);
    }
    for (int dir : {kLondonToBirmingham, kBirminghamToLondon})
      next_entry_[dir] = options_.start + EntryGap(options_.start);
  }

  // Vehicles entering during this tick, at either end, in the order they enter; each keeps the
  // moment it entered as its clock phase.
  void AdmitEntries() {
    const EventTime tick_end = now_ + options_.tick;
    for (;;) {
      const int dir = next_entry_[kBirminghamToLondon] < next_entry_[kLondonToBirmingham]
                          ? kBirminghamToLondon
                          : kLondonToBirmingham;
      const EventTime at = next_entry_[dir];
      if (at >= tick_end) break;
      Vehicle& v = AddVehicle(dir, at);
      v.phase = at - now_;
      PlaceOnRoute(v);
      next_entry_[dir] = at + EntryGap(at);
    }
  }

  // ---- one tick --------------------------------------------------------------------------------

  void GenerateTick() {
    const double base_hours =
        static_cast<double>(now_.time_since_epoch().count()) / static_cast<double>(kMicrosPerHour);
    const double base_local_hour = UkLocalHour(now_, nullptr);
    const double rush = RushHourIntensity(now_);
    const double incident_p = options_.incidents_per_vehicle_hour * tick_s_ / 3600.0;
    const double length = route_.length_m();
    CollectEndingReports();
    size_t ending = 0;  // cursor into ending_: vehicles come in number order
    for (uint32_t vi = 0; vi < vehicles_.size() && !count_reached_; ++vi) {
      Vehicle& v = vehicles_[vi];
      if (v.arrived) continue;
      const EventTime ts = now_ + v.phase;
      const double phase_h =
          static_cast<double>(v.phase.count()) / static_cast<double>(kMicrosPerHour);
      FormatTimestamp(ts, ts_);

      // Drive: the weather and incidents where the vehicle is now set its target speed for this
      // tick.
      const double along_before = Along(v);
      RoutePoint here = route_.PointAt(along_before, v.segment_hint);
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
      if (const IndexEntry* inc = IncidentAhead(v.dir, along_before)) {
        target *= inc->severe ? 0.30 : 0.70;
      }
      v.noise_kmh = 0.9 * v.noise_kmh + 1.2 * v.rng.Normal();
      target = std::max(0.0, target + v.noise_kmh);
      const double accel = 7.2 * tick_s_, brake = 14.4 * tick_s_;  // 2 m/s^2 up, 4 m/s^2 down
      v.speed_kmh += std::clamp(target - v.speed_kmh, -brake, accel);
      v.speed_kmh = std::clamp(v.speed_kmh, 0.0, v.spec.max_speed_kmh);
      const double before = v.progress_m;
      v.progress_m = std::min(length, v.progress_m + v.speed_kmh / 3.6 * tick_s_);
      const double along = Along(v);
      const RoutePoint p = route_.PointAt(along, here.segment);
      v.segment_hint = p.segment;
      const double bearing =
          v.dir == kLondonToBirmingham ? p.bearing_deg : std::fmod(p.bearing_deg + 180.0, 360.0);
      const WeatherReading wx =
          weather_.At(p.pos, base_hours + phase_h, base_local_hour + phase_h, rush);
      FormatLocation(p.pos);

      EmitVehicle(vi, ts, bearing);
      if (count_reached_) break;
      EmitGps(vi, ts, bearing);
      if (count_reached_) break;
      EmitWeather(vi, ts, wx);
      if (count_reached_) break;

      // Cameras passed during this tick.
      const auto& stops = camera_order_[v.dir];
      while (!count_reached_ && v.next_camera < stops.size() &&
             stops[v.next_camera].progress_m <= v.progress_m &&
             stops[v.next_camera].progress_m > before) {
        EmitTraffic(vi, ts, route_.cameras()[stops[v.next_camera].camera]);
        ++summary_.camera_passes;
        ++v.next_camera;
      }
      while (v.next_camera < stops.size() && stops[v.next_camera].progress_m <= v.progress_m)
        ++v.next_camera;

      // Incidents: ones this vehicle reported that are now over, new ones it passes (in the order
      // they were raised), and maybe a new one.
      while (ending < ending_.size() && ending_[ending].number < v.number) ++ending;
      TellIncidents(vi, ts, along_before, along, ending);
      if (!count_reached_ && v.progress_m < length - 500 && incident_rng_.Bernoulli(incident_p)) {
        RaiseIncident(vi, ts);
      }
      v.incidents_seen = next_incident_seq_;
      if (v.progress_m >= length) {
        v.arrived = true;
        vehicles_left_ = true;
        ++summary_.vehicles_arrived;
      }
    }
    if (options_.count && summary_.TotalGenerated() >= *options_.count) count_reached_ = true;
    // Incidents that ended this tick leave the road once their reporters were told.
    const size_t before = incidents_.size();
    std::erase_if(incidents_, [&](const Incident& inc) { return inc.end <= now_; });
    if (incidents_.size() != before) {
      summary_.incidents_resolved += before - incidents_.size();
      RebuildIncidentIndex();
    }
  }

  // The first-raised incident on carriageway `dir` that lies between 50 m behind and 2 km ahead of
  // a vehicle at `along` (from London), if any.
  const IndexEntry* IncidentAhead(int dir, double along) const {
    const auto& index = by_distance_[dir];
    if (index.empty()) return nullptr;
    // A slightly wider window than the test below, which decides (in the vehicle's direction).
    const double lo = dir == kLondonToBirmingham ? along - 51 : along - 2001;
    const double hi = dir == kLondonToBirmingham ? along + 2001 : along + 51;
    const IndexEntry* first = nullptr;
    for (auto it = std::lower_bound(index.begin(), index.end(), IndexEntry{lo, 0});
         it != index.end() && it->distance_m <= hi; ++it) {
      const double ahead =
          dir == kLondonToBirmingham ? it->distance_m - along : along - it->distance_m;
      if (ahead >= -50 && ahead <= 2000 && (first == nullptr || it->seq < first->seq)) first = &*it;
    }
    return first;
  }

  // The reporters of the incidents that end in this tick, by vehicle number.
  void CollectEndingReports() {
    ending_.clear();
    for (size_t pos = 0; pos < incidents_.size(); ++pos) {
      const Incident& inc = incidents_[pos];
      if (inc.end > now_) continue;
      for (uint64_t number : inc.reporters)
        ending_.push_back(EndingReport{number, static_cast<uint32_t>(pos)});
    }
    std::sort(ending_.begin(), ending_.end());
  }

  // Emits vehicle vi's emergency_data for existing incidents, in the order they were raised:
  // Resolved for those it reported that have ended (from ending_[ending..]), Active for those on
  // its carriageway within 1 km that it has not reported yet. Vehicles only move forwards, so an
  // incident it has not reported is one raised since its last look, or one that the front of its
  // 1 km window reached in this tick (it was more than 1 km ahead at `along_before`): no list of
  // who reported what needs searching.
  void TellIncidents(uint32_t vi, EventTime ts, double along_before, double along, size_t ending) {
    const Vehicle& v = vehicles_[vi];
    notices_.clear();
    for (size_t k = ending; k < ending_.size() && ending_[k].number == v.number; ++k) {
      notices_.push_back(Notice{incidents_[ending_[k].pos].seq, ending_[k].pos, true});
    }
    const bool forward = v.dir == kLondonToBirmingham;
    // Raised since its last look (incidents_ is in raise order).
    for (size_t pos = FirstIncidentFrom(v.incidents_seen); pos < incidents_.size(); ++pos) {
      const Incident& inc = incidents_[pos];
      if (inc.dir == v.dir && inc.end > now_ && std::abs(inc.distance_m - along) <= 1000)
        notices_.push_back(Notice{inc.seq, static_cast<uint32_t>(pos), false});
    }
    // Reached by the front of its window in this tick.
    const auto& index = by_distance_[v.dir];
    const double lo = forward ? along_before + 999 : along - 1001;
    const double hi = forward ? along + 1001 : along_before - 999;
    if (!index.empty() && lo <= hi) {
      for (auto it = std::lower_bound(index.begin(), index.end(), IndexEntry{lo, 0});
           it != index.end() && it->distance_m <= hi; ++it) {
        if (it->seq >= v.incidents_seen || it->end <= now_) continue;
        const double ahead_before =
            forward ? it->distance_m - along_before : along_before - it->distance_m;
        if (ahead_before > 1000 && std::abs(it->distance_m - along) <= 1000)
          notices_.push_back(Notice{it->seq, it->pos, false});
      }
    }
    if (notices_.size() > 1) {
      std::sort(notices_.begin(), notices_.end(),
                [](const Notice& a, const Notice& b) { return a.seq < b.seq; });
    }
    for (const Notice& n : notices_) {
      if (count_reached_) break;
      Incident& inc = incidents_[n.pos];
      if (n.resolved) {
        EmitEmergency(vi, ts, inc, NameOf(EmergencyStatus::kResolved));
      } else {
        inc.reporters.push_back(v.number);
        EmitEmergency(vi, ts, inc, NameOf(EmergencyStatus::kActive));
      }
    }
  }

  // Position in incidents_ of the first incident raised as number `seq` or later.
  size_t FirstIncidentFrom(uint64_t seq) const {
    if (incidents_.empty() || incidents_.back().seq < seq) return incidents_.size();
    return static_cast<size_t>(
        std::lower_bound(incidents_.begin(), incidents_.end(), seq,
                         [](const Incident& inc, uint64_t s) { return inc.seq < s; }) -
        incidents_.begin());
  }

  static IndexEntry EntryOf(const Incident& inc, size_t pos) {
    return IndexEntry{inc.distance_m, static_cast<uint32_t>(pos),
                      inc.type == IncidentType::kAccident || inc.type == IncidentType::kFire,
                      inc.seq, inc.end};
  }

  void RebuildIncidentIndex() {
    for (auto& index : by_distance_) index.clear();
    for (size_t pos = 0; pos < incidents_.size(); ++pos) {
      by_distance_[incidents_[pos].dir].push_back(EntryOf(incidents_[pos], pos));
    }
    for (auto& index : by_distance_) std::sort(index.begin(), index.end());
  }

  // kSteady incident ids: "INC-" and 8 hex digits of a bijection of the raise counter, so no two
  // incidents of a run share an id (within 2^32 incidents). kOneTrip keeps its random ids.
  std::string SteadyIncidentId(uint64_t seq) const {
    uint32_t x = static_cast<uint32_t>(seq) ^ incident_id_salt_;
    x *= 0x9e3779b1u;
    x ^= x >> 15;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    char buf[16];
    std::snprintf(buf, sizeof buf, "INC-%08x", x);
    return buf;
  }

  void RaiseIncident(uint32_t vi, EventTime ts) {
    Vehicle& v = vehicles_[vi];
    Incident inc;
    inc.seq = next_incident_seq_++;
    inc.dir = v.dir;
    inc.id = steady_ ? SteadyIncidentId(inc.seq) : "INC-" + NewUuid().substr(0, 8);
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
    // A little ahead of the vehicle, on its carriageway.
    const double along = Along(v);
    inc.distance_m = v.dir == kLondonToBirmingham
                         ? std::min(route_.length_m(), along + incident_rng_.Uniform(50, 400))
                         : std::max(0.0, along - incident_rng_.Uniform(50, 400));
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
    inc.reporters.push_back(v.number);
    ++summary_.incidents_raised;
    auto& index = by_distance_[inc.dir];
    const IndexEntry entry = EntryOf(inc, incidents_.size());
    index.insert(std::upper_bound(index.begin(), index.end(), entry), entry);
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
      held_.push(HeldMessage{ts + delay, held_order_++, topic, vehicles_[vi].device_id,
                             arena_.substr(event_start_, len), ts});
      arena_.resize(event_start_);
      return;
    }
    const int copies = fault_ == static_cast<int>(FaultKind::kDuplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      pending_.push_back(
          Pending{topic, vehicles_[vi].device_id, event_start_, len, ts, json_ok, nullptr});
      summary_.emitted[t]++;
      summary_.payload_bytes += len;
      if (valid) summary_.valid[t]++;
    }
  }

  void HandOut(std::vector<Message>* out) const {
    out->reserve(pending_.size());
    for (const Pending& p : pending_) {
      const std::string& buf = p.storage != nullptr ? *p.storage : arena_;
      out->push_back(Message{p.topic, p.key, std::string_view(buf).substr(p.offset, p.length),
                             p.event_time, p.json_ok});
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
      pending_.push_back(Pending{h.topic, h.key, 0, h.value.size(), h.event_time, true, &h.value});
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

  void EmitVehicle(uint32_t vi, EventTime ts, double bearing) {
    FieldPlan plan;
    if (!BeginEvent(Topic::kVehicle, &plan)) return;
    const Vehicle& v = vehicles_[vi];
    ObjectEncoder e(&arena_, plan, Topic::kVehicle);
    Common(e, vi);
    if (e.Key(vehicle_col::kTimestamp)) e.w().PlainString(std::string_view(ts_, kTimestampLength));
    if (e.Key(vehicle_col::kLatitude /* location */)) e.w().Raw(location_);
    if (e.Key(vehicle_col::kSpeed)) e.w().Fixed(v.speed_kmh, 2);
    if (e.Key(vehicle_col::kDirection)) e.w().PlainString(CompassName(bearing));
    if (e.Key(vehicle_col::kMake)) e.w().PlainString(v.spec.make);
    if (e.Key(vehicle_col::kModel)) e.w().PlainString(v.spec.model);
    if (e.Key(vehicle_col::kYear)) e.w().Int(v.year);
    if (e.Key(vehicle_col::kFuelType)) e.w().PlainString(v.spec.fuel_type);
    e.End();
    EndEvent(Topic::kVehicle, vi, ts);
  }

  void EmitGps(uint32_t vi, EventTime ts, double bearing) {
    FieldPlan plan;
    if (!BeginEvent(Topic::kGps, &plan)) return;
    const Vehicle& v = vehicles_[vi];
    ObjectEncoder e(&arena_, plan, Topic::kGps);
    Common(e, vi);
    if (e.Key(gps_col::kTimestamp)) e.w().PlainString(std::string_view(ts_, kTimestampLength));
    if (e.Key(gps_col::kSpeed)) e.w().Fixed(v.speed_kmh, 2);
    if (e.Key(gps_col::kDirection)) e.w().PlainString(CompassName(bearing));
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
  Rng fleet_rng_;     // vehicle catalogue draws, clock phases, drivers
  Rng entry_rng_;     // kSteady: entry times
  double tick_s_;
  bool steady_;
  uint32_t incident_id_salt_;
  int latest_year_ = 0;
  int id_width_ = 4;
  std::vector<FaultSpec> faults_;
  // On the road, in number order (those that entered later come later); a vehicle that arrived
  // stays until the start of the next tick.
  std::vector<Vehicle> vehicles_;
  uint64_t last_number_ = 0;
  bool vehicles_left_ = false;
  std::array<std::vector<CameraStop>, 2> camera_order_;  // per direction
  // kSteady: the next entry at each end, the daily profile's means, the mean trip time.
  std::array<EventTime, 2> next_entry_{};
  std::array<double, 2> profile_mean_{1, 1};  // weekday, weekend
  double trip_s_ = 0;
  std::vector<Incident> incidents_;  // not yet resolved, in the order they were raised
  uint64_t next_incident_seq_ = 0;
  std::array<std::vector<IndexEntry>, 2> by_distance_;  // per carriageway
  std::vector<EndingReport> ending_;                    // this tick's
  std::vector<Notice> notices_;                         // one vehicle's, reused
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
