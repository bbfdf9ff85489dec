// What a simulation run is asked to do. Filled from flags, environment and config file by the CLI,
// checked by Validate() before anything runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace smartcity::simulation {

// Faults injected into the stream for testing the pipeline. All off by default; each is counted.
enum class FaultKind : uint8_t {
  kLate = 0,  // held back by `delay` of event time, so it arrives after the watermark has passed it
  kReorder,   // held back by a short `delay` (within the watermark): out of order but not late
  kDuplicate,     // the same message (same id) sent twice
  kMalformed,     // the payload is cut short: not valid JSON
  kWrongType,     // a field has the wrong JSON type (speed as a string, year as a float, ...)
  kMissingField,  // a required field is left out
  kOversize,      // the payload is padded past the processor's record size limit
};
inline constexpr size_t kFaultKindCount = 7;

std::string_view FaultKindName(FaultKind k);  // "late", "reorder", "duplicate", "malformed", ...

struct FaultSpec {
  FaultKind kind;
  double rate = 0;  // probability per event, in [0, 1]
  Micros delay{0};  // late and reorder only
};

// Parses "KIND=RATE[@DELAY]", e.g. "late=0.01@5m", "duplicate=0.001", "reorder=0.05@10s".
Result<FaultSpec> ParseFaultSpec(std::string_view s);

// How the fleet behaves.
enum class SimulationMode : uint8_t {
  // The default: a corridor that never empties. Vehicles enter at both ends (London and
  // Birmingham), drive the whole route in their direction and leave at the far end, at a rate that
  // follows a daily profile (rush hours 07-09 and 17-19, quiet nights, UK civil time). The run goes
  // on until --duration, --count or Stop().
  kSteady = 0,
  // The original run: a fixed fleet of `vehicles`, all London -> Birmingham, spread along the first
  // 70% of the route; the run also ends when every vehicle has arrived.
  kOneTrip,
};

struct SimulationOptions {
  uint64_t seed = 42;
  SimulationMode mode = SimulationMode::kSteady;
  // kSteady: vehicles on the road at the daily mean (more in rush hours, fewer at night; the entry
  // rate is set by Little's law from the mean trip time). kOneTrip: the fleet size.
  int vehicles = 10;
  // Event time of the first tick. Fixed by default so runs are reproducible (a Monday in rush
  // hour).
  EventTime start = EventTime(Micros(1'767'596'400'000'000LL));  // 2026-01-05T07:00:00Z
  Micros tick = std::chrono::seconds(1);
  // 1 = real time; 10 = ten times faster; 0 = as fast as possible ("max").
  double speedup = 1;
  // Stop after this much event time, or after this many generated events; with neither, never
  // (kSteady: until Stop()) or when every vehicle has reached Birmingham (kOneTrip).
  std::optional<Micros> duration;
  std::optional<uint64_t> count;
  std::vector<FaultSpec> faults;
  // Size an oversize payload is padded to (bytes). Above the processor's default record limit
  // (64 KiB) and below Kafka's default message limit (1 MB), so it reaches the processor.
  size_t oversize_bytes = 200'000;
  // Incidents raised per vehicle per hour of driving (each seen by the vehicles that pass it).
  double incidents_per_vehicle_hour = 0.25;

  Status Validate() const;
};

}  // namespace smartcity::simulation
