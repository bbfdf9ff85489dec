// smartcity stream: the stream processor as a member of a Kafka consumer group. It reads the five
// topics (partition p of every topic goes to one member: the `range` assignor over co-partitioned
// topics), runs the Processor (parse, validate, watermarks, the event-time join) and lands every
// table exactly once in the lake, checkpointing its own positions there (docs/processor.md). Any
// number of `stream` processes with the same --group and --lake share the partitions; one that dies
// is replaced by the others from its last checkpoint.
//
// It runs until SIGINT/SIGTERM, with --stop-when-idle until it has caught up and nothing new came
// for that long, or with --stop-at-end until it has read what its partitions held when it came to
// own them (a backfill; pipeline::SourceInput holds both rules). Either way it commits what it has
// read, leaves the group and prints a summary.
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "cli/command.h"
#include "cli/kafka_options.h"
#include "cli/lake_options.h"
#include "cli/live_view_options.h"
#include "cli/pipeline_options.h"
#include "cli/progress.h"
#include "common/memory.h"
#include "common/process_stats.h"
#include "common/time.h"
#include "engine/engine.h"
#include "lake/object_store.h"
#include "lake/parquet_writer.h"
#include "pipeline/driver.h"
#include "pipeline/idle_detector.h"
#include "pipeline/processor.h"
#include "transport/kafka_forwarder.h"
#include "transport/kafka_source.h"
#include "web/live_state.h"

namespace smartcity::cli {

namespace {

struct StreamArgs {
  KafkaConnectionArgs conn;
  TopicNames topics;
  PipelineArgs pipeline;
  LiveViewArgs live;
  std::string group = "smartcity-stream";
  std::string instance_id;
  Micros session_timeout{std::chrono::seconds(10)};
  std::string repartition = "on";
  std::string group_commit = "on";
  Micros stop_when_idle{0};
  bool stop_at_end = false;
  bool final = false;
  bool quiet = false;
  std::string summary_json;
  Micros connect_timeout{std::chrono::seconds(30)};
  Micros unavailable_timeout{std::chrono::seconds(60)};
};

double Ms(Micros d) {
  return static_cast<double>(d.count()) / 1000.0;
}

nlohmann::json LatencyJson(const LatencyHistogram& h) {
  return {{"p50", Ms(h.Quantile(0.50))},
          {"p99", Ms(h.Quantile(0.99))},
          {"max", Ms(h.max())},
          {"count", h.count()}};
}

int RunStream(StreamArgs& a) {
  a.pipeline.with_warehouse = false;  // the lake writer gets the loader's shares
  auto store = OpenPipelineStore(a.pipeline);
  if (!store.ok()) return ReportError(store.status());
  // `stream` processes share a lake (their group splits the partitions), never with a `run`.
  auto lock = LakeLock::Acquire(a.pipeline.lake, LakeLock::Mode::kShared, "stream");
  if (!lock.ok()) return ReportError(lock.status());
  // Freed pages go back to the system until the command has ended, more often under a limit.
  PeriodicMemoryRelease release_memory(SizeProcessAllocator(a.pipeline));
  auto db = engine::Database::Open("", WriterDatabaseOptionsOf(a.pipeline));
  if (!db.ok()) return ReportError(db.status());
  SystemClock clock;
  pipeline::ProcessorOptions popts = ProcessorOptionsOf(a.pipeline);
  popts.core.parser.topic_names = a.topics;
  popts.table.group_commit = a.group_commit == "on";
  popts.align_trigger = popts.table.group_commit;
  // Other members count as active for a few of their triggers after their last commit.
  popts.table.peers_within = std::max<std::chrono::milliseconds>(
      popts.table.peers_within,
      3 * std::chrono::duration_cast<std::chrono::milliseconds>(popts.trigger));
  // A staged epoch's files are in no commit yet (the oldest written up to a trigger before the
  // epoch was staged): vacuum must not take them from under a commit that takes it.
  const auto min_retention = std::chrono::ceil<std::chrono::seconds>(
      2 * popts.table.intent_ttl +
      std::chrono::duration_cast<std::chrono::milliseconds>(popts.trigger));
  if (popts.table.group_commit && popts.maintenance.enabled &&
      popts.maintenance.vacuum_retention < min_retention) {
    return ReportError(Status::InvalidArgument(fmt::format(
        "--vacuum-retention {} is too short for group commit: a staged epoch's files wait up to "
        "{} s plus a trigger for a commit; use --vacuum-retention {}s or more, or --group-commit "
        "off",
        FormatDuration(popts.maintenance.vacuum_retention),
        std::chrono::duration_cast<std::chrono::seconds>(popts.table.intent_ttl).count(),
        min_retention.count())));
  }
  auto proc = pipeline::Processor::Open(popts, store->get(), db->get(), &clock);
  if (!proc.ok()) return ReportError(proc.status());

  KafkaSourceOptions so;
  so.kafka = a.conn.kafka;
  so.group_id = a.group;
  so.instance_id = a.instance_id;
  so.session_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(a.session_timeout);
  so.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(a.connect_timeout);
  so.unavailable_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(a.unavailable_timeout);
  // A seek or lag query waits as long as an outage is tolerated (a loaded broker can be slow to
  // answer).
  so.request_timeout = so.unavailable_timeout;
  so.max_prefetch_bytes = MemoryBudgetOf(a.pipeline).transport;
  so.repartition = a.repartition == "on";
  if (!a.quiet) {
    std::fprintf(stderr, "stream: joining group %s at %s, lake %s (query %s, trigger %s)\n",
                 a.group.c_str(), so.kafka.bootstrap_servers.c_str(),
                 store->get()->Describe().c_str(), popts.query.c_str(),
                 FormatDuration(popts.trigger).c_str());
  }
  auto source = KafkaSource::Open(so, **proc, proc->get());
  if (!source.ok()) return ReportError(source.status());
  (*proc)->Attach(source->get());
  // Keys that are not the device id (docs/kafka_source.md): misplaced join inputs are forwarded to
  // the repartition topics (on) or only counted (off).
  std::unique_ptr<KafkaForwarder> forwarder;
  if (so.repartition) {
    auto f = KafkaForwarder::Open(so.kafka, so.group_id, so.request_timeout);
    if (!f.ok()) return ReportError(f.status());
    forwarder = std::move(*f);
  }
  (*proc)->SetRouting((*source)->partition_count(), forwarder.get());
  // The live view: the processor's observer, served over HTTP (web/).
  web::LiveStateOptions live_opts;
  live_opts.mode = "stream";
  live_opts.lake = store->get()->Describe();
  live_opts.topic_names = a.topics;
  SetAlertOptions(a.live, a.pipeline.memory_mib, &live_opts);
  live_opts.watermark_delay = popts.core.join.watermark.delay;
  web::LiveState live(live_opts, &clock);
  pipeline::ScopedObserver observer(proc->get(), &live);
  auto server = StartLiveView(a.live, &live, "stream", a.quiet, /*required=*/false);
  if (!server.ok()) return ReportError(server.status());

  const ProcessingTime t0 = clock.Now();
  pipeline::StopRule stop_rule = pipeline::StopRule::WhenIdle(a.stop_when_idle);
  stop_rule.at_end = a.stop_at_end;
  if (forwarder) stop_rule.flush_forwarded = [&] { return (*proc)->FlushForwarded(); };
  pipeline::SourceInput input(source->get(), std::move(stop_rule), t0);
  pipeline::DriveOptions drive;
  drive.clock = &clock;
  drive.stop = &g_stop_requested;
  drive.on_live = [&](const pipeline::DriveStep& s) {
    live.UpdateProgress(s.groups, s.lag, *s.counters);
  };
  if (!a.quiet) {
    drive.on_report = [](const pipeline::DriveReport& r) {
      std::fprintf(stderr, "%s\n", FormatStreamProgress(r).c_str());
    };
  }
  const pipeline::DriveResult ran =
      pipeline::Drive(proc->get(), source->get(), &input, std::move(drive)).Run();
  Status st = ran.status;
  // The input is complete: idle (--stop-when-idle) or read to its end (--stop-at-end).
  const bool stopped_idle = ran.end == pipeline::DriveEnd::kInputDone;
  const bool final = a.final || a.stop_at_end;
  const pipeline::IdleDetector& idle = input.idle();
  if (st.ok()) {
    // --final: the input is complete; flush every pending join row. Otherwise commit what was read
    // and keep the join state for the next run.
    st = final && stopped_idle ? (*proc)->Finish() : (*proc)->CommitNow();
  }
  std::vector<int32_t> owned_at_end;
  for (const auto& g : (*proc)->Groups()) owned_at_end.push_back(g.group);
  // Leaving the group revokes our partitions; the processor commits anything read since (nothing,
  // normally) so the next owner starts right after it.
  Status closed = (*source)->Close();
  if (st.ok()) st = closed;
  if (st.ok()) (void)(*source)->PublishPositions();
  if (st.ok() && !a.quiet && !a.instance_id.empty() && !owned_at_end.empty()) {
    // A static member does not leave the group (docs/kafka_source.md, "Failover").
    std::fprintf(stderr,
                 "stream: static member %s stopped: its %zu partition group(s) wait up to the "
                 "session timeout (%s) for it to return before the group hands them on\n",
                 a.instance_id.c_str(), owned_at_end.size(),
                 FormatDuration(a.session_timeout).c_str());
  }

  const double seconds = std::chrono::duration<double>(clock.Now() - t0).count();
  const auto& c = (*proc)->counters();
  live.UpdateProgress((*proc)->Groups(), {}, c);
  live.SetState(!st.ok()
                    ? web::PipelineState::kFailed
                    : (stopped_idle ? web::PipelineState::kFinished : web::PipelineState::kStopped),
                st.ok() ? "" : st.message());
  const uint64_t peak_rss = PeakRssBytes();
  if (!a.quiet) {
    std::fprintf(stderr,
                 "stream summary: %llu events in %.1fs (%.0f/s), %llu epochs committed (%llu "
                 "replayed), %llu retries, "
                 "peak RSS %.0f MiB\n",
                 static_cast<unsigned long long>(c.records), seconds,
                 seconds > 0 ? static_cast<double>(c.records) / seconds : 0.0,
                 static_cast<unsigned long long>(c.epochs_committed),
                 static_cast<unsigned long long>(c.epochs_replayed),
                 static_cast<unsigned long long>(c.retries),
                 static_cast<double>(peak_rss) / (1 << 20));
    std::fputs(FormatTableRows(c).c_str(), stderr);
    std::fprintf(stderr,
                 "  time: polling %.1fs, processing %.1fs, closing epochs %.1fs (%.1fs of it "
                 "waiting for the lake); "
                 "lake writes %.1fs (committer thread); CPU %.1fs\n",
                 Ms(c.poll_time) / 1000, Ms(c.process_time) / 1000, Ms(c.commit_time) / 1000,
                 Ms(c.commit_wait_time) / 1000, Ms(c.lake_write_time) / 1000, CpuSeconds());
    if (c.live_latency.count() > 0) {
      std::fprintf(
          stderr,
          "  latency produced -> live state p50 %.1fms p99 %.1fms; -> lake p50 %.0fms p99 %.0fms\n",
          Ms(c.live_latency.Quantile(0.5)), Ms(c.live_latency.Quantile(0.99)),
          Ms(c.lake_latency.Quantile(0.5)), Ms(c.lake_latency.Quantile(0.99)));
    }
  }
  if (!a.summary_json.empty()) {
    nlohmann::json j;
    j["records"] = c.records;
    j["seconds"] = seconds;
    j["events_per_s"] = seconds > 0 ? static_cast<double>(c.records) / seconds : 0.0;
    // From the first record read to the last: the processing rate without start-up and idle
    // waiting.
    const double active =
        idle.first_input()
            ? std::chrono::duration<double>(idle.last_input() - *idle.first_input()).count()
            : 0.0;
    j["active_seconds"] = active;
    j["events_per_s_active"] = active > 0 ? static_cast<double>(c.records) / active : 0.0;
    AddProcessorCountsJson(c, &j);
    j["latency_ms"]["live"] = LatencyJson(c.live_latency);
    j["latency_ms"]["lake"] = LatencyJson(c.lake_latency);
    j["latency_ms"]["commit"] = LatencyJson(c.commit_latency);
    j["peak_rss_bytes"] = peak_rss;
    j["join_state_peak_bytes"] = c.join_state_peak_bytes;
    j["input_holds"] = c.input_holds;
    j["repartition"] = {{"misplaced", c.misplaced},
                        {"forwarded", c.forwarded},
                        {"received", c.repartition_received},
                        {"duplicates", c.repartition_duplicates}};
    j["cpu_seconds"] = CpuSeconds();
    j["time_seconds"] = {{"poll", Ms(c.poll_time) / 1000},
                         {"process", Ms(c.process_time) / 1000},
                         {"commit", Ms(c.commit_time) / 1000},
                         {"commit_wait", Ms(c.commit_wait_time) / 1000},
                         {"lake_write", Ms(c.lake_write_time) / 1000}};
    j["partition_groups"] = owned_at_end;
    j["partition_groups_seen"] = input.groups_seen();
    j["stopped"] = stopped_idle ? (a.stop_at_end ? "end" : "idle") : (st.ok() ? "signal" : "error");
    std::ofstream f(a.summary_json);
    f << j.dump(2) << "\n";
    if (!f)
      return ReportError(Status::IOError("cannot write the summary to '" + a.summary_json + "'"));
  }
  if (!st.ok()) return ReportError(ExplainMemoryFailure(st, a.pipeline));
  if (!forwarder && c.misplaced > 0 && !a.quiet) {
    std::fprintf(stderr,
                 "stream: warning: %llu join-input records were not in their device's partition "
                 "(murmur2(deviceId) mod %d): enriched_data misses their matches; run with "
                 "--repartition on\n",
                 static_cast<unsigned long long>(c.misplaced), (*source)->partition_count());
  }
  if (g_stop_requested.load() && !a.quiet)
    std::fprintf(stderr, "stream: stopped on request; run again to resume\n");
  KeepServingUntilStopped(a.live, server->get(), "stream");
  return kExitOk;
}

}  // namespace

void RegisterStream(CLI::App& root, CommandList& commands) {
  // Owned by the command (kept in main's CommandList for the whole run); the App holds pointers
  // into it.
  auto a = std::make_shared<StreamArgs>();
  CLI::App* app = root.add_subcommand(
      "stream",
      "Run the stream processor on the five Kafka topics: parse, join on event time and land every "
      "table exactly once in the Delta lake (one member of a consumer group)");
  AddKafkaConnectionOptions(app, &a->conn);
  AddTopicNameOptions(app, &a->topics);
  // A backlog drain is sized for throughput unless a limit is given (README, "Memory").
  a->pipeline.memory_mib = 0;
  AddPipelineOptions(app, &a->pipeline);
  app->add_option("--group", a->group,
                  "Kafka consumer group: processes with the same group share the partitions")
      ->envname("SMARTCITY_GROUP")
      ->capture_default_str();
  app->add_option(
         "--instance-id", a->instance_id,
         "Static group membership (Kafka group.instance.id), one per member, e.g. the pod "
         "name: a member restarted with it gets its partitions back at once; a stopped one "
         "keeps them until --session-timeout")
      ->envname("SMARTCITY_INSTANCE_ID")
      ->check([](const std::string& v) -> std::string {
        if (v.empty() || v.size() > 249) return "an instance id has 1 to 249 characters";
        for (char c : v) {
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
            return "an instance id has only letters, digits, '.', '_' and '-' (got " + v + ")";
        }
        return "";
      });
  AddDurationOption(app, "--session-timeout", &a->session_timeout,
                    "How long the group waits for a member that stopped answering (crashed) "
                    "before handing its partitions on (Kafka session.timeout.ms; the broker "
                    "allows 6s to 30m by default)")
      ->check([](const std::string& v) -> std::string {
        auto d = ParseDuration(v);
        if (d.ok() && (*d < std::chrono::seconds(1) || *d > std::chrono::hours(1)))
          return "--session-timeout is between 1s and 1h";
        return "";
      });
  app->add_option("--repartition", a->repartition,
                  "Keys that are not the device id: forward join-input records read outside their "
                  "device's partition (murmur2(deviceId)) to internal topics "
                  "<group>-repartition-<topic> so every device's events meet (on), or only count "
                  "them (off)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app->add_option("--group-commit", a->group_commit,
                  "Members of a group commit each table together: each stages its epoch and every "
                  "commit takes the others' staged ones, about one Delta version per table per "
                  "trigger whatever the member count, at the cost of a few more lake requests "
                  "(docs/commit_protocol.md, \"Group commit\"); epochs close at multiples of the "
                  "trigger on the wall clock")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  CLI::Option* idle = AddDurationOption(
      app, "--stop-when-idle", &a->stop_when_idle,
      "Stop once caught up and nothing new arrived for this long (0 = run until interrupted); an "
      "unreachable cluster is not idleness: the run waits for it, up to --unavailable-timeout");
  app->add_flag("--stop-at-end", a->stop_at_end,
                "Backfill: read each owned partition up to the end it had when this member came to "
                "own it (and, with --repartition on, the records forwarded from there), then emit "
                "every pending join row and stop, with no idle wait (implies --final). Records "
                "produced after that are not waited for; an unreachable cluster is never the end: "
                "the run fails after --unavailable-timeout")
      ->excludes(idle);
  app->add_flag("--final", a->final,
                "With --stop-when-idle: the input is complete, so emit every pending join row "
                "before stopping");
  AddDurationOption(app, "--connect-timeout", &a->connect_timeout,
                    "How long to wait for the cluster at start");
  AddDurationOption(app, "--unavailable-timeout", &a->unavailable_timeout,
                    "Stop with an error after the cluster has been unreachable this long");
  app->add_option("--summary-json", a->summary_json,
                  "Also write the end-of-run summary as JSON to this file");
  app->add_flag("-q,--quiet", a->quiet, "No progress lines and no summary on stderr");
  AddLiveViewOptions(app, &a->live, /*pipeline=*/true);
  commands.push_back({app, [a]() -> int {
                        Status st = a->conn.Finish(a->topics);
                        if (st.ok()) st = ValidatePipeline(a->pipeline);
                        if (st.ok() && a->final && a->stop_when_idle.count() == 0 &&
                            !a->stop_at_end) {
                          st = Status::InvalidArgument(
                              "--final needs --stop-when-idle (it marks the input complete) or "
                              "--stop-at-end (which implies it)");
                        }
                        if (!st.ok()) return UsageError(st.message());
                        InstallStopSignalHandlers();
                        return RunStream(*a);
                      }});
}

}  // namespace smartcity::cli
