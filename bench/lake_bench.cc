// Lake write path: Parquet encoding rows/s and process CPU per row (through DuckDB), and the
// latency of a Delta commit (data file upload + PutIfAbsent of the log entry) on a local directory
// with fsync.
//
//   build/release/bench/lake_bench [--benchmark_filter=Parquet]
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <filesystem>
#include <random>

#include "lake/delta_table.h"
#include "lake/parquet_writer.h"

namespace smartcity::lake {
namespace {

namespace fs = std::filesystem;

// The shape of the vehicle_data table: what the processor writes most.
std::shared_ptr<const Schema> VehicleSchema() {
  auto s = std::make_shared<Schema>();
  s->columns = {
      {"id", LogicalType::kString, false},           {"deviceId", LogicalType::kString, false},
      {"timestamp", LogicalType::kTimestamp, false}, {"latitude", LogicalType::kDouble, false},
      {"longitude", LogicalType::kDouble, false},    {"speed", LogicalType::kDouble, false},
      {"direction", LogicalType::kString, false},    {"make", LogicalType::kString, false},
      {"model", LogicalType::kString, false},        {"year", LogicalType::kInt32, false},
      {"fuelType", LogicalType::kString, false}};
  return s;
}

std::unique_ptr<RecordBatch> VehicleRows(size_t n, int64_t start_micros) {
  auto b = std::make_unique<RecordBatch>(VehicleSchema());
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  static const char* kMakes[] = {"BMW", "Toyota", "Ford", "Tesla"};
  static const char* kFuel[] = {"Hybrid", "Electric", "Petrol", "Diesel"};
  for (size_t i = 0; i < n; ++i) {
    const int dev = static_cast<int>(i % 500);
    b->column(0).AppendString(fmt::format("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                                          rng() & 0xffffffff, rng() & 0xffff, rng() & 0xfff,
                                          rng() & 0xfff, rng() & 0xffffffffffff));
    b->column(1).AppendString(fmt::format("vehicle-{:04}", dev));
    b->column(2).AppendInt64(start_micros + static_cast<int64_t>(i) * 2000);
    b->column(3).AppendDouble(51.5 + u(rng) * 1.0);
    b->column(4).AppendDouble(-0.13 - u(rng) * 1.7);
    b->column(5).AppendDouble(30 + u(rng) * 60);
    b->column(6).AppendString("North-West");
    b->column(7).AppendString(kMakes[dev % 4]);
    b->column(8).AppendString("C500");
    b->column(9).AppendInt32(2015 + dev % 10);
    b->column(10).AppendString(kFuel[dev % 4]);
  }
  return b;
}

constexpr int64_t kJan5 = 1767571200000000LL;

// CPU seconds of the whole process (all threads): DuckDB works on its own threads too, and on a
// shared machine wall time alone says little about the cost.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Sets the counter of process CPU nanoseconds per row since `cpu_start`.
void SetCpuPerRow(benchmark::State& state, double cpu_start, size_t rows) {
  const double total_rows = static_cast<double>(state.iterations()) * static_cast<double>(rows);
  if (total_rows > 0) {
    state.counters["cpu_ns_per_row"] = (ProcessCpuSeconds() - cpu_start) * 1e9 / total_rows;
  }
}

// range(0) = rows per file; range(1) = DuckDB threads (1 = WriterDatabaseOptions(), what the
// stream processor uses; 2 = DuckDB's default on this machine).
void BM_ParquetWrite(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0));
  engine::DatabaseOptions dbo = WriterDatabaseOptions();
  dbo.settings["threads"] = std::to_string(state.range(1));
  auto db = engine::Database::Open("", dbo);
  auto writer = ParquetWriter::Make(db->get());
  auto batch = VehicleRows(rows, kJan5);
  std::vector<int> cols;
  for (size_t i = 0; i < batch->num_columns(); ++i) cols.push_back(static_cast<int>(i));
  const fs::path out = fs::temp_directory_path() / "smartcity-bench-parquet.parquet";
  uint64_t bytes = 0;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    auto st = (*writer)->Write(*batch, cols, 0, rows, out);
    if (!st.ok()) state.SkipWithError(st.status().message().c_str());
    bytes = st.ok() ? st->size_bytes : 0;
  }
  SetCpuPerRow(state, cpu_start, rows);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
  state.counters["file_bytes"] = static_cast<double>(bytes);
  state.counters["bytes_per_row"] = static_cast<double>(bytes) / static_cast<double>(rows);
  fs::remove(out);
}
BENCHMARK(BM_ParquetWrite)
    ->Args({10000, 1})
    ->Args({100000, 1})
    ->Args({1000000, 1})
    ->Args({100000, 2})
    ->Args({1000000, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ComputeStats(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0));
  auto batch = VehicleRows(rows, kJan5);
  std::vector<int> cols;
  for (size_t i = 0; i < batch->num_columns(); ++i) cols.push_back(static_cast<int>(i));
  for (auto _ : state) benchmark::DoNotOptimize(ComputeStats(*batch, cols, 0, rows));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
}
BENCHMARK(BM_ComputeStats)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

// One micro-batch: Append + Commit (one data file per date partition, one log entry) on a local
// directory, on a Database opened as the stream processor opens its own. range(0) = rows per batch;
// 0 measures a txn-only commit. range(1) = partition groups the rows come from (the processor's
// partition groups: their buffers of one date partition are written as one file, one after the
// other).
void BM_AppendAndCommit(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0));
  const fs::path dir = fs::temp_directory_path() / ("smartcity-bench-lake-" + NewUuid());
  auto db = engine::Database::Open("", WriterDatabaseOptions());  // as the stream processor
  auto store = LocalObjectStore::Open(dir);
  TableOptions o;
  o.partitions = {PartitionField::DateOf("timestamp")};
  o.scratch_dir = dir / "scratch";
  auto table = DeltaTable::Open(store->get(), db->get(), "vehicle_data", VehicleSchema(), o);
  if (!table.ok()) {
    state.SkipWithError(table.status().message().c_str());
    return;
  }
  const auto groups = static_cast<size_t>(state.range(1));
  std::vector<std::unique_ptr<RecordBatch>> batches;  // group g's rows
  for (size_t g = 0; g < groups && rows > 0; ++g)
    batches.push_back(VehicleRows(rows / groups, kJan5));
  int64_t epoch = 0;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    std::vector<TxnId> txns;
    ++epoch;
    for (size_t g = 0; g < groups; ++g) {
      const std::string group = "bench-p" + std::to_string(g);
      if (g < batches.size()) (void)(*table)->Append(*batches[g], group);
      txns.push_back(TxnId{group, epoch});
    }
    auto r = (*table)->Commit(txns);
    if (!r.ok()) state.SkipWithError(r.status().message().c_str());
  }
  SetCpuPerRow(state, cpu_start, rows);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
  state.counters["commits"] = static_cast<double>(epoch);
  fs::remove_all(dir);
}
BENCHMARK(BM_AppendAndCommit)
    ->Args({0, 1})
    ->Args({10000, 1})
    ->Args({100000, 1})
    ->Args({100000, 6})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Re-reading the log of a table with many commits (what a restarted writer or a reader pays), with
// and without checkpoints.
void BM_LoadLog(benchmark::State& state) {
  const int commits = static_cast<int>(state.range(0));
  const bool checkpoints = state.range(1) != 0;
  InMemoryObjectStore store;
  auto db = engine::Database::Open("");
  TableOptions o;
  o.partitions = {PartitionField::DateOf("timestamp")};
  o.checkpoint_interval = checkpoints ? 10 : 0;
  auto table = DeltaTable::Open(&store, db->get(), "t", VehicleSchema(), o);
  auto batch = VehicleRows(10, kJan5);
  for (int e = 1; e <= commits; ++e) {
    (void)(*table)->Append(*batch);
    (void)(*table)->Commit("bench", e);
  }
  auto conn = (*db)->Connect();
  DeltaLog log(&store, "t");
  for (auto _ : state) {
    auto snap = log.Load(conn->get());
    if (!snap.ok() || snap->version != commits) state.SkipWithError("bad snapshot");
  }
}
BENCHMARK(BM_LoadLog)->Args({500, 0})->Args({500, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace smartcity::lake
