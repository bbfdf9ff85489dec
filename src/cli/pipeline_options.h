// Options shared by the commands that run the stream processor (run, and stream from Kafka).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "engine/engine.h"
#include "lake/object_store.h"
#include "pipeline/processor.h"

namespace smartcity::cli {

struct PipelineArgs {
  std::string lake = "smartcity-lake";  // a local folder (S3 comes with issue 5)
  pipeline::ProcessorOptions processor;
  int partitions = 6;    // in-process transport: partitions per topic
  int memory_mib = 256;  // --memory-limit: what the process is sized to stay under, in MiB
  int epoch_mib = 0;     // --epoch-memory: processor.max_epoch_bytes in MiB; 0 = from the limit
  // Not an option: the command runs a warehouse loader beside the processor (`run` without
  // --warehouse none). Without one, the lake writer gets the loader's shares too.
  bool with_warehouse = true;
  // Lake maintenance while streaming (processor.maintenance; on unless --maintenance off).
  bool maintenance = true;
  Micros vacuum_retention = std::chrono::hours(1);
  Micros log_retention = std::chrono::hours(1);
};

// How --memory-limit is shared (README, "Memory"). Each part is a bound its holder keeps. The
// DuckDB parts are ceilings of their buffer pools: DuckDB's own allocations come on top (measured
// in `run`: about 100 MiB for the writer, the warehouse and the loader together at the floors).
// What the process holds besides (code and libraries ~46 MiB, threads, the join state, the live
// view, the allocators' slack) is about 80 MiB. None of it grows with the length of the run or
// the size of a backlog.
struct MemoryBudget {
  // `run`: the in-process log beyond the processor's checkpoints (MemoryLog::bytes);
  // `stream`: the Kafka consumer's prefetch (KafkaSourceOptions::max_prefetch_bytes). 1/8.
  uint64_t transport = 0;
  // `run`: the input an epoch reads (ProcessorOptions::max_epoch_input_bytes); the log holds the
  // epoch being written and the one filling. 1/4 of `transport`.
  uint64_t epoch_input = 0;
  // The rows of an epoch (ProcessorOptions::max_epoch_bytes, --epoch-memory): one epoch fills while
  // the one before is written, and the writer holds a copy of its rows, so about three times this.
  // 1/32.
  uint64_t epoch_rows = 0;
  // The join state (ProcessorOptions::max_join_state_bytes): beyond it, join inputs that run ahead
  // of the others in event time wait for them (a backlog drain would otherwise hold a topic's whole
  // backlog). 1/16; without a limit 64 MiB.
  uint64_t join_state = 0;
  // The lake writer's DuckDB memory_limit (Parquet files). 1/8, at least 48 MiB; without a
  // warehouse loader (`stream`, `run --warehouse none`) also the loader's shares: 7/16.
  uint64_t writer_duckdb = 0;
  // `run`: the warehouse loader's DuckDB warehouse (its buffer pool would otherwise cache the
  // warehouse up to 80% of the machine's memory) and its lake reader. 1/8, at least 32 MiB, and
  // 1/16, at least 16 MiB (it reads the Delta checkpoints).
  uint64_t warehouse_duckdb = 0;
  uint64_t warehouse_reader = 0;
  // The lake maintenance's own DuckDB (compaction rewrites row groups as the writer does, so the
  // same floor): 1/8, at least 48 MiB. Its own, so that a compaction never starves the writer.
  uint64_t maintenance_duckdb = 0;
};
MemoryBudget MemoryBudgetOf(const PipelineArgs& args);
// Sizes the process's C allocator for a memory limit (none: left as it is): two arenas. Measured
// in `run --speedup max --vehicles 100` over one city day: peak RSS 291 vs 303 MiB and 282 vs
// 292 MiB (two pairs, each pair run at the same time), mean RSS about 12 MiB lower; wall times
// 5:34 vs 5:29 and 10:53 vs 9:33 on a loaded machine (not measured apart from the noise). Call
// before any thread starts.
//
// Returns how often the command hands freed memory back (PeriodicMemoryRelease): every 200 ms
// under a limit, every second without. The DuckDBs free and allocate buffers in bursts (a
// compaction reads file after file, the writer builds and drops row groups) and their allocator
// keeps what they freed until the next release: with a release every second those pages made the
// short peaks. `run --speedup max --vehicles 100`, one city day, interleaved: peak RSS 230–238
// MiB in six runs against 245–263 in ten, CPU time within the runs' spread.
std::chrono::milliseconds SizeProcessAllocator(const PipelineArgs& args);
// The processor's counts in a --summary-json (`run`, `stream`): epochs, epochs_replayed, retries,
// and rows per output table.
void AddProcessorCountsJson(const pipeline::ProcessorCounters& c, nlohmann::json* j);
// The lake maintenance's counts under "maintenance" (passes, compactions, files and bytes replaced
// and written, seconds per step, waiting for the lock, and the last pass's).
void AddMaintenanceCountsJson(const pipeline::MaintenanceCounters& c, nlohmann::json* j);

void AddPipelineOptions(CLI::App* app, PipelineArgs* args);
Status ValidatePipeline(const PipelineArgs& args);
// The processor options the arguments describe.
pipeline::ProcessorOptions ProcessorOptionsOf(const PipelineArgs& args);
// The lake writer's DuckDB options (lake::WriterDatabaseOptions) sized by the budget.
engine::DatabaseOptions WriterDatabaseOptionsOf(const PipelineArgs& args);
// A pipeline's failure for lack of memory (ErrorKind::kResourceExhausted: DuckDB reached its share
// of the limit) says which share and how to raise it; other failures are returned as they are.
Status ExplainMemoryFailure(const Status& s, const PipelineArgs& args);

// The lake store of a pipeline command. For crash tests, the environment variable
// SMARTCITY_CRASH_POINT="<op>:<key substring>:<n>[:after]" makes the process kill itself (SIGKILL,
// as kill -9 would) at the n-th lake operation <op> (put, put-if-absent, put-file, delete) whose
// key contains the substring, before the operation or right after it; "put|put-if-absent" counts
// either operation, "a/|b/" keys with either substring: a crash at an exact step of the commit
// protocol, from outside. It first writes "smartcity: crash point <spec> fired" on stderr, which
// the crash tests require. Unset in normal use.
struct PipelineStore {
  std::unique_ptr<lake::ObjectStore> base;
  std::unique_ptr<lake::ObjectStore> crash_point;
  lake::ObjectStore* get() const { return crash_point ? crash_point.get() : base.get(); }
};
Result<PipelineStore> OpenPipelineStore(const PipelineArgs& args);

}  // namespace smartcity::cli
