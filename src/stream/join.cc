#include "stream/join.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "stream/state_codec.h"
#include "stream/tables.h"

namespace smartcity::stream {

namespace {

constexpr uint32_t kJoinMagic = 0x4e4a4353;  // "SCJN"
constexpr uint32_t kJoinVersion = 1;

struct VehicleRow {
  int64_t ts;
  double latitude;
  double longitude;
  double speed;
  uint32_t direction;  // interned
  int32_t partition;
  int64_t offset;
  bool has_emergency;  // some emergency matched it: no NULL rows for it
};

struct WeatherRow {
  int64_t ts;
  double temperature;
  double precipitation;
  double wind_speed;
  int32_t humidity;
  int32_t air_quality_index;
  uint32_t condition;  // interned
  int32_t partition;
  int64_t offset;
};

struct EmergencyRow {
  int64_t ts;
  uint32_t type;    // interned
  uint32_t status;  // interned
  std::string incident_id;
  int32_t partition;
  int64_t offset;
};

// Rows of one input of one device, ordered by event time (stable: equal times keep arrival order).
// Records arrive nearly in order, so insertion is an append plus a short shift; expired rows leave
// from the front. Storage is a vector with a moving head, compacted when the dead prefix dominates.
template <typename Row>
class TimeBuffer {
 public:
  size_t Insert(Row row) {
    rows_.push_back(std::move(row));
    size_t i = rows_.size() - 1;
    while (i > head_ && rows_[i - 1].ts > rows_[i].ts) {
      std::swap(rows_[i - 1], rows_[i]);
      --i;
    }
    return i;
  }
  // Indices [first, second) of the rows with lo <= ts <= hi.
  std::pair<size_t, size_t> Range(int64_t lo, int64_t hi) const {
    auto begin = rows_.begin() + static_cast<ptrdiff_t>(head_);
    auto first =
        std::lower_bound(begin, rows_.end(), lo, [](const Row& r, int64_t t) { return r.ts < t; });
    auto last =
        std::upper_bound(first, rows_.end(), hi, [](int64_t t, const Row& r) { return t < r.ts; });
    return {static_cast<size_t>(first - rows_.begin()), static_cast<size_t>(last - rows_.begin())};
  }
  Row& operator[](size_t i) { return rows_[i]; }
  const Row& operator[](size_t i) const { return rows_[i]; }
  size_t head() const { return head_; }
  size_t end() const { return rows_.size(); }
  bool empty() const { return head_ == rows_.size(); }
  size_t size() const { return rows_.size() - head_; }
  const Row& front() const { return rows_[head_]; }
  void PopFront() {
    ++head_;
    if (head_ == rows_.size()) {
      Clear();
    } else if (head_ >= 64 && head_ * 2 >= rows_.size()) {
      rows_.erase(rows_.begin(), rows_.begin() + static_cast<ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  // An emptied buffer gives back what it grew to: a device's buffers empty when it falls silent (a
  // vehicle that left the city), and kept, their capacity would add up over every device the run
  // has seen. An active device's buffers hold the rows above the watermark and do not empty.
  void Clear() {
    if (rows_.capacity() > kKeptCapacity)
      std::vector<Row>().swap(rows_);
    else
      rows_.clear();
    head_ = 0;
  }
  void Append(Row row) { rows_.push_back(std::move(row)); }  // restore: rows come in stored order

 private:
  static constexpr size_t kKeptCapacity = 64;
  std::vector<Row> rows_;
  size_t head_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

using StringIndex = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

struct Device {
  std::string id;
  TimeBuffer<VehicleRow> vehicles;
  TimeBuffer<WeatherRow> weather;
  TimeBuffer<EmergencyRow> emergencies;
};

}  // namespace

struct EventTimeJoin::State {
  std::vector<std::unique_ptr<Device>>
      devices;  // by interned index: iteration order is deterministic
  StringIndex device_index;
  // Small vocabularies (direction, weather condition, emergency type and status) held as codes.
  std::vector<std::string> strings;
  StringIndex string_index;
  DateColumnWriter date;
  std::array<size_t, kJoinInputCount> rows{};

  Device& FindDevice(std::string_view id) {
    auto it = device_index.find(id);
    if (it != device_index.end()) return *devices[it->second];
    const uint32_t index = static_cast<uint32_t>(devices.size());
    devices.push_back(std::make_unique<Device>());
    devices.back()->id = std::string(id);
    device_index.emplace(devices.back()->id, index);
    return *devices.back();
  }
  // Devices with no rows left are forgotten once they are the majority of a large table, so that a
  // stream of ever-new deviceIds cannot grow memory without bound. Order is kept (output order
  // depends on it) and pruning depends only on the state, so replays stay identical.
  void PruneIdleDevices() {
    static constexpr size_t kMinDevicesToPrune = 1024;
    if (devices.size() < kMinDevicesToPrune) return;
    size_t empty = 0;
    for (const auto& d : devices)
      empty += d->vehicles.empty() && d->weather.empty() && d->emergencies.empty();
    if (empty * 2 < devices.size()) return;
    std::erase_if(devices, [](const std::unique_ptr<Device>& d) {
      return d->vehicles.empty() && d->weather.empty() && d->emergencies.empty();
    });
    device_index.clear();
    for (uint32_t i = 0; i < devices.size(); ++i) device_index.emplace(devices[i]->id, i);
  }
  uint32_t Intern(std::string_view s) {
    auto it = string_index.find(s);
    if (it != string_index.end()) return it->second;
    const uint32_t code = static_cast<uint32_t>(strings.size());
    strings.emplace_back(s);
    string_index.emplace(strings.back(), code);
    return code;
  }
};

namespace {

void Emit(const Device& d, const VehicleRow& v, const WeatherRow& w, const EmergencyRow* e,
          const std::vector<std::string>& strings, DateColumnWriter* date, RecordBatch* out) {
  using namespace enriched_col;
  out->column(kDeviceId).AppendString(d.id);
  out->column(kTimestamp).AppendInt64(v.ts);
  out->column(kLatitude).AppendDouble(v.latitude);
  out->column(kLongitude).AppendDouble(v.longitude);
  out->column(kSpeed).AppendDouble(v.speed);
  out->column(kDirection).AppendString(strings[v.direction]);
  out->column(kTemperature).AppendDouble(w.temperature);
  out->column(kWeatherCondition).AppendString(strings[w.condition]);
  out->column(kPrecipitation).AppendDouble(w.precipitation);
  out->column(kWindSpeed).AppendDouble(w.wind_speed);
  out->column(kHumidity).AppendInt32(w.humidity);
  out->column(kAirQualityIndex).AppendInt32(w.air_quality_index);
  if (e != nullptr) {
    out->column(kEmergencyType).AppendString(strings[e->type]);
    out->column(kEmergencyStatus).AppendString(strings[e->status]);
    out->column(kIncidentId).AppendString(e->incident_id);
  } else {
    out->column(kEmergencyType).AppendNull();
    out->column(kEmergencyStatus).AppendNull();
    out->column(kIncidentId).AppendNull();
  }
  out->column(kVehiclePartition).AppendInt32(v.partition);
  out->column(kVehicleOffset).AppendInt64(v.offset);
  out->column(kWeatherPartition).AppendInt32(w.partition);
  out->column(kWeatherOffset).AppendInt64(w.offset);
  if (e != nullptr) {
    out->column(kEmergencyPartition).AppendInt32(e->partition);
    out->column(kEmergencyOffset).AppendInt64(e->offset);
  } else {
    out->column(kEmergencyPartition).AppendNull();
    out->column(kEmergencyOffset).AppendNull();
  }
  date->Append(EventTime(Micros(v.ts)), &out->column(kDate));
}

}  // namespace

EventTimeJoin::EventTimeJoin(JoinOptions options, Clock* clock)
    : options_(options), tracker_(options.watermark, clock), state_(std::make_unique<State>()) {}

EventTimeJoin::~EventTimeJoin() = default;

template <typename OnTime>
void EventTimeJoin::ForEachOnTime(const Column& timestamps, JoinInput input, size_t begin,
                                  size_t end, std::vector<LateRecord>* late, OnTime&& on_time) {
  const size_t in = static_cast<size_t>(input);
  int64_t max_ts = INT64_MIN;
  for (size_t r = begin; r < end; ++r) {
    const int64_t ts = timestamps.GetInt64(r);
    max_ts = std::max(max_ts, ts);
    counters_.records_in[in]++;
    if (tracker_.IsLate(EventTime(Micros(ts)))) {
      counters_.late[in]++;
      late->push_back(LateRecord{input, r, EventTime(Micros(ts)), tracker_.watermark()});
      continue;
    }
    on_time(r, ts);
  }
  if (end > begin) tracker_.Observe(input, EventTime(Micros(max_ts)));
}

void EventTimeJoin::AddVehicles(const RecordBatch& batch, size_t begin, size_t end,
                                RecordBatch* enriched, std::vector<LateRecord>* late) {
  using namespace vehicle_col;
  State& s = *state_;
  const int64_t j = options_.window.count();
  const size_t in = static_cast<size_t>(JoinInput::kVehicle);
  ForEachOnTime(
      batch.column(kTimestamp), JoinInput::kVehicle, begin, end, late, [&](size_t r, int64_t ts) {
        Device& d = s.FindDevice(batch.column(kDeviceId).GetString(r));
        const size_t pos = d.vehicles.Insert(VehicleRow{
            ts, batch.column(kLatitude).GetDouble(r), batch.column(kLongitude).GetDouble(r),
            batch.column(kSpeed).GetDouble(r), s.Intern(batch.column(kDirection).GetString(r)),
            batch.column(kPartition).GetInt32(r), batch.column(kOffset).GetInt64(r), false});
        s.rows[in]++;
        const auto [e_lo, e_hi] = d.emergencies.Range(ts - j, ts + j);
        if (e_lo == e_hi) return;  // NULL rows (if any weather matches) once the watermark passes
        VehicleRow& v = d.vehicles[pos];
        v.has_emergency = true;
        const auto [w_lo, w_hi] = d.weather.Range(ts - j, ts + j);
        for (size_t wi = w_lo; wi < w_hi; ++wi) {
          for (size_t ei = e_lo; ei < e_hi; ++ei) {
            Emit(d, v, d.weather[wi], &d.emergencies[ei], s.strings, &s.date, enriched);
            counters_.rows_matched++;
          }
        }
      });
}

void EventTimeJoin::AddWeather(const RecordBatch& batch, size_t begin, size_t end,
                               RecordBatch* enriched, std::vector<LateRecord>* late) {
  using namespace weather_col;
  State& s = *state_;
  const int64_t j = options_.window.count();
  const size_t in = static_cast<size_t>(JoinInput::kWeather);
  ForEachOnTime(
      batch.column(kTimestamp), JoinInput::kWeather, begin, end, late, [&](size_t r, int64_t ts) {
        Device& d = s.FindDevice(batch.column(kDeviceId).GetString(r));
        const size_t pos = d.weather.Insert(WeatherRow{
            ts, batch.column(kTemperature).GetDouble(r), batch.column(kPrecipitation).GetDouble(r),
            batch.column(kWindSpeed).GetDouble(r), batch.column(kHumidity).GetInt32(r),
            batch.column(kAirQualityIndex).GetInt32(r),
            s.Intern(batch.column(kWeatherCondition).GetString(r)),
            batch.column(kPartition).GetInt32(r), batch.column(kOffset).GetInt64(r)});
        s.rows[in]++;
        const WeatherRow& w = d.weather[pos];
        const auto [v_lo, v_hi] = d.vehicles.Range(ts - j, ts + j);
        for (size_t vi = v_lo; vi < v_hi; ++vi) {
          const VehicleRow& v = d.vehicles[vi];
          if (!v.has_emergency) continue;  // its rows come with NULLs when the watermark passes
          const auto [e_lo, e_hi] = d.emergencies.Range(v.ts - j, v.ts + j);
          for (size_t ei = e_lo; ei < e_hi; ++ei) {
            Emit(d, v, w, &d.emergencies[ei], s.strings, &s.date, enriched);
            counters_.rows_matched++;
          }
        }
      });
}

void EventTimeJoin::AddEmergencies(const RecordBatch& batch, size_t begin, size_t end,
                                   RecordBatch* enriched, std::vector<LateRecord>* late) {
  using namespace emergency_col;
  State& s = *state_;
  const int64_t j = options_.window.count();
  const size_t in = static_cast<size_t>(JoinInput::kEmergency);
  ForEachOnTime(
      batch.column(kTimestamp), JoinInput::kEmergency, begin, end, late, [&](size_t r, int64_t ts) {
        // A record of no incident (the seeds' producer's type "None") moves the input's watermark
        // and may be late like any other, but is never joined as an incident.
        if (batch.column(kType).GetString(r) == model::kNoIncidentType) return;
        Device& d = s.FindDevice(batch.column(kDeviceId).GetString(r));
        const size_t pos = d.emergencies.Insert(
            EmergencyRow{ts, s.Intern(batch.column(kType).GetString(r)),
                         s.Intern(batch.column(kStatus).GetString(r)),
                         std::string(batch.column(kIncidentId).GetString(r)),
                         batch.column(kPartition).GetInt32(r), batch.column(kOffset).GetInt64(r)});
        s.rows[in]++;
        const EmergencyRow& e = d.emergencies[pos];
        const auto [v_lo, v_hi] = d.vehicles.Range(ts - j, ts + j);
        for (size_t vi = v_lo; vi < v_hi; ++vi) {
          VehicleRow& v = d.vehicles[vi];
          v.has_emergency = true;
          const auto [w_lo, w_hi] = d.weather.Range(v.ts - j, v.ts + j);
          for (size_t wi = w_lo; wi < w_hi; ++wi) {
            Emit(d, v, d.weather[wi], &e, s.strings, &s.date, enriched);
            counters_.rows_matched++;
          }
        }
      });
}

EventTime EventTimeJoin::AdvanceWatermarkTo(EventTime requested, RecordBatch* enriched) {
  const EventTime watermark = tracker_.Set(requested);
  if (watermark == EventTime::min()) return watermark;
  State& s = *state_;
  const int64_t wm = watermark.time_since_epoch().count();
  const int64_t j = options_.window.count();
  for (const std::unique_ptr<Device>& dp : s.devices) {
    Device& d = *dp;
    // Vehicle readings no future record can match: their NULL rows, then out of state.
    while (!d.vehicles.empty() && d.vehicles.front().ts + j < wm) {
      const VehicleRow& v = d.vehicles.front();
      if (!v.has_emergency) {
        const auto [w_lo, w_hi] = d.weather.Range(v.ts - j, v.ts + j);
        for (size_t wi = w_lo; wi < w_hi; ++wi) {
          Emit(d, v, d.weather[wi], nullptr, s.strings, &s.date, enriched);
          counters_.rows_unmatched++;
        }
      }
      d.vehicles.PopFront();
      s.rows[static_cast<size_t>(JoinInput::kVehicle)]--;
    }
    while (!d.weather.empty() && d.weather.front().ts + 2 * j < wm) {
      d.weather.PopFront();
      s.rows[static_cast<size_t>(JoinInput::kWeather)]--;
    }
    while (!d.emergencies.empty() && d.emergencies.front().ts + 2 * j < wm) {
      d.emergencies.PopFront();
      s.rows[static_cast<size_t>(JoinInput::kEmergency)]--;
    }
  }
  s.PruneIdleDevices();
  return watermark;
}

void EventTimeJoin::Flush(RecordBatch* enriched) {
  State& s = *state_;
  const int64_t j = options_.window.count();
  for (const std::unique_ptr<Device>& dp : s.devices) {
    Device& d = *dp;
    for (size_t vi = d.vehicles.head(); vi < d.vehicles.end(); ++vi) {
      const VehicleRow& v = d.vehicles[vi];
      if (v.has_emergency) continue;
      const auto [w_lo, w_hi] = d.weather.Range(v.ts - j, v.ts + j);
      for (size_t wi = w_lo; wi < w_hi; ++wi) {
        Emit(d, v, d.weather[wi], nullptr, s.strings, &s.date, enriched);
        counters_.rows_unmatched++;
      }
    }
    d.vehicles.Clear();
    d.weather.Clear();
    d.emergencies.Clear();
  }
  s.rows = {};
}

size_t EventTimeJoin::StateRows(JoinInput input) const {
  return state_->rows[static_cast<size_t>(input)];
}

size_t EventTimeJoin::StateBytes() const {
  const auto& r = state_->rows;
  return r[static_cast<size_t>(JoinInput::kVehicle)] * sizeof(VehicleRow) +
         r[static_cast<size_t>(JoinInput::kWeather)] * sizeof(WeatherRow) +
         r[static_cast<size_t>(JoinInput::kEmergency)] * sizeof(EmergencyRow);
}

size_t EventTimeJoin::devices() const {
  return state_->devices.size();
}

Status EventTimeJoin::SerializeState(std::string* out) const {
  const State& s = *state_;
  StateWriter w(out);
  w.U32(kJoinMagic);
  w.U32(kJoinVersion);
  w.I64(options_.window.count());
  std::string tracker;
  SC_RETURN_IF_ERROR(tracker_.SerializeState(&tracker));
  w.Str(tracker);
  for (uint64_t v : counters_.records_in) w.U64(v);
  for (uint64_t v : counters_.late) w.U64(v);
  w.U64(counters_.rows_matched);
  w.U64(counters_.rows_unmatched);
  w.U32(static_cast<uint32_t>(s.strings.size()));
  for (const std::string& str : s.strings) w.Str(str);
  w.U32(static_cast<uint32_t>(s.devices.size()));
  for (const std::unique_ptr<Device>& dp : s.devices) {
    const Device& d = *dp;
    w.Str(d.id);
    w.U32(static_cast<uint32_t>(d.vehicles.size()));
    for (size_t i = d.vehicles.head(); i < d.vehicles.end(); ++i) {
      const VehicleRow& v = d.vehicles[i];
      w.I64(v.ts);
      w.F64(v.latitude);
      w.F64(v.longitude);
      w.F64(v.speed);
      w.U32(v.direction);
      w.I32(v.partition);
      w.I64(v.offset);
      w.U8(v.has_emergency ? 1 : 0);
    }
    w.U32(static_cast<uint32_t>(d.weather.size()));
    for (size_t i = d.weather.head(); i < d.weather.end(); ++i) {
      const WeatherRow& x = d.weather[i];
      w.I64(x.ts);
      w.F64(x.temperature);
      w.F64(x.precipitation);
      w.F64(x.wind_speed);
      w.I32(x.humidity);
      w.I32(x.air_quality_index);
      w.U32(x.condition);
      w.I32(x.partition);
      w.I64(x.offset);
    }
    w.U32(static_cast<uint32_t>(d.emergencies.size()));
    for (size_t i = d.emergencies.head(); i < d.emergencies.end(); ++i) {
      const EmergencyRow& e = d.emergencies[i];
      w.I64(e.ts);
      w.U32(e.type);
      w.U32(e.status);
      w.Str(e.incident_id);
      w.I32(e.partition);
      w.I64(e.offset);
    }
  }
  return Status::OK();
}

Status EventTimeJoin::RestoreState(std::string_view data) {
  auto corrupt = [](std::string_view what) {
    return Status::Corruption("join state checkpoint is damaged (" + std::string(what) +
                              "): restore from an earlier checkpoint or start a new one");
  };
  StateReader r(data);
  const uint32_t magic = r.U32();
  const uint32_t version = r.U32();
  if (!r.ok() || magic != kJoinMagic) return corrupt("bad magic number");
  if (version != kJoinVersion) {
    return Status::Corruption("join state checkpoint version " + std::to_string(version) +
                              " is not supported (this build reads version 1)");
  }
  const int64_t window = r.I64();
  if (r.ok() && window != options_.window.count()) {
    return Status::InvalidArgument(
        "the checkpoint was written with join window " + FormatDuration(Micros(window)) +
        " but this run uses " + FormatDuration(options_.window) +
        ": restart with the same --join-window or start a new checkpoint");
  }
  const std::string_view tracker_blob = r.Str();
  if (!r.ok()) return corrupt("truncated");
  WatermarkTracker tracker = tracker_;
  SC_RETURN_IF_ERROR(tracker.RestoreState(tracker_blob));
  JoinCounters counters;
  for (uint64_t& v : counters.records_in) v = r.U64();
  for (uint64_t& v : counters.late) v = r.U64();
  counters.rows_matched = r.U64();
  counters.rows_unmatched = r.U64();
  auto state = std::make_unique<State>();
  const uint32_t nstrings = r.U32();
  for (uint32_t i = 0; i < nstrings && r.ok(); ++i) {
    const uint32_t code = state->Intern(r.Str());
    if (code != i) return corrupt("repeated vocabulary entry");
  }
  auto check_code = [&](uint32_t code) { return code < nstrings; };
  const uint32_t ndevices = r.U32();
  for (uint32_t di = 0; di < ndevices && r.ok(); ++di) {
    const std::string_view id = r.Str();
    if (!r.ok()) break;
    if (state->device_index.count(id) != 0) return corrupt("repeated device");
    Device& d = state->FindDevice(id);
    const uint32_t nv = r.U32();
    for (uint32_t i = 0; i < nv && r.ok(); ++i) {
      VehicleRow v{};
      v.ts = r.I64();
      v.latitude = r.F64();
      v.longitude = r.F64();
      v.speed = r.F64();
      v.direction = r.U32();
      v.partition = r.I32();
      v.offset = r.I64();
      v.has_emergency = r.U8() != 0;
      if (!check_code(v.direction)) return corrupt("bad vocabulary code");
      if (!d.vehicles.empty() && d.vehicles[d.vehicles.end() - 1].ts > v.ts)
        return corrupt("rows out of order");
      d.vehicles.Append(v);
    }
    const uint32_t nw = r.U32();
    for (uint32_t i = 0; i < nw && r.ok(); ++i) {
      WeatherRow x{};
      x.ts = r.I64();
      x.temperature = r.F64();
      x.precipitation = r.F64();
      x.wind_speed = r.F64();
      x.humidity = r.I32();
      x.air_quality_index = r.I32();
      x.condition = r.U32();
      x.partition = r.I32();
      x.offset = r.I64();
      if (!check_code(x.condition)) return corrupt("bad vocabulary code");
      if (!d.weather.empty() && d.weather[d.weather.end() - 1].ts > x.ts)
        return corrupt("rows out of order");
      d.weather.Append(x);
    }
    const uint32_t ne = r.U32();
    for (uint32_t i = 0; i < ne && r.ok(); ++i) {
      EmergencyRow e{};
      e.ts = r.I64();
      e.type = r.U32();
      e.status = r.U32();
      e.incident_id = std::string(r.Str());
      e.partition = r.I32();
      e.offset = r.I64();
      if (!check_code(e.type) || !check_code(e.status)) return corrupt("bad vocabulary code");
      if (!d.emergencies.empty() && d.emergencies[d.emergencies.end() - 1].ts > e.ts) {
        return corrupt("rows out of order");
      }
      d.emergencies.Append(std::move(e));
    }
    state->rows[0] += d.vehicles.size();
    state->rows[1] += d.weather.size();
    state->rows[2] += d.emergencies.size();
  }
  if (!r.ok()) return corrupt("truncated");
  if (!r.at_end()) return corrupt("trailing bytes");
  tracker_ = tracker;
  state_ = std::move(state);
  counters_ = counters;
  return Status::OK();
}

}  // namespace smartcity::stream
