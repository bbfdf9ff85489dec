#include "stream/core.h"

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

StreamCore::StreamCore(const StreamCoreOptions& options, Clock* clock)
    : options_(options), parser_(options.parser), join_(options.join, clock) {}

void StreamCore::Process(std::span<const InputRecord> records, WallTime received_at,
                         StreamOutput* out) {
  // The receivedAt column holds the wall-clock time as a timestamp value.
  const EventTime received = AsEventTime(received_at);
  std::array<size_t, kTopicCount> start{};
  for (Topic t : kAllTopics) {
    start[static_cast<size_t>(t)] = out->Raw(t).num_rows();
    record_of_row_[static_cast<size_t>(t)].clear();
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const InputRecord& rec = records[i];
    if (parser_.Parse(rec.topic, rec.payload, rec.position, received, &out->Raw(rec.topic),
                      &out->dead_letters)) {
      record_of_row_[static_cast<size_t>(rec.topic)].push_back(static_cast<uint32_t>(i));
    }
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
    const InputRecord& rec = records[record_of_row_[t][l.row - start[t]]];
    le.column(kTopic).AppendString(options_.parser.topic_names[topic]);
    le.column(kPartition).AppendInt32(raw.column(static_cast<size_t>(part_col)).GetInt32(l.row));
    le.column(kOffset).AppendInt64(raw.column(static_cast<size_t>(off_col)).GetInt64(l.row));
    le.column(kDeviceId).AppendString(raw.column(static_cast<size_t>(device_col)).GetString(l.row));
    le.column(kEventTime).AppendTimestamp(l.event_time);
    le.column(kWatermark).AppendTimestamp(l.watermark);
    le.column(kLatenessMicros).AppendInt64((l.watermark - l.event_time).count());
    le.column(kPayload).AppendString(rec.payload);
    le.column(kReceivedAt).AppendTimestamp(received);
    late_dates_.Append(l.event_time, &le.column(kDate));
  }
}

}  // namespace smartcity::stream
