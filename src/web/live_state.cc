#include "web/live_state.h"

#include <fmt/format.h>

#include <algorithm>

#include "stream/event_time_guard.h"
#include "stream/tables.h"

namespace smartcity::web {

namespace {

using stream::OutputTable;

const RecordBatch& Out(const stream::StreamOutput& out, OutputTable t) {
  return stream::OutputOf(out, t);
}
size_t First(const stream::OutputMarks& m, OutputTable t) {
  return m[static_cast<size_t>(t)];
}

std::string Str(const Column& c, size_t row) {
  return c.IsNull(row) ? std::string() : std::string(c.GetString(row));
}

}  // namespace

std::string_view PipelineStateName(PipelineState s) {
  switch (s) {
    case PipelineState::kStarting:
      return "starting";
    case PipelineState::kRunning:
      return "running";
    case PipelineState::kFinished:
      return "finished";
    case PipelineState::kStopped:
      return "stopped";
    case PipelineState::kFailed:
      return "failed";
    case PipelineState::kServingLake:
      return "serving-lake";
  }
  return "unknown";
}

LiveState::LiveState(LiveStateOptions options, Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      started_(clock->WallNow()),
      last_turn_(clock->Now()) {}

int64_t LiveState::NowSecond() {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count();
}

void LiveState::CountRate(Topic t, uint64_t n, int64_t second) {
  if (n == 0) return;
  if (second > rate_second_) {
    // Clear the buckets the ring moves over (all of them after a long quiet spell).
    const int64_t steps = rate_second_ == INT64_MIN
                              ? kRateSeconds
                              : std::min<int64_t>(second - rate_second_, kRateSeconds);
    for (int64_t s = second - steps + 1; s <= second; ++s) {
      const size_t i = static_cast<size_t>(((s % kRateSeconds) + kRateSeconds) % kRateSeconds);
      for (auto& ring : rate_ring_) ring[i] = 0;
    }
    rate_second_ = second;
  }
  if (second <= rate_second_ - kRateSeconds) return;  // older than the history
  const size_t i = static_cast<size_t>(((second % kRateSeconds) + kRateSeconds) % kRateSeconds);
  auto& bucket = rate_ring_[static_cast<size_t>(t)][i];
  bucket = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{bucket} + n, UINT32_MAX));
}

std::optional<Topic> LiveState::TopicOfName(std::string_view name) const {
  for (Topic t : kAllTopics) {
    if (options_.topic_names[t] == name || DefaultTopicName(t) == name) return t;
  }
  return std::nullopt;
}

void LiveState::OnRows(int32_t group, const stream::StreamOutput& out,
                       const stream::OutputMarks& first) {
  const WallTime wall = clock_->WallNow();
  MutexLock lock(&mu_);
  const int64_t second = NowSecond();
  GroupView& gv = groups_[group];
  gv.group = group;
  auto see_time = [&gv](EventTime t) {
    if (!gv.max_event_time || t > *gv.max_event_time) gv.max_event_time = t;
  };

  for (size_t t = 0; t < stream::kOutputTableCount; ++t) {
    const RecordBatch& b = Out(out, static_cast<OutputTable>(t));
    rows_out_[t] += b.num_rows() - std::min(b.num_rows(), first[t]);
  }
  for (Topic topic : kAllTopics) {
    const RecordBatch& b = out.Raw(topic);
    const size_t n =
        b.num_rows() - std::min(b.num_rows(), First(first, static_cast<OutputTable>(topic)));
    events_in_[static_cast<size_t>(topic)] += n;
    CountRate(topic, n, second);
    if (n > 0) {
      topic_last_second_[static_cast<size_t>(topic)] = second;
      stall_[group].rows_since = true;
    }
  }

  {  // vehicle_data: the latest position per device
    namespace c = stream::vehicle_col;
    const RecordBatch& b = out.Raw(Topic::kVehicle);
    for (size_t r = First(first, OutputTable::kVehicle); r < b.num_rows(); ++r) {
      const std::string_view id = b.column(c::kDeviceId).GetString(r);
      const EventTime at = b.column(c::kTimestamp).GetTimestamp(r);
      see_time(at);
      auto it = vehicles_.find(id);
      if (it == vehicles_.end()) {
        if (vehicles_.size() >= options_.max_vehicles) continue;
        it = vehicles_.emplace(std::string(id), VehicleView{}).first;
        it->second.device_id = std::string(id);
      } else if (at < it->second.at) {
        continue;  // an older (late or replayed) position
      }
      VehicleView& v = it->second;
      v.at = at;
      v.group = group;
      v.latitude = b.column(c::kLatitude).GetDouble(r);
      v.longitude = b.column(c::kLongitude).GetDouble(r);
      v.speed = b.column(c::kSpeed).GetDouble(r);
      v.direction = Str(b.column(c::kDirection), r);
      v.make = Str(b.column(c::kMake), r);
      v.model = Str(b.column(c::kModel), r);
      v.year = b.column(c::kYear).GetInt32(r);
      v.fuel_type = Str(b.column(c::kFuelType), r);
      v.updated = wall;
    }
  }
  {  // weather_data: the latest reading per device (shown with the vehicle)
    namespace c = stream::weather_col;
    const RecordBatch& b = out.Raw(Topic::kWeather);
    for (size_t r = First(first, OutputTable::kWeather); r < b.num_rows(); ++r) {
      const EventTime at = b.column(c::kTimestamp).GetTimestamp(r);
      see_time(at);
      auto it = vehicles_.find(b.column(c::kDeviceId).GetString(r));
      if (it == vehicles_.end())
        continue;  // weather before the vehicle's first position: next time
      VehicleView& v = it->second;
      if (v.weather && at < v.weather->at) continue;
      WeatherView w;
      w.at = at;
      w.temperature = b.column(c::kTemperature).GetDouble(r);
      w.condition = Str(b.column(c::kWeatherCondition), r);
      w.precipitation = b.column(c::kPrecipitation).GetDouble(r);
      w.wind_speed = b.column(c::kWindSpeed).GetDouble(r);
      w.humidity = b.column(c::kHumidity).GetInt32(r);
      w.air_quality_index = b.column(c::kAirQualityIndex).GetInt32(r);
      v.weather = std::move(w);
    }
  }
  {  // emergency_data: incidents by id, latest status
    namespace c = stream::emergency_col;
    const RecordBatch& b = out.Raw(Topic::kEmergency);
    for (size_t r = First(first, OutputTable::kEmergency); r < b.num_rows(); ++r) {
      const std::string_view id = b.column(c::kIncidentId).GetString(r);
      const EventTime at = b.column(c::kTimestamp).GetTimestamp(r);
      see_time(at);
      auto it = incidents_.find(id);
      if (it == incidents_.end()) {
        if (incidents_.size() >= options_.max_incidents) {
          // Forget the oldest resolved incident to make room; if none is resolved, drop the new
          // one.
          auto victim = incidents_.end();
          for (auto i = incidents_.begin(); i != incidents_.end(); ++i) {
            if (!i->second.active() &&
                (victim == incidents_.end() || i->second.at < victim->second.at))
              victim = i;
          }
          if (victim == incidents_.end()) continue;
          incidents_.erase(victim);
        }
        it = incidents_.emplace(std::string(id), IncidentView{}).first;
        it->second.incident_id = std::string(id);
        it->second.raised = at;
        if (Str(b.column(c::kStatus), r) != model::NameOf(model::EmergencyStatus::kResolved)) {
          Raise("incident", id, "warning",
                fmt::format("new incident: {} reported by {}: {}", Str(b.column(c::kType), r),
                            Str(b.column(c::kDeviceId), r), Str(b.column(c::kDescription), r)),
                wall);
        }
      } else if (at < it->second.at) {
        it->second.raised = std::min(it->second.raised, at);
        continue;
      }
      IncidentView& inc = it->second;
      inc.at = at;
      inc.device_id = Str(b.column(c::kDeviceId), r);
      inc.type = Str(b.column(c::kType), r);
      inc.status = Str(b.column(c::kStatus), r);
      inc.description = Str(b.column(c::kDescription), r);
      inc.latitude = b.column(c::kLatitude).GetDouble(r);
      inc.longitude = b.column(c::kLongitude).GetDouble(r);
    }
  }
  {  // traffic_data: the cameras seen
    namespace c = stream::traffic_col;
    const RecordBatch& b = out.Raw(Topic::kTraffic);
    for (size_t r = First(first, OutputTable::kTraffic); r < b.num_rows(); ++r) {
      const std::string_view id = b.column(c::kCameraId).GetString(r);
      const EventTime at = b.column(c::kTimestamp).GetTimestamp(r);
      see_time(at);
      auto it = cameras_.find(id);
      if (it == cameras_.end()) {
        it = cameras_.emplace(std::string(id), CameraView{}).first;
        it->second.camera_id = std::string(id);
        it->second.latitude = b.column(c::kLatitude).GetDouble(r);
        it->second.longitude = b.column(c::kLongitude).GetDouble(r);
      }
      ++it->second.passes;
      it->second.last_seen = std::max(it->second.last_seen, at);
    }
  }
  {  // gps_data: only its event time matters here
    const RecordBatch& b = out.Raw(Topic::kGps);
    for (size_t r = First(first, OutputTable::kGps); r < b.num_rows(); ++r) {
      see_time(b.column(stream::gps_col::kTimestamp).GetTimestamp(r));
    }
  }
  {  // dead letters count as events in of their topic
    const RecordBatch& b = out.dead_letters;
    for (size_t r = First(first, OutputTable::kDeadLetters); r < b.num_rows(); ++r) {
      const auto topic = TopicOfName(b.column(stream::dead_letter_col::kTopic).GetString(r));
      if (!topic) {
        ++dead_letters_other_;
        continue;
      }
      ++dead_letters_[static_cast<size_t>(*topic)];
      ++events_in_[static_cast<size_t>(*topic)];
      const std::string_view reason = b.column(stream::dead_letter_col::kReason).GetString(r);
      if (reason.starts_with(stream::kImplausibleEventTimeReason)) {
        ++quarantined_[static_cast<size_t>(*topic)];
        last_quarantine_reason_.assign(reason);
      }
      CountRate(*topic, 1, second);
    }
  }
  {
    const RecordBatch& b = out.late_events;
    for (size_t r = First(first, OutputTable::kLateEvents); r < b.num_rows(); ++r) {
      ++late_events_total_;
      const auto topic = TopicOfName(b.column(stream::late_event_col::kTopic).GetString(r));
      if (topic) ++late_events_[static_cast<size_t>(*topic)];
    }
  }
  if (gv.max_event_time) ExpireVehicles(group, *gv.max_event_time);
}

void LiveState::ExpireVehicles(int32_t group, EventTime newest) {
  // A sweep per minute of event time: the map is walked once for many batches.
  auto [swept, first_time] = swept_at_.try_emplace(group, newest);
  if (first_time || newest - swept->second < std::chrono::minutes(1)) return;
  swept->second = newest;
  const EventTime cutoff = newest - options_.vehicle_timeout;
  std::erase_if(vehicles_, [&](const auto& entry) {
    return entry.second.group == group && entry.second.at < cutoff;
  });
}

void LiveState::OnCommit(const pipeline::EpochCommit& commit) {
  MutexLock lock(&mu_);
  CommitView v;
  v.at = commit.at;
  v.groups = commit.groups;
  v.rows = commit.rows;
  v.latency = commit.latency;
  v.final = commit.final;
  for (size_t t = 0; t < stream::kOutputTableCount; ++t) rows_committed_[t] += commit.rows[t];
  commits_.push_back(std::move(v));
  while (commits_.size() > options_.max_commits) commits_.pop_front();
  last_commit_ = commits_.back().at;
  last_commit_latency_ = commit.latency;
  const double secs = std::chrono::duration<double>(commit.latency).count();
  size_t b = 0;
  while (b < kCommitLatencyBucketCount && secs > kCommitLatencyBuckets[b]) ++b;
  ++commit_latency_counts_[b];
  commit_latency_sum_ += commit.latency;
  ++commit_latency_count_;
}

void LiveState::UpdateProgress(std::span<const pipeline::Processor::GroupStatus> groups,
                               std::span<const PartitionLag> lag,
                               const pipeline::ProcessorCounters& counters) {
  std::vector<InputView> inputs;
  inputs.reserve(lag.size());
  for (const PartitionLag& l : lag) {
    InputView in;
    in.topic = options_.topic_names[l.tp.topic];
    in.partition = l.tp.partition.value();
    if (l.position) in.position = l.position->value();
    if (l.end) in.end = l.end->value();
    in.records_behind = l.records_behind;
    inputs.push_back(std::move(in));
  }
  const ProcessingTime now = clock_->Now();
  MutexLock lock(&mu_);
  last_turn_ = now;
  if (state_ == PipelineState::kStarting) state_ = PipelineState::kRunning;
  for (auto it = groups_.begin(); it != groups_.end();) {
    // A group this member no longer owns (consumer-group rebalance) leaves the view.
    const bool owned = std::any_of(
        groups.begin(), groups.end(),
        [&](const pipeline::Processor::GroupStatus& g) { return g.group == it->first; });
    it = owned ? std::next(it) : groups_.erase(it);
  }
  for (const auto& g : groups) {
    GroupView& v = groups_[g.group];
    v.group = g.group;
    v.committed_epoch = g.committed_epoch;
    if (g.watermark != EventTime::min()) v.watermark = g.watermark;
    if (g.live_watermark != EventTime::min()) v.live_watermark = g.live_watermark;
    v.replaying = g.replaying;
  }
  inputs_ = std::move(inputs);
  records_ = counters.records;
  epochs_committed_ = counters.epochs_committed;
  table_commits_ = counters.table_commits;
  commit_conflicts_ = counters.commit_conflicts;
  commits_by_others_ = counters.commits_by_others;
  staged_taken_ = counters.staged_taken;
  misplaced_ = counters.misplaced;
  forwarded_ = counters.forwarded;
  repartition_received_ = counters.repartition_received;
  repartition_duplicates_ = counters.repartition_duplicates;
  epochs_replayed_ = counters.epochs_replayed;
  retries_ = counters.retries;
  EvaluateAlerts(clock_->WallNow());
}

void LiveState::SetState(PipelineState state, std::string error) {
  MutexLock lock(&mu_);
  state_ = state;
  error_ = std::move(error);
  EvaluateAlerts(clock_->WallNow());
}

void LiveState::RecordLoad(LoadView load) {
  MutexLock lock(&mu_);
  warehouse_.present = true;
  TableLoadView& t = load_tables_[load.table];
  t.table = load.table;
  // A retried or restarted loader never goes back; keep the highest versions seen.
  t.loaded_version = std::max(t.loaded_version, load.last_version);
  t.lake_version = std::max({t.lake_version, load.lake_version, load.last_version});
  t.rows += load.rows;
  t.loads += 1;
  t.last_load = std::max(t.last_load, load.at);
  loads_.push_back(std::move(load));
  while (loads_.size() > options_.max_loads) loads_.pop_front();
}

void LiveState::RecordLag(const std::vector<TableLagView>& tables, std::string retrying) {
  MutexLock lock(&mu_);
  warehouse_.present = true;
  warehouse_.retrying = std::move(retrying);
  for (const TableLagView& l : tables) {
    TableLoadView& t = load_tables_[l.table];
    t.table = l.table;
    t.lag_known = l.known;
    if (!l.known) continue;
    // The loader's own view: exact, including versions it passed over for having no rows.
    t.loaded_version = l.loaded_version;
    t.lake_version = l.lake_version;
    t.oldest_pending = l.oldest_pending;
  }
  EvaluateAlerts(clock_->WallNow());
}

void LiveState::SetWarehouseError(std::string error) {
  MutexLock lock(&mu_);
  warehouse_.present = true;
  warehouse_.error = std::move(error);
  EvaluateAlerts(clock_->WallNow());
}

namespace {
std::string AlertKey(std::string_view kind, std::string_view subject) {
  std::string key(kind);
  key += '\0';
  key += subject;
  return key;
}
double SecondsOf(Micros d) {
  return std::chrono::duration<double>(d).count();
}
// Appends a sample at most once a second and keeps those of the last `keep`.
void AddSample(std::deque<LagSample>* samples, WallTime now, double value, Micros keep) {
  if (samples->empty() || now - samples->back().at >= std::chrono::seconds(1))
    samples->push_back(LagSample{now, value});
  // Keep one sample at or before now - keep (GrewSteadily reads the value there).
  while (samples->size() > 1 && now - (*samples)[1].at >= keep) samples->pop_front();
}
}  // namespace

bool GrewSteadily(const std::deque<LagSample>& samples, WallTime now, Micros window,
                  double min_growth) {
  if (samples.empty() || window <= Micros(0)) return false;
  std::array<double, 5> v{};  // at now - window, -3/4, -1/2, -1/4 window, and the newest
  for (int k = 4; k >= 1; --k) {
    const WallTime t = now - window * k / 4;
    // The newest sample at or before t.
    auto it = std::upper_bound(samples.begin(), samples.end(), t,
                               [](WallTime at, const LagSample& s) { return at < s.at; });
    if (it == samples.begin()) return false;  // the samples do not reach back that far
    v[static_cast<size_t>(4 - k)] = std::prev(it)->value;
  }
  v[4] = samples.back().value;
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] <= v[i - 1]) return false;
  }
  return v[4] - v[0] >= min_growth;
}

void LiveState::Raise(std::string_view kind, std::string_view subject, std::string_view severity,
                      std::string message, WallTime now) {
  AlertView& a = alerts_[AlertKey(kind, subject)];
  if (a.kind.empty() || !a.active()) {
    a = AlertView{};
    a.kind = std::string(kind);
    a.subject = std::string(subject);
    a.since = now;
  }
  a.severity = std::string(severity);
  a.message = std::move(message);
}

void LiveState::Clear(std::string_view kind, std::string_view subject, WallTime now) {
  auto it = alerts_.find(AlertKey(kind, subject));
  if (it != alerts_.end() && it->second.active()) it->second.cleared = now;
}

void LiveState::EvaluateAlerts(WallTime now) {
  const AlertOptions& o = options_.alerts;
  const bool running = state_ == PipelineState::kRunning;

  // incident: raised in OnRows; cleared once resolved (or forgotten), or after incident_alert_for.
  for (auto& [key, a] : alerts_) {
    if (a.kind != "incident" || !a.active()) continue;
    auto it = incidents_.find(a.subject);
    if (it == incidents_.end() || !it->second.active() || now - a.since >= o.incident_alert_for)
      a.cleared = now;
  }

  // stall, per partition group: the watermark stands still while events arrive or inputs wait.
  const bool inputs_behind = std::any_of(inputs_.begin(), inputs_.end(), [](const InputView& i) {
    return i.records_behind.value_or(0) > 0;
  });
  std::vector<std::string> stalled;
  for (auto it = stall_.begin(); it != stall_.end();) {
    it = groups_.count(it->first) != 0 ? std::next(it) : stall_.erase(it);
  }
  for (const auto& [g, gv] : groups_) {
    StallTrack& t = stall_[g];
    if (t.moved == WallTime{} || gv.watermark != t.watermark) {
      t.watermark = gv.watermark;
      t.moved = now;
      t.rows_since = false;
      continue;
    }
    if (running && (t.rows_since || inputs_behind) && now - t.moved >= o.stall_after) {
      std::string subject = fmt::format("group {}", g);
      Raise("stall", subject, "critical",
            fmt::format("partition group {}: the watermark ({}) has not moved for {:.0f} s while "
                        "{}",
                        g, t.watermark ? FormatTimestamp(*t.watermark) : std::string("none yet"),
                        SecondsOf(std::chrono::duration_cast<Micros>(now - t.moved)),
                        t.rows_since ? "events arrive" : "its inputs are behind"),
            now);
      stalled.push_back(std::move(subject));
    }
  }
  // stall, per topic: a steady topic (an event a second on average in the minute before it went
  // quiet) without events for stall_after while another topic still has them.
  const int64_t now_second = NowSecond();
  const int64_t stall_seconds =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(o.stall_after).count());
  for (Topic topic : kAllTopics) {
    const size_t ti = static_cast<size_t>(topic);
    const int64_t last = topic_last_second_[ti];
    if (!running || last == INT64_MIN || now_second - last < stall_seconds) continue;
    bool others = false;
    for (Topic u : kAllTopics) {
      const int64_t ul = topic_last_second_[static_cast<size_t>(u)];
      others = others || (u != topic && ul != INT64_MIN && now_second - ul < stall_seconds / 2 + 1);
    }
    uint64_t before = 0;  // events in the minute up to its last one (what the ring still holds)
    for (int64_t sec = last - 59; sec <= last; ++sec) {
      if (sec > rate_second_ || sec <= rate_second_ - kRateSeconds) continue;
      before +=
          rate_ring_[ti][static_cast<size_t>(((sec % kRateSeconds) + kRateSeconds) % kRateSeconds)];
    }
    if (!others || before < 60) continue;
    std::string subject = "topic " + options_.topic_names[topic];
    Raise("stall", subject, "critical",
          fmt::format("no {} event for {} s while the other topics go on (its producer may have "
                      "stopped)",
                      options_.topic_names[topic], now_second - last),
          now);
    stalled.push_back(std::move(subject));
  }
  for (auto& [key, a] : alerts_) {
    if (a.kind == "stall" && a.active() &&
        std::find(stalled.begin(), stalled.end(), a.subject) == stalled.end())
      a.cleared = now;
  }

  // lag, per partition group: its watermark lag grew steadily over lag_growth_window (the
  // watermark falls further behind the newest events: an input is behind the others); and for the
  // member, the records its inputs are behind (it does not keep up with the producers).
  const Micros keep = o.lag_growth_window + std::chrono::seconds(2);
  for (auto it = watermark_lag_.begin(); it != watermark_lag_.end();) {
    it = groups_.count(it->first) != 0 ? std::next(it) : watermark_lag_.erase(it);
  }
  std::vector<std::string> lagging;
  for (const auto& [g, gv] : groups_) {
    const std::optional<Micros> lag = gv.watermark_lag();
    if (!lag) continue;
    std::deque<LagSample>& samples = watermark_lag_[g];
    AddSample(&samples, now, SecondsOf(*lag), keep);
    std::string subject = fmt::format("group {}", g);
    // A stalled group's lag grows too: its stall alert says more.
    const bool is_stalled = std::find(stalled.begin(), stalled.end(), subject) != stalled.end();
    if (running && !gv.replaying && !is_stalled &&
        GrewSteadily(samples, now, o.lag_growth_window, o.lag_growth_seconds)) {
      Raise("lag", subject, "warning",
            fmt::format("partition group {}: the watermark lag grew from {:.0f} s to {:.0f} s in "
                        "the last {:.0f} s",
                        g, samples.front().value, samples.back().value,
                        SecondsOf(o.lag_growth_window)),
            now);
      lagging.push_back(std::move(subject));
    }
  }
  if (!inputs_.empty() && std::all_of(inputs_.begin(), inputs_.end(), [](const InputView& i) {
        return i.records_behind.has_value();
      })) {
    int64_t behind = 0;
    for (const InputView& i : inputs_) behind += *i.records_behind;
    AddSample(&records_behind_, now, static_cast<double>(behind), keep);
    if (running && GrewSteadily(records_behind_, now, o.lag_growth_window,
                                static_cast<double>(o.lag_growth_records))) {
      Raise("lag", "inputs", "warning",
            fmt::format("the inputs are {} records behind, {:.0f} more than {:.0f} s ago: the "
                        "processor does not keep up",
                        behind, records_behind_.back().value - records_behind_.front().value,
                        SecondsOf(o.lag_growth_window)),
            now);
      lagging.emplace_back("inputs");
    }
  }
  for (auto& [key, a] : alerts_) {
    if (a.kind == "lag" && a.active() &&
        std::find(lagging.begin(), lagging.end(), a.subject) == lagging.end())
      a.cleared = now;
  }

  // dead_letters / late_events / lake: over the last minute's counts (a sample a second).
  CountSample cur{now, 0, dead_letters_other_, late_events_total_, 0, retries_};
  for (size_t t = 0; t < kTopicCount; ++t) {
    cur.events += events_in_[t];
    cur.dead += dead_letters_[t];
  }
  for (uint64_t r : rows_out_) cur.rows += r;
  if (samples_.empty() || now - samples_.back().at >= std::chrono::seconds(1))
    samples_.push_back(cur);
  while (samples_.size() > 1 && now - samples_[1].at >= std::chrono::seconds(60))
    samples_.pop_front();
  const CountSample& base = samples_.front();
  const uint64_t events = cur.events - std::min(cur.events, base.events);
  struct FractionRule {
    std::string_view kind;
    uint64_t bad;
    std::string_view what;
  };
  for (const FractionRule& rule :
       {FractionRule{"dead_letters", cur.dead - std::min(cur.dead, base.dead), "dead letters"},
        FractionRule{"late_events", cur.late - std::min(cur.late, base.late), "late events"}}) {
    const double f = events == 0 ? 0 : static_cast<double>(rule.bad) / static_cast<double>(events);
    if (events >= o.bad_event_min_events && f > o.bad_event_fraction) {
      Raise(rule.kind, "", "warning",
            fmt::format("{:.1f}% of the last minute's {} events were {} (threshold {:.1f}%)",
                        f * 100, events, rule.what, o.bad_event_fraction * 100),
            now);
    } else {
      Clear(rule.kind, "", now);
    }
  }

  // warehouse: the loader retries (the warehouse is away) or stopped.
  if (!warehouse_.error.empty()) {
    Raise("warehouse", "", "critical", "the warehouse loader stopped: " + warehouse_.error, now);
  } else if (!warehouse_.retrying.empty()) {
    Raise("warehouse", "", "warning",
          "warehouse loads are failing (the loader retries): " + warehouse_.retrying, now);
  } else {
    Clear("warehouse", "", now);
  }

  // lake: the pipeline failed (a commit that could not be made ends it), or rows are produced
  // and no commit came for 3x stall_after.
  const WallTime last_commit = last_commit_.value_or(started_);
  if (state_ == PipelineState::kFailed) {
    Raise("lake", "", "critical", "the pipeline stopped: " + error_, now);
  } else if (running && cur.rows > base.rows && now - last_commit >= 3 * o.stall_after) {
    Raise("lake", "", "critical",
          fmt::format("no lake commit for {:.0f} s while rows are produced",
                      SecondsOf(std::chrono::duration_cast<Micros>(now - last_commit))),
          now);
  } else if (running && cur.retries > base.retries) {
    Raise("lake", "", "warning",
          fmt::format("{} lake or checkpoint writes failed in the last minute and were retried",
                      cur.retries - base.retries),
          now);
  } else {
    Clear("lake", "", now);
  }

  // memory: resident memory near --memory-limit (read at most once a second).
  if (options_.resident_bytes && o.memory_limit_bytes > 0) {
    if (now - rss_read_at_ >= std::chrono::seconds(1)) {
      rss_ = options_.resident_bytes();
      rss_read_at_ = now;
    }
    const double share = static_cast<double>(rss_) / static_cast<double>(o.memory_limit_bytes);
    if (share > o.memory_fraction) {
      Raise("memory", "", "warning",
            fmt::format("resident memory {} MiB is {:.0f}% of the memory limit ({} MiB)",
                        rss_ >> 20, share * 100, o.memory_limit_bytes >> 20),
            now);
    } else {
      Clear("memory", "", now);
    }
  }

  // Forget the oldest cleared alerts beyond max_cleared_alerts.
  size_t cleared = 0;
  for (const auto& [key, a] : alerts_) cleared += a.active() ? 0 : 1;
  while (cleared > options_.max_cleared_alerts) {
    auto oldest = alerts_.end();
    for (auto it = alerts_.begin(); it != alerts_.end(); ++it) {
      if (!it->second.active() &&
          (oldest == alerts_.end() || *it->second.cleared < *oldest->second.cleared))
        oldest = it;
    }
    alerts_.erase(oldest);
    --cleared;
  }
}

void LiveState::ReplaceFromLake(std::vector<VehicleView> vehicles,
                                std::vector<IncidentView> incidents,
                                std::vector<CameraView> cameras, std::deque<CommitView> commits,
                                std::array<uint64_t, stream::kOutputTableCount> rows_committed) {
  MutexLock lock(&mu_);
  vehicles_.clear();
  for (auto& v : vehicles) vehicles_.emplace(v.device_id, std::move(v));
  incidents_.clear();
  for (auto& i : incidents) incidents_.emplace(i.incident_id, std::move(i));
  cameras_.clear();
  for (auto& c : cameras) cameras_.emplace(c.camera_id, std::move(c));
  commits_ = std::move(commits);
  last_commit_.reset();
  for (const CommitView& c : commits_) {
    if (!last_commit_ || c.at > *last_commit_) last_commit_ = c.at;
  }
  rows_committed_ = rows_committed;
  rows_out_ = rows_committed;  // a lake at rest produced what it committed
  records_ = 0;
  for (Topic t : kAllTopics) records_ += rows_committed[static_cast<size_t>(t)];
  records_ += rows_committed[static_cast<size_t>(OutputTable::kDeadLetters)];
  table_commits_ = commits_.size();
  state_ = PipelineState::kServingLake;
  serving_lake_ = true;
}

void LiveState::ReplaceLakeProgress(
    const std::vector<GroupView>& groups,
    std::array<std::optional<EventTime>, stream::kOutputTableCount> newest) {
  MutexLock lock(&mu_);
  groups_.clear();
  for (const GroupView& g : groups) groups_[g.group] = g;
  newest_event_time_ = newest;
}

void LiveState::ReplaceLoads(std::optional<std::deque<LoadView>> loads,
                             std::vector<TableLoadView> tables, bool present, std::string busy) {
  MutexLock lock(&mu_);
  warehouse_.present = present;
  warehouse_.retrying = std::move(busy);
  if (!loads) return;
  loads_ = std::move(*loads);
  load_tables_.clear();
  for (TableLoadView& t : tables) load_tables_[t.table] = std::move(t);
}

LiveSnapshot LiveState::Snapshot() const {
  LiveSnapshot s;
  s.mode = options_.mode;
  s.lake = options_.lake;
  s.topic_names = options_.topic_names;
  s.started = started_;
  const int64_t now_second =
      std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count();
  MutexLock lock(&mu_);
  s.now = clock_->WallNow();
  s.state = state_;
  s.error = error_;
  s.vehicles.reserve(vehicles_.size());
  for (const auto& [id, v] : vehicles_) s.vehicles.push_back(v);
  for (const auto& [id, i] : incidents_) s.incidents.push_back(i);
  for (const auto& [id, c] : cameras_) s.cameras.push_back(c);
  s.events_in = events_in_;
  s.dead_letters = dead_letters_;
  s.late_events = late_events_;
  s.dead_letters_other = dead_letters_other_;
  s.late_events_total = late_events_total_;
  s.quarantined = quarantined_;
  s.last_quarantine_reason = last_quarantine_reason_;
  s.rows_out = rows_out_;
  s.rows_committed = rows_committed_;
  s.rows_produced_known = !serving_lake_;
  s.newest_event_time = newest_event_time_;
  s.watermark_delay = options_.watermark_delay;
  // The history ends at the current second; seconds the ring has not reached yet are zero.
  s.rate_end_second = now_second;
  for (size_t t = 0; t < kTopicCount; ++t) {
    s.rates[t].assign(kRateSeconds, 0);
    if (rate_second_ == INT64_MIN) continue;
    for (int i = 0; i < kRateSeconds; ++i) {
      const int64_t sec = now_second - kRateSeconds + 1 + i;
      if (sec > rate_second_ || sec <= rate_second_ - kRateSeconds) continue;
      s.rates[t][static_cast<size_t>(i)] =
          rate_ring_[t][static_cast<size_t>(((sec % kRateSeconds) + kRateSeconds) % kRateSeconds)];
    }
  }
  for (const auto& [g, v] : groups_) s.groups.push_back(v);
  s.inputs = inputs_;
  s.commits = commits_;
  s.loads = loads_;
  s.load_tables.reserve(load_tables_.size());
  for (const auto& [name, t] : load_tables_) s.load_tables.push_back(t);
  s.warehouse = warehouse_;
  s.records = records_;
  s.epochs_committed = epochs_committed_;
  s.table_commits = table_commits_;
  s.commit_conflicts = commit_conflicts_;
  s.commits_by_others = commits_by_others_;
  s.staged_taken = staged_taken_;
  s.misplaced = misplaced_;
  s.forwarded = forwarded_;
  s.repartition_received = repartition_received_;
  s.repartition_duplicates = repartition_duplicates_;
  s.epochs_replayed = epochs_replayed_;
  s.last_commit_latency = last_commit_latency_;
  s.last_commit = last_commit_;
  s.commit_latency_counts = commit_latency_counts_;
  s.commit_latency_sum = commit_latency_sum_;
  s.commit_latency_count = commit_latency_count_;
  s.alerts.reserve(alerts_.size());
  for (const auto& [key, a] : alerts_) s.alerts.push_back(a);
  std::sort(s.alerts.begin(), s.alerts.end(), [](const AlertView& a, const AlertView& b) {
    if (a.active() != b.active()) return a.active();
    const WallTime ta = a.cleared.value_or(a.since), tb = b.cleared.value_or(b.since);
    return ta > tb;
  });
  return s;
}

HealthView LiveState::Health() const {
  HealthView h;
  const ProcessingTime now = clock_->Now();
  MutexLock lock(&mu_);
  h.state = state_;
  h.error = error_;
  h.since_turn = std::chrono::duration_cast<Micros>(now - last_turn_);
  h.groups.reserve(groups_.size());
  for (const auto& [g, v] : groups_) h.groups.push_back(v);
  return h;
}

ProbeResult Liveness(const HealthView& h, Micros stall_timeout) {
  if (h.state == PipelineState::kFailed) {
    return {false, h.error.empty() ? "failed\n" : "failed: " + h.error + "\n"};
  }
  const bool turning = h.state == PipelineState::kStarting || h.state == PipelineState::kRunning;
  if (turning && stall_timeout.count() > 0 && h.since_turn >= stall_timeout) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(h.since_turn).count();
    return {false,
            "stalled: the processing loop has not turned for " + std::to_string(seconds) + " s\n"};
  }
  return {true, "ok\n"};
}

ProbeResult Readiness(const HealthView& h) {
  switch (h.state) {
    case PipelineState::kServingLake:
      return {true, "ready\n"};
    case PipelineState::kRunning:
      break;
    default:
      return {false, "not ready: pipeline " + std::string(PipelineStateName(h.state)) + "\n"};
  }
  if (h.groups.empty()) return {false, "not ready: no partition group assigned\n"};
  for (const GroupView& g : h.groups) {
    if (g.replaying) {
      return {false, "not ready: partition group " + std::to_string(g.group) +
                         " is re-running its last epoch\n"};
    }
    if (g.committed_epoch < 1) {
      return {false, "not ready: partition group " + std::to_string(g.group) +
                         " has no committed epoch yet\n"};
    }
  }
  return {true, "ready: " + std::to_string(h.groups.size()) + " partition group(s)\n"};
}

}  // namespace smartcity::web
