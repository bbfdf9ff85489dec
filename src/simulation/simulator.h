// Simulator: the city model that generates the five event streams of SPEC section 2.
//
// Vehicles drive along a polyline of the M40 route between London and Birmingham. By default
// (SimulationMode::kSteady) the corridor never empties: vehicles enter at both ends, in both
// directions, at a rate that follows the time of day, and leave at the far end; with kOneTrip a
// fixed fleet drives London -> Birmingham once. Every tick of event time each vehicle on the road
// emits vehicle_data, gps_data and weather_data (same timestamp); passing a fixed camera emits
// traffic_data; an incident raised near a vehicle, or one it reported changing status, emits
// emergency_data. Output is a pure function of SimulationOptions: the same options give
// byte-identical messages, ids included. Faults (options.faults) draw from their own random stream,
// so turning them on does not change the underlying events.
//
// Memory does not grow with the length of a run: a vehicle that has left is released at the next
// tick, an incident when it ends, a held-back (late/reorder) message when its delay is up.
//
// Thread-safety: one thread. Messages returned by NextTick() borrow from the simulator's buffers
// and stay valid until the next call to NextTick().
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "common/status.h"
#include "simulation/options.h"
#include "transport/message.h"

namespace smartcity::simulation {

struct SimulationSummary {
  // Events the model produced, per topic, before any fault was applied.
  std::array<uint64_t, kTopicCount> generated{};
  // Messages handed out, per topic (duplicates included; late ones once released).
  std::array<uint64_t, kTopicCount> emitted{};
  // Emitted messages that are valid events (not malformed, wrong-typed, missing a field or
  // oversize); a duplicate counts again. This is what a correct processor must land in the raw
  // tables.
  std::array<uint64_t, kTopicCount> valid{};
  // Messages affected by each fault kind.
  std::array<uint64_t, kFaultKindCount> faults{};
  uint64_t ticks = 0;
  uint64_t payload_bytes = 0;
  // Vehicles that were on the road at some point (those there at the start included), those that
  // left at the far end of their trip, and those on the road after the last tick:
  // entered = arrived + on_road.
  uint64_t vehicles_entered = 0;
  uint64_t vehicles_arrived = 0;
  uint64_t vehicles_on_road = 0;
  uint64_t incidents_raised = 0;
  uint64_t incidents_resolved = 0;
  uint64_t camera_passes = 0;
  EventTime first_event_time{};
  EventTime last_event_time{};

  uint64_t TotalEmitted() const;
  uint64_t TotalGenerated() const;
};

// The sizes of the simulator's own state, for tests of bounded memory.
struct SimulatorState {
  size_t vehicles = 0;            // vehicles held (on the road, or left in the last tick)
  size_t vehicle_slots = 0;       // capacity of the vehicle table
  size_t incidents = 0;           // incidents not yet resolved
  size_t incident_reporters = 0;  // (incident, vehicle) pairs remembered for Resolved messages
  size_t held_back = 0;           // late/reorder messages waiting for their release
};

class Simulator {
 public:
  static Result<std::unique_ptr<Simulator>> Create(const SimulationOptions& options);
  virtual ~Simulator() = default;

  // Clears `out` and fills it with the messages of the next tick (plus any held-back messages that
  // are due). Returns false once the run is complete; the final call hands out every message still
  // held back (late/reordered), so nothing generated is ever dropped.
  virtual bool NextTick(std::vector<Message>* out) = 0;
  // Ends the run early (SIGINT): clears `out` and fills it with every message still held back, so a
  // stopped run, too, emits everything it generated. NextTick() returns false afterwards.
  virtual void Stop(std::vector<Message>* out) = 0;
  // Event time of the tick most recently generated (its start; its events lie in [now, now +
  // tick)).
  virtual EventTime now() const = 0;
  virtual Micros tick() const = 0;
  virtual const SimulationSummary& summary() const = 0;
  virtual SimulatorState state() const = 0;
};

}  // namespace smartcity::simulation
