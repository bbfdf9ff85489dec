// Generator throughput: Simulator::NextTick alone (no sink), and NextTick into a LineSink writing
// /dev/null, for a small and a large fleet, with and without faults, on the one-way trip (the
// figures before the steady corridor) and in the steady corridor (vehicles entering and leaving).
// Reported per tick as items (events) per second and bytes (payload) per second.
#include <benchmark/benchmark.h>

#include "simulation/simulator.h"
#include "transport/line_sink.h"

namespace smartcity::simulation {
namespace {

SimulationOptions BenchOptions(int vehicles, bool faults, bool steady) {
  SimulationOptions o;
  o.mode = steady ? SimulationMode::kSteady : SimulationMode::kOneTrip;
  o.vehicles = vehicles;
  o.speedup = 0;
  if (faults) {
    o.faults = {{FaultKind::kLate, 0.01, std::chrono::minutes(2)},
                {FaultKind::kDuplicate, 0.01, Micros(0)},
                {FaultKind::kMalformed, 0.01, Micros(0)},
                {FaultKind::kWrongType, 0.01, Micros(0)}};
  }
  return o;
}

// A fresh simulator whenever the fleet has arrived (one-way trip), so every iteration is a tick of
// a running city.
void GenerateTicks(benchmark::State& state, Sink* sink, bool steady) {
  const SimulationOptions o =
      BenchOptions(static_cast<int>(state.range(0)), state.range(1) != 0, steady);
  auto sim = std::move(Simulator::Create(o).value());
  std::vector<Message> batch;
  uint64_t events = 0, bytes = 0;
  for (auto _ : state) {
    if (!sim->NextTick(&batch)) {
      state.PauseTiming();
      sim = std::move(Simulator::Create(o).value());
      state.ResumeTiming();
    }
    for (const Message& m : batch) bytes += m.value.size();
    events += batch.size();
    if (sink != nullptr && !sink->Write(batch).ok()) state.SkipWithError("sink failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["events_per_tick"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kAvgIterations);
}

void BM_NextTick(benchmark::State& state) {
  GenerateTicks(state, nullptr, state.range(2) != 0);
}

void BM_NextTickToDevNull(benchmark::State& state) {
  auto sink = LineSink::Open(
      "/dev/null", state.range(2) == 0 ? LineFormat::kJsonl : LineFormat::kValue, TopicNames{});
  GenerateTicks(state, sink->get(), /*steady=*/false);
}

BENCHMARK(BM_NextTick)
    ->ArgNames({"vehicles", "faults", "steady"})
    ->Args({10, 0, 0})
    ->Args({1000, 0, 0})
    ->Args({1000, 1, 0})
    ->Args({1000, 0, 1});
BENCHMARK(BM_NextTickToDevNull)
    ->ArgNames({"vehicles", "faults", "value_format"})
    ->Args({10, 0, 0})
    ->Args({1000, 0, 0})
    ->Args({1000, 0, 1});

}  // namespace
}  // namespace smartcity::simulation

BENCHMARK_MAIN();
