#include "stream/core.h"

#include <algorithm>

#include "stream/state_codec.h"
#include "stream/tables.h"
#include "transport/kafka_client.h"

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
// Version 2 adds the forwarded records' dedupe marks (written only once there are any).
constexpr uint32_t kCoreVersionRouted = 2;

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
// Per topic: the raw columns of the device id, partition and offset (join inputs only).
struct IdColumns {
  int device, partition, offset;
};
constexpr IdColumns IdColumnsOf(Topic t) {
  switch (t) {
    case Topic::kWeather:
      return {weather_col::kDeviceId, weather_col::kPartition, weather_col::kOffset};
    case Topic::kEmergency:
      return {emergency_col::kDeviceId, emergency_col::kPartition, emergency_col::kOffset};
    default:
      return {vehicle_col::kDeviceId, vehicle_col::kPartition, vehicle_col::kOffset};
  }
}

}  // namespace

StreamCore::StreamCore(const StreamCoreOptions& options, Clock* clock)
    : options_(options),
      parser_(options.parser),
      reparser_(options.parser),
      join_(options.join, clock),
      guard_(options.guard),
      reparse_dead_letters_(DeadLetterSchema()),
      joinparser_(options.parser) {}

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
  forwards_.clear();
  const bool any_forwarded = std::any_of(records.begin(), records.end(),
                                         [](const InputRecord& r) { return r.repartition; });
  if (any_forwarded) {
    forwarded_.Clear();
    for (auto& v : forwarded_payloads_) v.clear();
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const InputRecord& rec = records[i];
    const size_t t = static_cast<size_t>(rec.topic);
    if (rec.repartition) {
      // Joined only; a record at or below what its origin partition already had joined here is
      // one forwarded again after a crash.
      const int input = kJoinInputOf[t];
      if (input < 0) continue;
      std::vector<int64_t>& upto = joined_upto_[static_cast<size_t>(input)];
      const auto from = static_cast<size_t>(std::max(rec.position.partition.value(), 0));
      if (from >= upto.size()) upto.resize(from + 1, -1);
      if (rec.position.offset <= upto[from]) {
        ++routing_counters_.duplicates;
        continue;
      }
      upto[from] = rec.position.offset;
      ++routing_counters_.received;
      if (joinparser_.Parse(rec.topic, rec.payload, rec.position, received,
                            &forwarded_.Raw(rec.topic), &forwarded_.dead_letters)) {
        forwarded_payloads_[t].push_back(rec.payload);
      }
      continue;
    }
    if (!parser_.Parse(rec.topic, rec.payload, rec.position, received, &out->Raw(rec.topic),
                       &out->dead_letters)) {
      continue;
    }
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
  for (Topic topic : kTopicOfInput) {
    const size_t t = static_cast<size_t>(topic);
    JoinDirect(topic, start[t], out->Raw(topic).num_rows(), payload_of_row_[t], out);
  }
  WriteLate(out->raw, start, payload_of_row_, received, out);
  if (any_forwarded) {
    late_.clear();
    for (Topic topic : kTopicOfInput)
      JoinRows(topic, forwarded_.Raw(topic), 0, forwarded_.Raw(topic).num_rows(), out);
    WriteLate(forwarded_.raw, {}, forwarded_payloads_, received, out);
  }
}

void StreamCore::JoinRows(Topic topic, const RecordBatch& batch, size_t begin, size_t end,
                          StreamOutput* out) {
  if (begin >= end) return;
  switch (topic) {
    case Topic::kVehicle:
      join_.AddVehicles(batch, begin, end, &out->enriched, &late_);
      break;
    case Topic::kWeather:
      join_.AddWeather(batch, begin, end, &out->enriched, &late_);
      break;
    case Topic::kEmergency:
      join_.AddEmergencies(batch, begin, end, &out->enriched, &late_);
      break;
    default:
      break;
  }
}

void StreamCore::JoinDirect(Topic topic, size_t begin, size_t end,
                            const std::vector<std::string_view>& payloads, StreamOutput* out) {
  const RecordBatch& raw = out->Raw(topic);
  const int32_t n = options_.routing.partitions;
  if (n <= 0 || partition_ < 0 || begin >= end) {
    JoinRows(topic, raw, begin, end, out);
    return;
  }
  const IdColumns cols = IdColumnsOf(topic);
  const Column& device = raw.column(static_cast<size_t>(cols.device));
  misplaced_rows_.clear();
  for (size_t row = begin; row < end; ++row) {
    const std::string_view id = device.GetString(row);
    const int32_t q = JavaPartitionForKey(id, n);
    if (q == partition_) continue;
    ++routing_counters_.misplaced;
    if (!options_.routing.forward) continue;
    misplaced_rows_.push_back(row);
    forwards_.push_back(ForwardRecord{
        topic, PartitionId(q), id, payloads[row - begin],
        SourcePosition{PartitionId(raw.column(static_cast<size_t>(cols.partition)).GetInt32(row)),
                       raw.column(static_cast<size_t>(cols.offset)).GetInt64(row)}});
  }
  routing_counters_.forwarded += misplaced_rows_.size();
  // The rows between the misplaced ones, in order.
  size_t from = begin;
  for (size_t row : misplaced_rows_) {
    JoinRows(topic, raw, from, row, out);
    from = row + 1;
  }
  JoinRows(topic, raw, from, end, out);
}

void StreamCore::WriteLate(const std::array<RecordBatch, kTopicCount>& batches,
                           const std::array<size_t, kTopicCount>& start,
                           const std::array<std::vector<std::string_view>, kTopicCount>& payloads,
                           EventTime received, StreamOutput* out) {
  using namespace late_event_col;
  RecordBatch& le = out->late_events;
  for (const LateRecord& l : late_) {
    Topic topic = Topic::kVehicle;
    if (l.input == JoinInput::kWeather) {
      topic = Topic::kWeather;
    } else if (l.input == JoinInput::kEmergency) {
      topic = Topic::kEmergency;
    }
    const IdColumns cols = IdColumnsOf(topic);
    const size_t t = static_cast<size_t>(topic);
    const RecordBatch& raw = batches[t];
    const std::string_view payload = payloads[t][l.row - start[t]];
    le.column(kTopic).AppendString(options_.parser.topic_names[topic]);
    le.column(kPartition)
        .AppendInt32(raw.column(static_cast<size_t>(cols.partition)).GetInt32(l.row));
    le.column(kOffset).AppendInt64(raw.column(static_cast<size_t>(cols.offset)).GetInt64(l.row));
    le.column(kDeviceId).AppendString(
        raw.column(static_cast<size_t>(cols.device)).GetString(l.row));
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
  const bool routed = std::any_of(joined_upto_.begin(), joined_upto_.end(),
                                  [](const std::vector<int64_t>& v) { return !v.empty(); });
  StateWriter w(out);
  w.U32(kCoreMagic);
  w.U32(routed ? kCoreVersionRouted : kCoreVersion);
  w.Str(join);
  w.Str(guard);
  if (routed) {
    for (const std::vector<int64_t>& upto : joined_upto_) {
      w.U32(static_cast<uint32_t>(upto.size()));
      for (int64_t o : upto) w.I64(o);
    }
  }
  return Status::OK();
}

Status StreamCore::RestoreState(std::string_view in) {
  StateReader r(in);
  const uint32_t magic = r.U32();
  if (r.ok() && magic != kCoreMagic) return join_.RestoreState(in);  // the join's alone (older)
  const uint32_t version = r.U32();
  if (!r.ok()) return Status::Corruption("stream state checkpoint: truncated");
  if (version != kCoreVersion && version != kCoreVersionRouted) {
    return Status::Corruption("stream state checkpoint: version " + std::to_string(version) +
                              " is not supported (this build reads versions 1 and 2)");
  }
  const std::string_view join = r.Str();
  const std::string_view guard = r.Str();
  std::array<std::vector<int64_t>, kJoinInputCount> upto;
  if (version == kCoreVersionRouted) {
    for (std::vector<int64_t>& v : upto) {
      const uint32_t n = r.U32();
      if (!r.ok() || n > (1u << 20)) break;
      v.resize(n);
      for (int64_t& o : v) o = r.I64();
    }
  }
  if (!r.ok()) return Status::Corruption("stream state checkpoint: truncated");
  if (!r.at_end()) return Status::Corruption("stream state checkpoint: trailing bytes");
  EventTimeGuard restored(options_.guard);
  SC_RETURN_IF_ERROR(restored.RestoreState(guard));
  SC_RETURN_IF_ERROR(join_.RestoreState(join));
  guard_ = std::move(restored);
  joined_upto_ = std::move(upto);
  return Status::OK();
}

}  // namespace smartcity::stream
