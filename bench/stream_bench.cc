// Throughput of the stream core on simulator output: parsing alone, the join alone, and both
// (StreamCore per micro-batch, as the `stream` command drives it). Items = input events.
//   build/release/bench/stream_bench
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "simulation/simulator.h"
#include "stream/core.h"
#include "stream/tables.h"

namespace smartcity::stream {
namespace {

struct Corpus {
  std::vector<std::string> payloads;
  std::vector<InputRecord> records;
  size_t bytes = 0;
};

const Corpus& GetCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    simulation::SimulationOptions o;
    o.mode = simulation::SimulationMode::kOneTrip;  // the corpus the figures were measured on
    o.vehicles = 100;
    o.duration = std::chrono::minutes(10);
    o.speedup = 0;
    auto sim = simulation::Simulator::Create(o);
    std::vector<Message> tick;
    std::vector<Topic> topics;
    bool more = true;
    while (more) {
      more = (*sim)->NextTick(&tick);
      for (const Message& m : tick) {
        c.payloads.emplace_back(m.value);
        topics.push_back(m.topic);
        c.bytes += m.value.size();
      }
    }
    for (size_t i = 0; i < c.payloads.size(); ++i) {
      c.records.push_back(InputRecord{
          topics[i], SourcePosition{PartitionId(0), static_cast<int64_t>(i)}, c.payloads[i]});
    }
    return c;
  }();
  return corpus;
}

const EventTime kReceived = EventTime(Micros(1'800'000'000'000'000LL));
constexpr size_t kBatch = 10'000;

void BM_Parse(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  EventParser parser;
  StreamOutput out;
  for (auto _ : state) {
    for (size_t i = 0; i < c.records.size(); ++i) {
      if (i % kBatch == 0) out.Clear();
      const InputRecord& r = c.records[i];
      benchmark::DoNotOptimize(parser.Parse(r.topic, r.payload, r.position, kReceived,
                                            &out.Raw(r.topic), &out.dead_letters));
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.records.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes));
}
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond);

// The join alone, on raw rows parsed beforehand (10 000-event micro-batches).
void BM_Join(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  EventParser parser;
  std::vector<std::unique_ptr<StreamOutput>> batches;
  for (size_t i = 0; i < c.records.size(); ++i) {
    if (i % kBatch == 0) batches.push_back(std::make_unique<StreamOutput>());
    const InputRecord& r = c.records[i];
    (void)parser.Parse(r.topic, r.payload, r.position, kReceived, &batches.back()->Raw(r.topic),
                       &batches.back()->dead_letters);
  }
  RecordBatch enriched(EnrichedSchema());
  std::vector<LateRecord> late;
  size_t rows = 0;
  for (auto _ : state) {
    FakeClock clock;
    EventTimeJoin join(JoinOptions{}, &clock);
    for (const auto& b : batches) {
      enriched.Clear();
      join.AddVehicles(b->Raw(Topic::kVehicle), 0, b->Raw(Topic::kVehicle).num_rows(), &enriched,
                       &late);
      join.AddWeather(b->Raw(Topic::kWeather), 0, b->Raw(Topic::kWeather).num_rows(), &enriched,
                      &late);
      join.AddEmergencies(b->Raw(Topic::kEmergency), 0, b->Raw(Topic::kEmergency).num_rows(),
                          &enriched, &late);
      join.AdvanceWatermark(&enriched);
      clock.Advance(std::chrono::milliseconds(100));
      rows += enriched.num_rows();
    }
    join.Flush(&enriched);
  }
  benchmark::DoNotOptimize(rows);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.records.size()));
}
BENCHMARK(BM_Join)->Unit(benchmark::kMillisecond);

// Parse + join per micro-batch through StreamCore.
void BM_StreamCore(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  StreamOutput out;
  for (auto _ : state) {
    FakeClock clock;
    StreamCore core(StreamCoreOptions{}, &clock);
    for (size_t i = 0; i < c.records.size(); i += kBatch) {
      out.Clear();
      const size_t n = std::min(kBatch, c.records.size() - i);
      core.Process(std::span<const InputRecord>(c.records).subspan(i, n), AsWallTime(kReceived),
                   &out);
      core.AdvanceWatermark(&out);
      clock.Advance(std::chrono::milliseconds(100));
    }
    out.Clear();
    core.Flush(&out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.records.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes));
}
BENCHMARK(BM_StreamCore)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace smartcity::stream

BENCHMARK_MAIN();
