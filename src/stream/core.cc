#include "stream/core.h"

#include "stream/state_codec.h"
#include "stream/tables.h"

namespace smartcity::stream {

StreamOutput::StreamOutput()
    : raw{RecordBatch(RawSchema(Topic::kVehicle)), RecordBatch(RawSchema(Topic::kGps)),
          RecordBatch(RawSchema(Topic::kTraffic)), RecordBatch(RawSchema(Topic::kWeather)),
          RecordBatch(RawSchema(Topic::kEmergency))},
      enriched(EnrichedSchema()),
      dead_letters(DeadLetterSchema()),
      late_events(LateEventSchema()) {}

void StreamOutput::Clear() {
  for (RecordBatch& b : raw) b.Clear();
  enriched.Clear();
  dead_letters.Clear();
  late_events.Clear();
}

size_t StreamOutput::TotalRows() const {
  size_t n = enriched.num_rows() + dead_letters.num_rows() + late_events.num_rows();
  for (const RecordBatch& b : raw) n += b.num_rows();
  return n;
}

namespace {

constexpr uint32_t kCoreMagic = 0x52434353;  // "SCCR"
constexpr uint32_t kCoreVersion = 1;

// The join input of a topic, or -1 (gps, traffic: their event times move no watermark).
constexpr std::array<int, kTopicCount> kJoinInputOf = {static_cast<int>(JoinInput::kVehicle), -1,
                                                       -1, static_cast<int>(JoinInput::kWeather),
                                                       static_cast<int>(JoinInput::kEmergency)};
constexpr std::array<int, kTopicCount> kEventTimeColumn = {
    model::ColumnWithRole(model::Table::kVehicle, model::Role::kEventTime),
    model::ColumnWithRole(model::Table::kGps, model::Role::kEventTime),
    model::ColumnWithRole(model::Table::kTraffic, model::Role::kEventTime),
    model::ColumnWithRole(model::Table::kWeather, model::Role::kEventTime),
    model::ColumnWithRole(model::Table::kEmergency, model::Role::kEventTime)};
constexpr Topic kTopicOfInput[kJoinInputCount] = {Topic::kVehicle, Topic::kWeather,
                                                  Topic::kEmergency};

}  // namespace

StreamCore::StreamCore(const StreamCoreOptions& options, Clock* clock)
    : options_(options),
      parser_(options.parser),
      reparser_(options.parser),
      join_(options.join, clock),
      guard_(options.guard),
      reparse_dead_letters_(DeadLetterSchema()) {}

void StreamCore::WriteQuarantined(Topic topic, StreamOutput* out) {
  for (const QuarantinedRecord& q : quarantined_now_) {
    parser_.AppendRejected(topic, q.record.payload, q.record.position, q.record.received_at,
                           q.reason, &out->dead_letters);
  }
  quarantined_now_.clear();
}

void StreamCore::Guard(Topic topic, JoinInput input, const InputRecord& rec, EventTime received,
                       int64_t ts, StreamOutput* out) {
  const size_t t = static_cast<size_t>(topic);
  RecordBatch& raw = out->Raw(topic);
  raw.Truncate(raw.num_rows() - 1);  // the row Parse() just appended: decided below
  guard_.Decide(
      input, GuardedRecord{EventTime(Micros(ts)), rec.position, received, std::string(rec.payload)},
      &released_now_, &quarantined_now_);
  WriteQuarantined(topic, out);
  for (GuardedRecord& r : released_now_) {
    released_.push_back(std::move(r));
    const GuardedRecord& kept = released_.back();
    if (reparser_.Parse(topic, kept.payload, kept.position, kept.received_at, &raw,
                        &reparse_dead_letters_)) {
      payload_of_row_[t].push_back(kept.payload);
    }
  }
  released_now_.clear();
  reparse_dead_letters_.Clear();
}

void StreamCore::Process(std::span<const InputRecord> records, WallTime received_at,
                         StreamOutput* out) {
  // The receivedAt column holds the wall-clock time as a timestamp value.
  const EventTime received = AsEventTime(received_at);
  std::array<size_t, kTopicCount> start{};
  for (Topic t : kAllTopics) {
    start[static_cast<size_t>(t)] = out->Raw(t).num_rows();
    payload_of_row_[static_cast<size_t>(t)].clear();
  }
  released_.clear();
  for (size_t i = 0; i < records.size(); ++i) {
    const InputRecord& rec = records[i];
    if (!parser_.Parse(rec.topic, rec.payload, rec.position, received, &out->Raw(rec.topic),
                       &out->dead_letters)) {
      continue;
    }
    const size_t t = static_cast<size_t>(rec.topic);
    if (const int input = kJoinInputOf[t]; input >= 0) {
      const RecordBatch& raw = out->Raw(rec.topic);
      const int64_t ts =
          raw.column(static_cast<size_t>(kEventTimeColumn[t])).GetInt64(raw.num_rows() - 1);
      if (!guard_.Admit(static_cast<JoinInput>(input), ts)) {
        Guard(rec.topic, static_cast<JoinInput>(input), rec, received, ts, out);
        continue;
      }
    }
    payload_of_row_[t].push_back(rec.payload);
  }
  late_.clear();
  const auto range = [&](Topic t) {
    return std::pair<size_t, size_t>(start[static_cast<size_t>(t)], out->Raw(t).num_rows());
  };
  auto [v0, v1] = range(Topic::kVehicle);
  join_.AddVehicles(out->Raw(Topic::kVehicle), v0, v1, &out->enriched, &late_);
  auto [w0, w1] = range(Topic::kWeather);
  join_.AddWeather(out->Raw(Topic::kWeather), w0, w1, &out->enriched, &late_);
  auto [e0, e1] = range(Topic::kEmergency);
  join_.AddEmergencies(out->Raw(Topic::kEmergency), e0, e1, &out->enriched, &late_);

  using namespace late_event_col;
  RecordBatch& le = out->late_events;
  for (const LateRecord& l : late_) {
    Topic topic = Topic::kVehicle;
    int device_col = vehicle_col::kDeviceId, part_col = vehicle_col::kPartition,
        off_col = vehicle_col::kOffset;
    if (l.input == JoinInput::kWeather) {
      topic = Topic::kWeather;
      device_col = weather_col::kDeviceId, part_col = weather_col::kPartition,
      off_col = weather_col::kOffset;
    } else if (l.input == JoinInput::kEmergency) {
      topic = Topic::kEmergency;
      device_col = emergency_col::kDeviceId, part_col = emergency_col::kPartition,
      off_col = emergency_col::kOffset;
    }
    const RecordBatch& raw = out->Raw(topic);
    const size_t t = static_cast<size_t>(topic);
    const std::string_view payload = payload_of_row_[t][l.row - start[t]];
    le.column(kTopic).AppendString(options_.parser.topic_names[topic]);
    le.column(kPartition).AppendInt32(raw.column(static_cast<size_t>(part_col)).GetInt32(l.row));
    le.column(kOffset).AppendInt64(raw.column(static_cast<size_t>(off_col)).GetInt64(l.row));
    le.column(kDeviceId).AppendString(raw.column(static_cast<size_t>(device_col)).GetString(l.row));
    le.column(kEventTime).AppendTimestamp(l.event_time);
    le.column(kWatermark).AppendTimestamp(l.watermark);
    le.column(kLatenessMicros).AppendInt64((l.watermark - l.event_time).count());
    le.column(kPayload).AppendString(payload);
    le.column(kReceivedAt).AppendTimestamp(received);
    late_dates_.Append(l.event_time, &le.column(kDate));
  }
}

void StreamCore::Flush(StreamOutput* out) {
  for (size_t i = 0; i < kJoinInputCount; ++i) {
    guard_.Flush(static_cast<JoinInput>(i), &quarantined_now_);
    WriteQuarantined(kTopicOfInput[i], out);
  }
  join_.Flush(&out->enriched);
}

Status StreamCore::SerializeState(std::string* out) const {
  std::string join, guard;
  SC_RETURN_IF_ERROR(join_.SerializeState(&join));
  guard_.SerializeState(&guard);
  StateWriter w(out);
  w.U32(kCoreMagic);
  w.U32(kCoreVersion);
  w.Str(join);
  w.Str(guard);
  return Status::OK();
}

Status StreamCore::RestoreState(std::string_view in) {
  StateReader r(in);
  const uint32_t magic = r.U32();
  if (r.ok() && magic != kCoreMagic) return join_.RestoreState(in);  // the join's alone (older)
  const uint32_t version = r.U32();
  if (!r.ok()) return Status::Corruption("stream state checkpoint: truncated");
  if (version != kCoreVersion) {
    return Status::Corruption("stream state checkpoint: version " + std::to_string(version) +
                              " is not supported (this build reads version 1)");
  }
  const std::string_view join = r.Str();
  const std::string_view guard = r.Str();
  if (!r.ok()) return Status::Corruption("stream state checkpoint: truncated");
  if (!r.at_end()) return Status::Corruption("stream state checkpoint: trailing bytes");
  EventTimeGuard restored(options_.guard);
  SC_RETURN_IF_ERROR(restored.RestoreState(guard));
  SC_RETURN_IF_ERROR(join_.RestoreState(join));
  guard_ = std::move(restored);
  return Status::OK();
}

}  // namespace smartcity::stream
