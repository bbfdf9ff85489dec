// Test support for the stream core: raw rows built by hand, and a join harness on a fake clock.
#pragma once

#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "common/record_batch.h"
#include "stream/join.h"
#include "stream/tables.h"

namespace smartcity::stream::testing {

// 2026-01-05T07:00:00Z, the simulator's default start.
inline const EventTime kT0 = EventTime(Micros(1'767'596'400'000'000LL));
inline EventTime At(double seconds) {
  return kT0 + Micros(static_cast<int64_t>(seconds * 1e6));
}

void AppendVehicleRow(RecordBatch* b, std::string_view device, EventTime ts, int64_t offset,
                      double speed = 50, std::string_view direction = "North",
                      int32_t partition = 0);
void AppendWeatherRow(RecordBatch* b, std::string_view device, EventTime ts, int64_t offset,
                      double temperature = 10, std::string_view condition = "Sunny",
                      int32_t partition = 0);
void AppendEmergencyRow(RecordBatch* b, std::string_view device, EventTime ts, int64_t offset,
                        std::string_view incident = "INC-1", std::string_view type = "Accident",
                        std::string_view status = "Active", int32_t partition = 0);

// One enriched row reduced to its identity: (deviceId, timestamp, vehicle offset, weather offset,
// emergency offset or -1).
using RowKey = std::tuple<std::string, int64_t, int64_t, int64_t, int64_t>;
std::vector<RowKey> Keys(const RecordBatch& enriched, size_t from = 0);

// Feeds hand-written records one at a time to an EventTimeJoin and collects what it emits.
class JoinHarness {
 public:
  explicit JoinHarness(JoinOptions options = {});
  // Each adds one record (offsets count up from 0 per input) and returns its offset.
  int64_t Vehicle(std::string_view device, EventTime ts);
  int64_t Weather(std::string_view device, EventTime ts);
  int64_t Emergency(std::string_view device, EventTime ts, std::string_view incident = "INC-1");
  EventTime Advance() { return join.AdvanceWatermark(&out); }
  // Makes the watermark exactly `w` (when it is not ahead already): a vehicle and a weather record
  // of device "pacer" at w + D, plus an emergency when that input has data, then Advance().
  EventTime SetWatermark(EventTime w);
  // Emitted rows of one device (the pacer excluded), in emission order.
  std::vector<RowKey> RowsOf(std::string_view device) const;
  size_t Late() const { return late.size(); }

  FakeClock clock;
  EventTimeJoin join;
  RecordBatch vehicles{RawSchema(Topic::kVehicle)};
  RecordBatch weather{RawSchema(Topic::kWeather)};
  RecordBatch emergencies{RawSchema(Topic::kEmergency)};
  RecordBatch out{EnrichedSchema()};
  std::vector<LateRecord> late;
};

}  // namespace smartcity::stream::testing
