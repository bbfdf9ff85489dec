#include "stream/tables.h"

#include <climits>

namespace smartcity::stream {

namespace {

using T = ColumnType;

std::shared_ptr<const Schema> Make(std::vector<ColumnSpec> columns) {
  auto s = std::make_shared<Schema>();
  s->columns = std::move(columns);
  return s;
}

void AddProvenance(std::vector<ColumnSpec>* c) {
  c->push_back({"_partition", T::kInt32, false});
  c->push_back({"_offset", T::kInt64, false});
  c->push_back({"date", T::kString, false});
}

std::shared_ptr<const Schema> BuildRaw(Topic topic) {
  std::vector<ColumnSpec> c;
  switch (topic) {
    case Topic::kVehicle:
      c = {{"id", T::kString},        {"deviceId", T::kString},  {"timestamp", T::kTimestamp},
           {"latitude", T::kDouble},  {"longitude", T::kDouble}, {"speed", T::kDouble},
           {"direction", T::kString}, {"make", T::kString},      {"model", T::kString},
           {"year", T::kInt32},       {"fuelType", T::kString}};
      break;
    case Topic::kGps:
      c = {{"id", T::kString},    {"deviceId", T::kString},  {"timestamp", T::kTimestamp},
           {"speed", T::kDouble}, {"direction", T::kString}, {"vehicleType", T::kString}};
      break;
    case Topic::kTraffic:
      c = {{"id", T::kString},       {"deviceId", T::kString},  {"cameraId", T::kString},
           {"latitude", T::kDouble}, {"longitude", T::kDouble}, {"timestamp", T::kTimestamp},
           {"snapshot", T::kString}};
      break;
    case Topic::kWeather:
      c = {{"id", T::kString},
           {"deviceId", T::kString},
           {"latitude", T::kDouble},
           {"longitude", T::kDouble},
           {"timestamp", T::kTimestamp},
           {"temperature", T::kDouble},
           {"weatherCondition", T::kString},
           {"precipitation", T::kDouble},
           {"windSpeed", T::kDouble},
           {"humidity", T::kInt32},
           {"airQualityIndex", T::kInt32}};
      break;
    case Topic::kEmergency:
      c = {{"id", T::kString},        {"deviceId", T::kString},     {"incidentId", T::kString},
           {"type", T::kString},      {"timestamp", T::kTimestamp}, {"latitude", T::kDouble},
           {"longitude", T::kDouble}, {"status", T::kString},       {"description", T::kString}};
      break;
  }
  AddProvenance(&c);
  return Make(std::move(c));
}

}  // namespace

const std::shared_ptr<const Schema>& RawSchema(Topic topic) {
  static const std::array<std::shared_ptr<const Schema>, kTopicCount> kSchemas = {
      BuildRaw(Topic::kVehicle), BuildRaw(Topic::kGps), BuildRaw(Topic::kTraffic),
      BuildRaw(Topic::kWeather), BuildRaw(Topic::kEmergency)};
  return kSchemas[static_cast<size_t>(topic)];
}

const std::shared_ptr<const Schema>& EnrichedSchema() {
  static const std::shared_ptr<const Schema> kSchema = Make({
      {"deviceId", T::kString},
      {"timestamp", T::kTimestamp},
      {"latitude", T::kDouble},
      {"longitude", T::kDouble},
      {"speed", T::kDouble},
      {"direction", T::kString},
      {"temperature", T::kDouble},
      {"weatherCondition", T::kString},
      {"precipitation", T::kDouble},
      {"windSpeed", T::kDouble},
      {"humidity", T::kInt32},
      {"airQualityIndex", T::kInt32},
      {"emergencyType", T::kString, true},
      {"emergencyStatus", T::kString, true},
      {"incidentId", T::kString, true},
      {"_vehiclePartition", T::kInt32},
      {"_vehicleOffset", T::kInt64},
      {"_weatherPartition", T::kInt32},
      {"_weatherOffset", T::kInt64},
      {"_emergencyPartition", T::kInt32, true},
      {"_emergencyOffset", T::kInt64, true},
      {"date", T::kString},
  });
  return kSchema;
}

const std::shared_ptr<const Schema>& DeadLetterSchema() {
  static const std::shared_ptr<const Schema> kSchema = Make({
      {"topic", T::kString},
      {"partition", T::kInt32},
      {"offset", T::kInt64},
      {"payload", T::kString},
      {"payloadEncoding", T::kString},
      {"payloadBytes", T::kInt64},
      {"payloadTruncated", T::kBool},
      {"reason", T::kString},
      {"receivedAt", T::kTimestamp},
      {"date", T::kString},
  });
  return kSchema;
}

const std::shared_ptr<const Schema>& LateEventSchema() {
  static const std::shared_ptr<const Schema> kSchema = Make({
      {"topic", T::kString},
      {"partition", T::kInt32},
      {"offset", T::kInt64},
      {"deviceId", T::kString},
      {"eventTime", T::kTimestamp},
      {"watermark", T::kTimestamp},
      {"latenessMicros", T::kInt64},
      {"payload", T::kString},
      {"receivedAt", T::kTimestamp},
      {"date", T::kString},
  });
  return kSchema;
}

void FormatDate(EventTime t, char* out) {
  char full[kTimestampLength];
  FormatTimestamp(t, full);
  for (int i = 0; i < 10; ++i) out[i] = full[i];
}

void DateColumnWriter::Append(EventTime t, Column* column) {
  const int64_t day = std::chrono::floor<std::chrono::days>(t).time_since_epoch().count();
  if (day != day_) {
    FormatDate(t, text_);
    day_ = day;
  }
  column->AppendString(std::string_view(text_, 10));
}

}  // namespace smartcity::stream
