// smartcity run: the pipeline in one process on the embedded defaults — the city simulator feeds
// the stream processor through the in-process transport (a replayable in-memory log, partitioned
// like the Kafka topics with the Java murmur2 partitioner), and the processor lands every table
// exactly once in a local Delta lake. Interrupted (Ctrl-C, or a crash) and started again with the
// same options and lake, it resumes from its checkpoints: the simulator is deterministic, so the
// log is regenerated and the processor skips what the lake already holds.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "cli/live_view_options.h"
#include "cli/load_command.h"
#include "cli/pipeline_options.h"
#include "cli/simulate_command.h"
#include "engine/engine.h"
#include "lake/object_store.h"
#include "lake/parquet_writer.h"
#include "pipeline/processor.h"
#include "simulation/simulator.h"
#include "transport/kafka_client.h"
#include "transport/memory_event_source.h"
#include "warehouse/loader.h"
#include "web/live_state.h"

namespace smartcity::cli {

namespace {

struct RunArgs {
  SimulateArgs sim;
  PipelineArgs pipeline;
  std::string warehouse;  // "" = DefaultWarehouse(lake); "none" = no loader
  LiveViewArgs live;
};

// The warehouse loader in follow mode on its own thread: it only reads the lake (sharing the
// thread-safe store) and never blocks the processor. Stopped after the processor's last commit,
// with a final pass, so a finished run leaves the warehouse equal to the lake.
class WarehouseFollower {
 public:
  // `live` (borrowed, must outlive this follower) is told each committed load.
  WarehouseFollower(lake::ObjectStore* store, const std::string& spec, bool quiet,
                    web::LiveState* live) {
    warehouse::LoaderOptions o;
    o.progress = [](const std::string&) {};
    o.on_load = [live](const warehouse::LoadEvent& e) {
      web::LoadView v;
      v.at = e.committed_at;
      v.table = e.table;
      v.first_version = e.first_version;
      v.last_version = e.last_version;
      v.rows = static_cast<uint64_t>(std::max<int64_t>(e.rows, 0));
      v.seconds = e.elapsed.count();
      v.lake_version = e.lake_version;
      live->RecordLoad(std::move(v));
    };
    o.retry_for = std::chrono::seconds(30);  // bounds the final pass if the warehouse is gone
    auto loader = warehouse::Loader::Create(
        store, [spec] { return warehouse::OpenWarehouse(spec); }, o);
    if (!loader.ok()) {
      std::fprintf(stderr, "run: no warehouse loader: %s\n", loader.status().message().c_str());
      return;
    }
    thread_ = std::thread([this, quiet, spec, l = std::move(*loader)]() mutable {
      Status st = l->Loop(stop_, std::chrono::milliseconds(0), /*final_pass=*/true);
      if (!st.ok())
        std::fprintf(stderr, "run: warehouse loader stopped: %s\n", st.message().c_str());
      if (!quiet) {
        std::fprintf(stderr, "  warehouse: %lld rows loaded into %s\n",
                     static_cast<long long>(l->summary().rows), spec.c_str());
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~WarehouseFollower() { Stop(); }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int RunPipeline(RunArgs& a) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!lake::IsS3Location(a.pipeline.lake)) fs::create_directories(a.pipeline.lake, ec);
  auto store = OpenPipelineStore(a.pipeline);
  if (!store.ok()) return ReportError(store.status());
  auto db = engine::Database::Open("", lake::WriterDatabaseOptions());
  if (!db.ok()) return ReportError(db.status());
  SystemClock clock;
  pipeline::ProcessorOptions popts = ProcessorOptionsOf(a.pipeline);
  popts.core.parser.topic_names = a.sim.topics;
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
  web::LiveState live(live_opts, &clock);
  (*proc)->SetObserver(&live);
  // `live` dies before the processor and the source: detach it first, whatever the way out.
  struct DetachObserver {
    pipeline::Processor* p;
    ~DetachObserver() { p->SetObserver(nullptr); }
  } detach{proc->get()};
  // Declared after `live`, so it stops (joins its thread) before `live` dies, whatever the way out.
  std::unique_ptr<WarehouseFollower> follower;
  if (a.warehouse != "none") {
    follower = std::make_unique<WarehouseFollower>(
        store->get(), a.warehouse.empty() ? DefaultWarehouse(a.pipeline.lake) : a.warehouse,
        a.sim.quiet, &live);
  }
  auto server = StartLiveView(a.live, &live, "run", a.sim.quiet, /*required=*/false);
  if (!server.ok()) return ReportError(server.status());
  auto next_progress = std::chrono::steady_clock::now();
  if (Status s = source.AssignPartitions(0, a.pipeline.partitions - 1); !s.ok())
    return ReportError(s);
  // Where the checkpoints stand: the log is regenerated up to there without pacing.
  int64_t resume_at = -1;
  for (const PartitionPosition& p : source.Positions()) {
    if (p.next) resume_at = std::max(resume_at, p.next->value());
  }
  if (resume_at > 0 && !a.sim.quiet) {
    std::fprintf(stderr,
                 "run: resuming from the checkpoints in %s (%lld events already processed)\n",
                 a.pipeline.lake.c_str(), static_cast<long long>(resume_at));
  }
  if (!a.sim.quiet)
    std::fprintf(stderr, "run: simulating %d vehicles, lake at %s (query %s, trigger %s)\n",
                 a.sim.sim.vehicles, store->get()->Describe().c_str(), popts.query.c_str(),
                 FormatDuration(popts.trigger).c_str());

  const double speedup = a.sim.sim.speedup;
  std::vector<Message> batch;
  bool sim_more = true;
  bool paced = false;
  ProcessingTime pace_start{};
  EventTime pace_first{};
  const auto t0 = std::chrono::steady_clock::now();
  auto next_report = t0 + std::chrono::seconds(1);
  uint64_t last_records = 0;
  Status st;
  while (!g_stop_requested.load()) {
    // Generate the ticks that are due (all of them at --speedup max, or while catching up).
    int ticks = 0;
    while (sim_more && ticks < 64) {
      const bool catching_up = static_cast<int64_t>(log.next_sequence().value()) <= resume_at;
      if (!catching_up && speedup > 0 && paced) {
        // The next tick is released when processing time reaches its event time / speedup.
        const EventTime next_tick = (*sim)->now() + a.sim.sim.tick;
        const auto due =
            pace_start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(next_tick - pace_first) / speedup);
        if (clock.Now() < due) break;
      }
      sim_more = (*sim)->NextTick(&batch);
      if (!paced && !catching_up) {
        paced = true;
        pace_start = clock.Now();
        pace_first = (*sim)->now();
      }
      for (const Message& m : batch) {
        log.Append(m.topic, PartitionId(JavaPartitionForKey(m.key, a.pipeline.partitions)), m.key,
                   m.value);
      }
      ++ticks;
    }
    st = (*proc)->Step();
    if (!st.ok()) break;
    const std::vector<PartitionLag> lag = source.Lag();
    bool behind = false;
    for (const PartitionLag& l : lag) behind = behind || l.records_behind.value_or(0) > 0;
    if (std::chrono::steady_clock::now() >= next_progress) {
      live.UpdateProgress((*proc)->Groups(), lag, (*proc)->counters());
      next_progress = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    }
    bool replaying = false;
    for (const auto& g : (*proc)->Groups()) replaying = replaying || g.replaying;
    if (!sim_more && !behind && !replaying) break;
    if (ticks == 0 && !behind) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto now = std::chrono::steady_clock::now();
    if (!a.sim.quiet && now >= next_report) {
      const auto& c = (*proc)->counters();
      const double dt =
          std::chrono::duration<double>(now - next_report + std::chrono::seconds(1)).count();
      EventTime wm = EventTime::min();
      for (const auto& g : (*proc)->Groups()) wm = std::max(wm, g.watermark);
      std::fprintf(stderr,
                   "run %s | %llu events %.0f/s | epochs %llu | lake rows: enriched %llu, vehicle "
                   "%llu, dead "
                   "letters %llu, late %llu | watermark %s\n",
                   FormatTimestamp((*sim)->now()).substr(0, 19).c_str(),
                   static_cast<unsigned long long>(c.records),
                   static_cast<double>(c.records - last_records) / dt,
                   static_cast<unsigned long long>(c.epochs_committed),
                   static_cast<unsigned long long>(
                       c.rows[static_cast<size_t>(stream::OutputTable::kEnriched)]),
                   static_cast<unsigned long long>(
                       c.rows[static_cast<size_t>(stream::OutputTable::kVehicle)]),
                   static_cast<unsigned long long>(
                       c.rows[static_cast<size_t>(stream::OutputTable::kDeadLetters)]),
                   static_cast<unsigned long long>(
                       c.rows[static_cast<size_t>(stream::OutputTable::kLateEvents)]),
                   wm == EventTime::min() ? "-" : FormatTimestamp(wm).substr(11, 8).c_str());
      last_records = c.records;
      next_report = now + std::chrono::seconds(1);
    }
  }
  if (st.ok()) {
    // A finished simulation flushes the join; an interrupted one commits what it has and resumes
    // later.
    st = !sim_more ? (*proc)->Finish() : (*proc)->CommitNow();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& c = (*proc)->counters();
  if (follower) follower->Stop();
  live.UpdateProgress((*proc)->Groups(), source.Lag(), c);
  live.SetState(!st.ok() ? web::PipelineState::kFailed
                         : (g_stop_requested.load() ? web::PipelineState::kStopped
                                                    : web::PipelineState::kFinished),
                st.ok() ? "" : st.message());
  if (!a.sim.quiet) {
    std::fprintf(
        stderr,
        "run summary: %llu events processed in %.1fs, %llu epochs committed (%llu replayed)\n",
        static_cast<unsigned long long>(c.records), seconds,
        static_cast<unsigned long long>(c.epochs_committed),
        static_cast<unsigned long long>(c.epochs_replayed));
    for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
      std::fprintf(
          stderr, "  %-16s %12llu rows committed\n",
          std::string(stream::OutputTableName(static_cast<stream::OutputTable>(i))).c_str(),
          static_cast<unsigned long long>(c.rows[i]));
    }
    std::fprintf(stderr, "  lake: %s (Delta tables; read them with any Delta reader)\n",
                 store->get()->Describe().c_str());
  }
  if (!st.ok()) return ReportError(st);
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
                        if (!st.ok()) return ReportError(st);
                        InstallStopSignalHandlers();
                        return RunPipeline(*args);
                      }});
}

}  // namespace smartcity::cli
