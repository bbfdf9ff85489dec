// The tables the stream processor produces: their names, their schemas (columnar, see
// common/record_batch.h) and the column index of every field, so the parser and the join append by
// index with no lookup per row.
//
// Raw tables (one per topic) hold every valid record: the topic's fields in SPEC order with
// `location` replaced by `latitude`, `longitude`, then provenance `_partition`, `_offset` (Kafka
// partition/offset, or partition 0 and the in-process sequence number) and the derived Hive
// partition column `date` (YYYY-MM-DD of the event timestamp, UTC).
//
// Thread-safety: the schemas are immutable and built once (thread-safe static init).
#pragma once

#include <memory>
#include <string_view>

#include "common/record_batch.h"
#include "transport/message.h"

namespace smartcity::stream {

inline constexpr std::string_view kEnrichedTable = "enriched_data";
inline constexpr std::string_view kDeadLettersTable = "_dead_letters";
inline constexpr std::string_view kLateEventsTable = "_late_events";

// Column indices, in schema order.
namespace vehicle_col {
enum : int {
  kId,
  kDeviceId,
  kTimestamp,
  kLatitude,
  kLongitude,
  kSpeed,
  kDirection,
  kMake,
  kModel,
  kYear,
  kFuelType,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
namespace gps_col {
enum : int {
  kId,
  kDeviceId,
  kTimestamp,
  kSpeed,
  kDirection,
  kVehicleType,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
namespace traffic_col {
enum : int {
  kId,
  kDeviceId,
  kCameraId,
  kLatitude,
  kLongitude,
  kTimestamp,
  kSnapshot,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
namespace weather_col {
enum : int {
  kId,
  kDeviceId,
  kLatitude,
  kLongitude,
  kTimestamp,
  kTemperature,
  kWeatherCondition,
  kPrecipitation,
  kWindSpeed,
  kHumidity,
  kAirQualityIndex,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
namespace emergency_col {
enum : int {
  kId,
  kDeviceId,
  kIncidentId,
  kType,
  kTimestamp,
  kLatitude,
  kLongitude,
  kStatus,
  kDescription,
  kPartition,
  kOffset,
  kDate,
  kCount
};
}
// enriched_data: the vehicle's position and motion, the weather there, the emergency if any
// (nullable), and where each input row came from (`_emergency*` null when there is no emergency).
namespace enriched_col {
enum : int {
  kDeviceId,
  kTimestamp,
  kLatitude,
  kLongitude,
  kSpeed,
  kDirection,
  kTemperature,
  kWeatherCondition,
  kPrecipitation,
  kWindSpeed,
  kHumidity,
  kAirQualityIndex,
  kEmergencyType,
  kEmergencyStatus,
  kIncidentId,
  kVehiclePartition,
  kVehicleOffset,
  kWeatherPartition,
  kWeatherOffset,
  kEmergencyPartition,
  kEmergencyOffset,
  kDate,
  kCount
};
}
// _dead_letters: a record that failed parsing or validation, whole. `payload` is the record's bytes
// when they are valid UTF-8 (`payloadEncoding` "utf-8"), else their base64 (`payloadEncoding`
// "base64"); it is cut to ParserOptions::dead_letter_payload_cap bytes (default 1 MiB) with
// `payloadTruncated` set, and `payloadBytes` is always the original size. `date` is of
// `receivedAt`.
namespace dead_letter_col {
enum : int {
  kTopic,
  kPartition,
  kOffset,
  kPayload,
  kPayloadEncoding,
  kPayloadBytes,
  kPayloadTruncated,
  kReason,
  kReceivedAt,
  kDate,
  kCount
};
}
// _late_events: a join input record whose event time was behind the join watermark when it arrived.
// `latenessMicros` = watermark - eventTime (> 0), in microseconds. `date` is of the event time.
namespace late_event_col {
enum : int {
  kTopic,
  kPartition,
  kOffset,
  kDeviceId,
  kEventTime,
  kWatermark,
  kLatenessMicros,
  kPayload,
  kReceivedAt,
  kDate,
  kCount
};
}

const std::shared_ptr<const Schema>& RawSchema(Topic topic);
const std::shared_ptr<const Schema>& EnrichedSchema();
const std::shared_ptr<const Schema>& DeadLetterSchema();
const std::shared_ptr<const Schema>& LateEventSchema();

// Writes "YYYY-MM-DD" (10 chars) of the UTC day of `t` to out.
void FormatDate(EventTime t, char* out);

// Appends the `date` value of `t` to a string column, caching the last day (rows come in time
// order).
class DateColumnWriter {
 public:
  void Append(EventTime t, Column* column);

 private:
  int64_t day_ = INT64_MIN;
  char text_[10] = {};
};

}  // namespace smartcity::stream
