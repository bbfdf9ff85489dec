// smartcity run: the pipeline in one process on the embedded defaults — the city simulator feeds
// the stream processor through the in-process transport (a replayable in-memory log, partitioned
// like the Kafka topics with the Java murmur2 partitioner), and the processor lands every table
// exactly once in a local Delta lake. Interrupted (Ctrl-C, or a crash) and started again with the
// same options and lake, it resumes from its checkpoints: the simulator is deterministic, so the
// log is regenerated and the processor skips what the lake already holds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/command.h"
#include "cli/lake_options.h"
#include "cli/live_view_options.h"
#include "cli/load_command.h"
#include "cli/pipeline_options.h"
#include "cli/progress.h"
#include "cli/simulate_command.h"
#include "common/memory.h"
#include "common/mutex.h"
#include "engine/engine.h"
#include "lake/object_store.h"
#include "lake/parquet_writer.h"
#include "pipeline/driver.h"
#include "pipeline/processor.h"
#include "pipeline/simulator_feed.h"
#include "pipeline/warehouse_follower.h"
#include "simulation/simulator.h"
#include "transport/memory_event_source.h"
#include "warehouse/loader.h"
#include "web/live_state.h"

namespace smartcity::cli {

namespace {

// Versions a reader in this process has read up to, per table name; shared between threads.
class LoadedVersions {
 public:
  void Set(const std::string& table, int64_t version) {
    MutexLock l(&mu_);
    versions_[table] = version;
  }
  std::optional<int64_t> Get(const std::string& table) const {
    MutexLock l(&mu_);
    auto it = versions_.find(table);
    if (it == versions_.end()) return std::nullopt;
    return it->second;
  }
  void Clear() {
    MutexLock l(&mu_);
    versions_.clear();
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, int64_t> versions_ GUARDED_BY(mu_);
};

struct RunArgs {
  SimulateArgs sim;
  PipelineArgs pipeline;
  std::string warehouse;  // "" = DefaultWarehouse(lake); "none" = no loader
  LiveViewArgs live;
};

// The live view's record of a warehouse load.
web::LoadView LoadViewOf(const warehouse::LoadEvent& e) {
  web::LoadView v;
  v.at = e.committed_at;
  v.table = e.table;
  v.first_version = e.first_version;
  v.last_version = e.last_version;
  v.rows = static_cast<uint64_t>(std::max<int64_t>(e.rows, 0));
  v.seconds = e.elapsed.count();
  v.lake_version = e.lake_version;
  return v;
}

int RunPipeline(RunArgs& a) {
  namespace fs = std::filesystem;
  a.pipeline.with_warehouse = a.warehouse != "none";
  std::error_code ec;
  if (!lake::IsS3Location(a.pipeline.lake)) fs::create_directories(a.pipeline.lake, ec);
  // One `run` per lake, and no `stream` beside it: refused now, before anything is read.
  auto lock = LakeLock::Acquire(a.pipeline.lake, LakeLock::Mode::kExclusive, "run");
  if (!lock.ok()) return ReportError(lock.status());
  // Freed pages go back to the system until the command has ended, more often under a limit.
  PeriodicMemoryRelease release_memory(SizeProcessAllocator(a.pipeline));
  auto store = OpenPipelineStore(a.pipeline);
  if (!store.ok()) return ReportError(store.status());
  auto db = engine::Database::Open("", WriterDatabaseOptionsOf(a.pipeline));
  if (!db.ok()) return ReportError(db.status());
  SystemClock clock;
  const MemoryBudget budget = MemoryBudgetOf(a.pipeline);
  pipeline::ProcessorOptions popts = ProcessorOptionsOf(a.pipeline);
  popts.core.parser.topic_names = a.sim.topics;
  // The log keeps what the checkpoints do not cover yet: the epoch being written and the one
  // filling, each closed once it has read its share of the transport budget.
  popts.max_epoch_input_bytes = budget.epoch_input;
  // What the warehouse follower has loaded, per table: the lake maintenance keeps the log after it,
  // so a follower that falls behind the log retention still finds every version it has not loaded.
  auto follower_loaded = std::make_shared<LoadedVersions>();
  // The lake maintenance and the warehouse loader take turns: each works in a DuckDB of its own
  // (its share of --memory-limit), and the two working sets at once were the run's peak. Declared
  // before both, so it outlives them.
  Mutex background_jobs;
  popts.maintenance.exclusive = &background_jobs;
  if (a.warehouse != "none") {
    for (const std::string& t : warehouse::LoaderOptions{}.tables) follower_loaded->Set(t, -1);
    popts.maintenance.keep_log_after = [follower_loaded](const std::string& table_prefix) {
      return follower_loaded->Get(table_prefix.substr(table_prefix.rfind('/') + 1));
    };
  }
  auto proc = pipeline::Processor::Open(popts, store->get(), db->get(), &clock);
  if (!proc.ok()) return ReportError(proc.status());
  auto sim = simulation::Simulator::Create(a.sim.sim);
  if (!sim.ok()) return ReportError(sim.status());

  MemoryLog log(a.pipeline.partitions);
  MemoryEventSource source(log, **proc, proc->get());
  (*proc)->Attach(&source);
  // The live view: the processor's observer, served over HTTP (web/).
  web::LiveStateOptions live_opts;
  live_opts.mode = "run";
  live_opts.lake = fs::absolute(a.pipeline.lake).string();
  live_opts.topic_names = a.sim.topics;
  SetAlertOptions(a.live, a.pipeline.memory_mib, &live_opts);
  live_opts.watermark_delay = popts.core.join.watermark.delay;
  web::LiveState live(live_opts, &clock);
  pipeline::ScopedObserver observer(proc->get(), &live);
  // Declared after `live`, so it stops (joins its thread) before `live` dies, whatever the way out.
  std::unique_ptr<pipeline::WarehouseFollower> follower;
  Status warehouse_status;  // why the warehouse does not hold the lake's rows at the end
  const std::string warehouse =
      a.warehouse.empty() ? DefaultWarehouse(a.pipeline.lake) : a.warehouse;
  if (a.warehouse != "none") {
    pipeline::WarehouseFollowerOptions fo;
    fo.warehouse = warehouse;
    fo.exclusive = &background_jobs;
    if (budget.warehouse_duckdb > 0) {
      fo.warehouse_memory_limit = std::to_string(budget.warehouse_duckdb >> 20) + "MiB";
      fo.reader_memory_limit = std::to_string(budget.warehouse_reader >> 20) + "MiB";
    }
    fo.on_load = [&live](const warehouse::LoadEvent& e) { live.RecordLoad(LoadViewOf(e)); };
    fo.on_lag = [&live, follower_loaded](const warehouse::LoadLag& lag) {
      for (const warehouse::TableLag& t : lag.tables)
        follower_loaded->Set(t.table, t.known ? t.loaded_version : -1);
      std::vector<web::TableLagView> tables;
      for (const warehouse::TableLag& t : lag.tables)
        tables.push_back({t.table, t.known, t.lake_version, t.loaded_version, t.oldest_pending});
      live.RecordLag(tables, lag.retrying);
    };
    fo.on_error = [&live, follower_loaded](const Status& st) {
      follower_loaded->Clear();  // it loads no more: the retention alone decides again
      // Told now; the run goes on and ends with this error (WarehouseFailure).
      std::fprintf(stderr, "run: the warehouse loader stopped (the pipeline goes on): %s\n",
                   st.message().c_str());
      live.SetWarehouseError(st.message());
    };
    auto f = pipeline::WarehouseFollower::Start(store->get(), std::move(fo));
    if (f.ok()) {
      follower = std::move(*f);
    } else {
      warehouse_status = f.status();
      std::fprintf(stderr, "run: no warehouse loader (the pipeline goes on): %s\n",
                   warehouse_status.message().c_str());
      live.SetWarehouseError(warehouse_status.message());
    }
  }
  auto server = StartLiveView(a.live, &live, "run", a.sim.quiet, /*required=*/false);
  if (!server.ok()) return ReportError(server.status());
  if (Status s = source.AssignPartitions(0, a.pipeline.partitions - 1); !s.ok())
    return ReportError(s);
  // Where the checkpoints stand: the log is regenerated up to there without pacing.
  const int64_t resume_at = pipeline::ResumePoint(source.Positions());
  if (resume_at > 0 && !a.sim.quiet) {
    std::fprintf(stderr,
                 "run: resuming from the checkpoints in %s (%lld events already processed)\n",
                 a.pipeline.lake.c_str(), static_cast<long long>(resume_at));
  }
  if (!a.sim.quiet)
    std::fprintf(stderr, "run: simulating %d vehicles, lake at %s (query %s, trigger %s)\n",
                 a.sim.sim.vehicles, store->get()->Describe().c_str(), popts.query.c_str(),
                 FormatDuration(popts.trigger).c_str());

  pipeline::SimulatorFeed feed(sim->get(), &log, a.sim.sim.speedup, resume_at);
  feed.set_max_log_bytes(budget.transport);
  // What the committed checkpoints cover is trimmed from the log after each step.
  pipeline::SimulatorInput input(&feed, &clock, &log, proc->get());
  pipeline::DriveOptions drive;
  drive.clock = &clock;
  drive.stop = &g_stop_requested;
  drive.idle_wait = std::chrono::milliseconds(5);  // nothing due yet at the paced speed
  drive.on_live = [&](const pipeline::DriveStep& s) {
    live.UpdateProgress(s.groups, s.lag, *s.counters);
  };
  if (!a.sim.quiet) {
    drive.on_report = [&](const pipeline::DriveReport& r) {
      std::string line = FormatRunProgress(r, (*sim)->now());
      if (follower) {
        line += " | " + FormatWarehouseLag(follower->lag(), clock.WallNow(), follower->failed());
      }
      std::fprintf(stderr, "%s\n", line.c_str());
    };
  }
  const ProcessingTime t0 = clock.Now();
  const pipeline::DriveResult ran =
      pipeline::Drive(proc->get(), &source, &input, std::move(drive)).Run();
  Status st = ran.status;
  const ProcessingTime stopping = clock.Now();
  if (st.ok()) {
    // A finished simulation flushes the join; an interrupted one commits what it has and resumes
    // later.
    st = feed.done() ? (*proc)->Finish() : (*proc)->CommitNow();
  }
  const double seconds = std::chrono::duration<double>(clock.Now() - t0).count();
  const double finish_seconds = std::chrono::duration<double>(clock.Now() - stopping).count();
  const auto& c = (*proc)->counters();
  // Started again with the options of a run that had finished: nothing was read, nothing
  // committed.
  const bool already_complete =
      st.ok() && feed.done() && resume_at > 0 && c.records == 0 && c.epochs_committed == 0;
  const ProcessingTime loading = clock.Now();
  if (follower) {
    // After the pipeline's last commit: the final pass loads the rest.
    follower->Stop();
    warehouse_status = follower->status();
  }
  const double warehouse_stop_seconds =
      std::chrono::duration<double>(clock.Now() - loading).count();
  live.UpdateProgress((*proc)->Groups(), source.Lag(), c);
  live.SetState(!st.ok() ? web::PipelineState::kFailed
                         : (g_stop_requested.load() ? web::PipelineState::kStopped
                                                    : web::PipelineState::kFinished),
                st.ok() ? "" : st.message());
  if (already_complete && !a.sim.quiet) {
    std::fprintf(stderr,
                 "run: already complete: the checkpoints in %s cover all %lld events of this run, "
                 "and the lake was left as it was (a longer --duration continues it; another "
                 "--lake starts afresh)\n",
                 a.pipeline.lake.c_str(), static_cast<long long>(resume_at));
  }
  if (!a.sim.quiet) {
    std::fprintf(
        stderr,
        "run summary: %llu events processed in %.1fs, %llu epochs committed (%llu replayed)\n",
        static_cast<unsigned long long>(c.records), seconds,
        static_cast<unsigned long long>(c.epochs_committed),
        static_cast<unsigned long long>(c.epochs_replayed));
    std::fputs(FormatTableRows(c).c_str(), stderr);
    std::fprintf(stderr, "  faults injected:%s\n", FormatFaults((*sim)->summary()).c_str());
    std::fprintf(stderr, "  lake: %s (Delta tables; read them with any Delta reader)\n",
                 store->get()->Describe().c_str());
    if (follower) {
      std::fprintf(
          stderr, "  warehouse: %lld rows loaded into %s; %s\n",
          static_cast<long long>(follower->rows_loaded()), warehouse.c_str(),
          FormatWarehouseLag(follower->lag(), clock.WallNow(), !warehouse_status.ok()).c_str());
    }
  }
  if (!a.sim.summary_json.empty()) {
    nlohmann::json j;
    j["records"] = c.records;
    j["resumed_at"] = resume_at;
    j["already_complete"] = already_complete;
    j["seconds"] = seconds;
    AddProcessorCountsJson(c, &j);
    if (a.pipeline.maintenance) AddMaintenanceCountsJson((*proc)->maintenance_counters(), &j);
    // The stop: the last commit and maintenance pass, then the warehouse loader's last pass.
    j["stop_seconds"] = {{"finish", finish_seconds}, {"warehouse", warehouse_stop_seconds}};
    const simulation::SimulationSummary& sum = (*sim)->summary();
    for (size_t k = 0; k < simulation::kFaultKindCount; ++k)
      j["faults"][std::string(simulation::FaultKindName(static_cast<simulation::FaultKind>(k)))] =
          sum.faults[k];
    j["lake"] = store->get()->Describe();
    if (a.warehouse != "none") {
      j["warehouse"] = {{"target", warehouse},
                        {"rows_loaded", follower ? follower->rows_loaded() : 0},
                        {"ok", warehouse_status.ok()},
                        {"error", warehouse_status.ok() ? "" : warehouse_status.message()}};
    }
    j["stopped"] = !st.ok() ? "error" : (g_stop_requested.load() ? "signal" : "finished");
    std::ofstream f(a.sim.summary_json);
    f << j.dump(2) << "\n";
    if (!f)
      return ReportError(
          Status::IOError("cannot write the summary to '" + a.sim.summary_json + "'"));
  }
  if (!st.ok()) return ReportError(ExplainMemoryFailure(st, a.pipeline));
  if (!warehouse_status.ok()) {
    // The lake is complete; the warehouse is not: the run did not succeed.
    std::fprintf(stderr,
                 "smartcity: the warehouse loader failed: %s. The lake holds every row; once the "
                 "warehouse is fixed, `smartcity load --lake %s --warehouse %s` (or the next `run` "
                 "on this lake) loads what it is missing\n",
                 warehouse_status.message().c_str(), a.pipeline.lake.c_str(), warehouse.c_str());
    KeepServingUntilStopped(a.live, server->get(), "run");
    return kExitFailure;
  }
  if (g_stop_requested.load())
    std::fprintf(stderr, "run: stopped on request; run again to resume\n");
  KeepServingUntilStopped(a.live, server->get(), "run");
  return kExitOk;
}

}  // namespace

void RegisterRun(CLI::App& root, CommandList& commands) {
  // Owned by the command (kept in main's CommandList for the whole run); the App holds pointers
  // into it.
  auto args = std::make_shared<RunArgs>();
  CLI::App* app = root.add_subcommand("run",
                                      "Run the pipeline on the embedded defaults: simulator -> "
                                      "in-process transport -> stream processor "
                                      "-> Delta lake in a local folder");
  args->sim.speedup_text = "1";
  AddSimulationOptions(app, &args->sim);
  app->add_flag("-q,--quiet", args->sim.quiet, "No progress lines and no summary on stderr");
  app->add_option("--summary-json", args->sim.summary_json,
                  "Also write the end-of-run summary as JSON to this file");
  AddTopicNameOptions(app, &args->sim.topics);
  AddPipelineOptions(app, &args->pipeline);
  app->add_option(
         "--warehouse", args->warehouse,
         "Warehouse the loader follows the lake into (enriched_data), as for `load`; none = no "
         "loader [default: duckdb:<lake>-warehouse.duckdb]")
      ->envname("SMARTCITY_WAREHOUSE");
  AddLiveViewOptions(app, &args->live, /*pipeline=*/true);
  commands.push_back({app, [args]() -> int {
                        Status st = args->sim.Finish();
                        if (st.ok()) st = ValidatePipeline(args->pipeline);
                        if (st.ok() && args->warehouse != "none") {
                          st = warehouse::CheckWarehouseSpec(
                              args->warehouse.empty() ? DefaultWarehouse(args->pipeline.lake)
                                                      : args->warehouse);
                        }
                        if (!st.ok()) return ReportError(st);
                        InstallStopSignalHandlers();
                        return RunPipeline(*args);
                      }});
}

}  // namespace smartcity::cli
