#include "stream/stream_testutil.h"

namespace smartcity::stream::testing {

namespace {
void AppendDate(Column* c, EventTime ts) {
  char d[10];
  FormatDate(ts, d);
  c->AppendString(std::string_view(d, 10));
}
}  // namespace

void AppendVehicleRow(RecordBatch* b, std::string_view device, EventTime ts, int64_t offset,
                      double speed, std::string_view direction, int32_t partition) {
  using namespace vehicle_col;
  b->column(kId).AppendString("v-" + std::to_string(offset));
  b->column(kDeviceId).AppendString(device);
  b->column(kTimestamp).AppendTimestamp(ts);
  b->column(kLatitude).AppendDouble(51.5);
  b->column(kLongitude).AppendDouble(-0.12);
  b->column(kSpeed).AppendDouble(speed);
  b->column(kDirection).AppendString(direction);
  b->column(kMake).AppendString("Ford");
  b->column(kModel).AppendString("Focus");
  b->column(kYear).AppendInt32(2015);
  b->column(kFuelType).AppendString("Petrol");
  b->column(kPartition).AppendInt32(partition);
  b->column(kOffset).AppendInt64(offset);
  AppendDate(&b->column(kDate), ts);
}

void AppendWeatherRow(RecordBatch* b, std::string_view device, EventTime ts, int64_t offset,
                      double temperature, std::string_view condition, int32_t partition) {
  using namespace weather_col;
  b->column(kId).AppendString("w-" + std::to_string(offset));
  b->column(kDeviceId).AppendString(device);
  b->column(kLatitude).AppendDouble(51.5);
  b->column(kLongitude).AppendDouble(-0.12);
  b->column(kTimestamp).AppendTimestamp(ts);
  b->column(kTemperature).AppendDouble(temperature);
  b->column(kWeatherCondition).AppendString(condition);
  b->column(kPrecipitation).AppendDouble(0);
  b->column(kWindSpeed).AppendDouble(12);
  b->column(kHumidity).AppendInt32(70);
  b->column(kAirQualityIndex).AppendInt32(40);
  b->column(kPartition).AppendInt32(partition);
  b->column(kOffset).AppendInt64(offset);
  AppendDate(&b->column(kDate), ts);
}

void AppendEmergencyRow(RecordBatch* b, std::string_view device, EventTime ts, int64_t offset,
                        std::string_view incident, std::string_view type, std::string_view status,
                        int32_t partition) {
  using namespace emergency_col;
  b->column(kId).AppendString("e-" + std::to_string(offset));
  b->column(kDeviceId).AppendString(device);
  b->column(kIncidentId).AppendString(incident);
  b->column(kType).AppendString(type);
  b->column(kTimestamp).AppendTimestamp(ts);
  b->column(kLatitude).AppendDouble(51.5);
  b->column(kLongitude).AppendDouble(-0.12);
  b->column(kStatus).AppendString(status);
  b->column(kDescription).AppendString("test");
  b->column(kPartition).AppendInt32(partition);
  b->column(kOffset).AppendInt64(offset);
  AppendDate(&b->column(kDate), ts);
}

std::vector<RowKey> Keys(const RecordBatch& e, size_t from) {
  using namespace enriched_col;
  std::vector<RowKey> keys;
  for (size_t r = from; r < e.num_rows(); ++r) {
    keys.emplace_back(
        std::string(e.column(kDeviceId).GetString(r)), e.column(kTimestamp).GetInt64(r),
        e.column(kVehicleOffset).GetInt64(r), e.column(kWeatherOffset).GetInt64(r),
        e.column(kEmergencyOffset).IsNull(r) ? -1 : e.column(kEmergencyOffset).GetInt64(r));
  }
  return keys;
}

JoinHarness::JoinHarness(JoinOptions options) : join(options, &clock) {}

int64_t JoinHarness::Vehicle(std::string_view device, EventTime ts) {
  const size_t row = vehicles.num_rows();
  AppendVehicleRow(&vehicles, device, ts, static_cast<int64_t>(row));
  join.AddVehicles(vehicles, row, row + 1, &out, &late);
  return static_cast<int64_t>(row);
}

int64_t JoinHarness::Weather(std::string_view device, EventTime ts) {
  const size_t row = weather.num_rows();
  AppendWeatherRow(&weather, device, ts, static_cast<int64_t>(row));
  join.AddWeather(weather, row, row + 1, &out, &late);
  return static_cast<int64_t>(row);
}

int64_t JoinHarness::Emergency(std::string_view device, EventTime ts, std::string_view incident) {
  const size_t row = emergencies.num_rows();
  AppendEmergencyRow(&emergencies, device, ts, static_cast<int64_t>(row), incident);
  join.AddEmergencies(emergencies, row, row + 1, &out, &late);
  return static_cast<int64_t>(row);
}

EventTime JoinHarness::SetWatermark(EventTime w) {
  const EventTime at = w + join.options().watermark.delay;
  Vehicle("pacer", at);
  Weather("pacer", at);
  if (join.tracker().has_data(JoinInput::kEmergency)) Emergency("pacer", at, "INC-pacer");
  return Advance();
}

std::vector<RowKey> JoinHarness::RowsOf(std::string_view device) const {
  std::vector<RowKey> rows;
  for (RowKey& k : Keys(out)) {
    if (std::get<0>(k) == device) rows.push_back(std::move(k));
  }
  return rows;
}

}  // namespace smartcity::stream::testing
