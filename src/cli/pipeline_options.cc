#include "cli/pipeline_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/lake_options.h"
#include "common/memory.h"
#include "lake/parquet_writer.h"

namespace smartcity::cli {

void AddPipelineOptions(CLI::App* app, PipelineArgs* a) {
  AddLakeOption(app, &a->lake)->group("Pipeline");
  AddTableFormatOption(app, &a->processor.table.iceberg)->group("Pipeline");
  app->add_option(
         "--query", a->processor.query,
         "Name of this processing query: its checkpoints (_checkpoints/<query>) and Delta txn ids")
      ->capture_default_str()
      ->group("Pipeline");
  AddDurationOption(app, "--trigger", &a->processor.trigger, "Lake commit interval")
      ->group("Pipeline");
  AddDurationOption(app, "--watermark-delay", &a->processor.core.join.watermark.delay,
                    "D: how late an event may arrive and still be joined")
      ->group("Pipeline");
  AddDurationOption(
      app, "--join-window", &a->processor.core.join.window,
      "J: weather/emergency events within +-J of a vehicle reading join it (0 = same timestamp)")
      ->group("Pipeline");
  AddDurationOption(app, "--idle-timeout", &a->processor.core.join.watermark.idle_timeout,
                    "Processing time after which a silent input stops holding the watermark back")
      ->group("Pipeline");
  // Implausible event times (stream/event_time_guard.h, docs/processor.md).
  AddDurationOption(app, "--event-time-max-ahead", &a->processor.core.guard.max_ahead,
                    "A vehicle/weather/emergency record dated more than this after its "
                    "partition's event time is held until --event-time-confirm records confirm "
                    "the jump, else quarantined to _dead_letters (0 = no limit)")
      ->group("Pipeline");
  AddDurationOption(app, "--event-time-max-behind", &a->processor.core.guard.max_behind,
                    "The same for a record dated more than this before its partition's event "
                    "time (0 = no limit)")
      ->group("Pipeline");
  app->add_option("--event-time-confirm", a->processor.core.guard.confirm,
                  "Records in a row that must agree before a jump past those limits is followed "
                  "(1 = follow every jump: no quarantine)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u))
      ->group("Pipeline");
  app->add_option("--memory-limit", a->memory_mib,
                  "MiB the process is sized to stay under, however long it runs and whatever "
                  "backlog it drains: the transport (in-process log, or Kafka prefetch), epochs "
                  "and DuckDB get their shares of it (README, \"Memory\"); 0 = no limit: "
                  "sized for throughput (64 MiB epochs, the Kafka client's prefetch defaults)")
      ->capture_default_str()
      ->envname("SMARTCITY_MEMORY_LIMIT")
      ->group("Pipeline");
  app->add_option(
         "--epoch-memory", a->epoch_mib,
         "MiB of rows an epoch may hold before it closes ahead of its trigger (a backlog drain "
         "commits in such steps; the process holds about three times this) [default: 1/32 of "
         "--memory-limit]")
      ->group("Pipeline");
  // Lake maintenance (pipeline/maintainer.h, docs/processor.md "Maintenance").
  app->add_option_function<std::string>(
         "--maintenance", [a](const std::string& v) { a->maintenance = v == "on"; },
         "Compact small files, clean up the Delta log and vacuum replaced files while streaming "
         "[default: on]")
      ->check(CLI::IsMember({"on", "off"}))
      ->type_name("on|off")
      ->group("Maintenance");
  AddSizeOption(app, "--target-file-size", &a->processor.maintenance.target_file_bytes,
                "Compaction writes data files of about this size; smaller than a quarter of it "
                "counts as small")
      ->group("Maintenance");
  app->add_option("--max-small-files", a->processor.maintenance.max_small_files,
                  "A date partition still being written is compacted once it has this many small "
                  "files (an older one as soon as it has two)")
      ->capture_default_str()
      ->group("Maintenance");
  AddDurationOption(app, "--vacuum-retention", &a->vacuum_retention,
                    "Data files replaced by a compaction (or left by a crash) are deleted after "
                    "this long: the longest query on an old snapshot")
      ->group("Maintenance");
  AddDurationOption(app, "--log-retention", &a->log_retention,
                    "Delta log entries (commits, checkpoints) are kept this long (>= "
                    "--vacuum-retention)")
      ->group("Maintenance");
  AddDurationOption(app, "--maintenance-interval", &a->processor.maintenance.interval,
                    "Time between two maintenance passes over the tables")
      ->group("Maintenance");
}

MemoryBudget MemoryBudgetOf(const PipelineArgs& a) {
  constexpr uint64_t kMiB = 1ull << 20;
  const uint64_t limit = static_cast<uint64_t>(a.memory_mib) * kMiB;
  MemoryBudget b;
  if (limit == 0) {  // no limit: every part at its own default (0: unbounded)
    b.epoch_rows = a.epoch_mib > 0 ? static_cast<uint64_t>(a.epoch_mib) * kMiB : 64 * kMiB;
    b.join_state = 64 * kMiB;
    return b;
  }
  b.transport = limit / 8;
  b.epoch_input = b.transport / 4;
  b.epoch_rows = a.epoch_mib > 0 ? static_cast<uint64_t>(a.epoch_mib) * kMiB : limit / 32;
  b.join_state = limit / 16;
  // DuckDB's floors: its Parquet writer holds a row group (~40 MiB on the widest table, more than
  // the rows' own size) and fails rather than spill past its limit. A DuckDB warehouse appends (its
  // buffer pool otherwise fills up with a cache of the warehouse's blocks): 32 MiB held two days
  // of 100 vehicles since it has no secondary indexes (with them it failed its commits at 32 MiB).
  b.writer_duckdb = std::max(limit / 8, 48 * kMiB);
  if (a.maintenance) b.maintenance_duckdb = std::max(limit / 8, 48 * kMiB);
  if (a.with_warehouse) {
    b.warehouse_duckdb = std::max(limit / 8, 32 * kMiB);
    b.warehouse_reader = std::max(limit / 16, 16 * kMiB);
  } else {
    // A backlog drain writes wide row groups of two tables at once: the writer needs the room.
    b.writer_duckdb = std::max(limit / 8 + limit / 4 + limit / 16, 48 * kMiB);
  }
  return b;
}

std::chrono::milliseconds SizeProcessAllocator(const PipelineArgs& a) {
  if (a.memory_mib == 0) return std::chrono::seconds(1);
  LimitAllocatorArenas(2);
  return std::chrono::milliseconds(200);
}

void AddProcessorCountsJson(const pipeline::ProcessorCounters& c, nlohmann::json* j) {
  (*j)["epochs"] = c.epochs_committed;
  (*j)["epochs_replayed"] = c.epochs_replayed;
  (*j)["retries"] = c.retries;
  (*j)["table_commits"] = c.table_commits;
  (*j)["commit_conflicts"] = c.commit_conflicts;
  (*j)["commits_by_others"] = c.commits_by_others;
  (*j)["staged_taken"] = c.staged_taken;
  for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
    (*j)["rows"][std::string(stream::OutputTableName(static_cast<stream::OutputTable>(i)))] =
        c.rows[i];
  }
}

void AddMaintenanceCountsJson(const pipeline::MaintenanceCounters& c, nlohmann::json* j) {
  (*j)["maintenance"] = {{"passes", c.passes},
                         {"compactions", c.compactions},
                         {"files_compacted", c.files_compacted},
                         {"files_written", c.files_written},
                         {"bytes_compacted", c.bytes_compacted},
                         {"bytes_written", c.bytes_written},
                         {"log_entries_deleted", c.log_entries_deleted},
                         {"files_vacuumed", c.files_vacuumed},
                         {"errors", c.errors},
                         {"compaction_seconds", c.compaction_seconds},
                         {"cleanup_seconds", c.cleanup_seconds},
                         {"vacuum_seconds", c.vacuum_seconds},
                         {"lock_wait_seconds", c.lock_wait_seconds},
                         {"last_pass_seconds", c.last_run_pass_seconds}};
}

pipeline::ProcessorOptions ProcessorOptionsOf(const PipelineArgs& a) {
  pipeline::ProcessorOptions o = a.processor;
  o.max_epoch_bytes = MemoryBudgetOf(a).epoch_rows;
  o.max_join_state_bytes = MemoryBudgetOf(a).join_state;
  o.maintenance.enabled = a.maintenance;
  o.maintenance.vacuum_retention =
      std::chrono::duration_cast<std::chrono::seconds>(a.vacuum_retention);
  o.maintenance.log_retention = std::chrono::duration_cast<std::chrono::seconds>(a.log_retention);
  o.maintenance.own_database = lake::WriterDatabaseOptions();
  o.maintenance.memory_bytes = MemoryBudgetOf(a).maintenance_duckdb;
  o.maintenance.on_error = [](const Status& s) {
    std::fprintf(stderr, "smartcity: lake maintenance: %s (the stream goes on)\n",
                 s.message().c_str());
  };
  return o;
}

engine::DatabaseOptions WriterDatabaseOptionsOf(const PipelineArgs& a) {
  engine::DatabaseOptions o = lake::WriterDatabaseOptions();
  if (const uint64_t limit = MemoryBudgetOf(a).writer_duckdb; limit > 0)
    o.settings["memory_limit"] = std::to_string(limit >> 20) + "MiB";
  return o;
}

Status ExplainMemoryFailure(const Status& s, const PipelineArgs& a) {
  if (s.kind() != ErrorKind::kResourceExhausted || a.memory_mib == 0) return s;
  return Status::ResourceExhausted(
      s.message() + fmt::format(" (the lake writer's share of --memory-limit {} MiB is {} MiB: "
                                "give the process more with --memory-limit)",
                                a.memory_mib, MemoryBudgetOf(a).writer_duckdb >> 20));
}

Status ValidatePipeline(const PipelineArgs& a) {
  SC_RETURN_IF_ERROR(CheckLakeLocation(a.lake, LakeAccess::kWrite));
  if (a.processor.trigger < std::chrono::milliseconds(10)) {
    return Status::InvalidArgument("--trigger must be at least 10ms");
  }
  if (a.partitions < 1 || a.partitions > 1024)
    return Status::InvalidArgument("--partitions must be 1..1024");
  if (a.memory_mib != 0 && (a.memory_mib < 128 || a.memory_mib > 1 << 20))
    return Status::InvalidArgument("--memory-limit must be 128..1048576 (MiB), or 0 for no limit");
  if (a.epoch_mib < 0 || a.epoch_mib > 16384)
    return Status::InvalidArgument("--epoch-memory must be 1..16384 (MiB)");
  if (a.maintenance)
    SC_RETURN_IF_ERROR(pipeline::ValidateMaintenance(ProcessorOptionsOf(a).maintenance));
  return Status::OK();
}

}  // namespace smartcity::cli

namespace smartcity::cli {

namespace {

// Kills the process (SIGKILL) at the n-th matching write, before or after it is done, saying so
// first on stderr ("crash point <spec> fired") so a crash test can tell it from any other death.
// With an arming file (SMARTCITY_CRASH_ARM), matching writes count only once that file exists: a
// test creates it when the process has reached the state it wants to crash in.
class CrashPointStore final : public lake::ObjectStore {
 public:
  enum class Op { kPut = 1, kPutIfAbsent = 2, kPutFile = 4, kDelete = 8 };
  // `ops`: the Ops that count, or-ed; `keys`: substrings, one of which the key must contain.
  CrashPointStore(lake::ObjectStore* base, unsigned ops, std::vector<std::string> keys, int nth,
                  bool after, std::string spec, std::string arm_file)
      : base_(base),
        ops_(ops),
        keys_(std::move(keys)),
        nth_(nth),
        after_(after),
        spec_(std::move(spec)),
        arm_file_(std::move(arm_file)) {}

  Status Put(std::string_view k, std::string_view b) override {
    return Around(Op::kPut, k, [&] { return base_->Put(k, b); });
  }
  Status PutIfAbsent(std::string_view k, std::string_view b) override {
    return Around(Op::kPutIfAbsent, k, [&] { return base_->PutIfAbsent(k, b); });
  }
  Status PutFile(std::string_view k, const std::filesystem::path& f) override {
    return Around(Op::kPutFile, k, [&] { return base_->PutFile(k, f); });
  }
  Status Delete(std::string_view k) override {
    return Around(Op::kDelete, k, [&] { return base_->Delete(k); });
  }
  Result<std::string> Get(std::string_view k) override { return base_->Get(k); }
  Result<std::string> GetRange(std::string_view k, uint64_t o, uint64_t n) override {
    return base_->GetRange(k, o, n);
  }
  Result<lake::ObjectInfo> Head(std::string_view k) override { return base_->Head(k); }
  Result<std::vector<lake::ObjectInfo>> List(std::string_view p) override { return base_->List(p); }
  std::optional<std::filesystem::path> LocalPath(std::string_view k) const override {
    return base_->LocalPath(k);
  }
  std::string ReaderUri(std::string_view k) const override { return base_->ReaderUri(k); }
  std::string Describe() const override { return base_->Describe(); }

 private:
  template <typename F>
  Status Around(Op op, std::string_view key, F&& f) {
    const bool hit = (static_cast<unsigned>(op) & ops_) != 0 &&
                     std::any_of(keys_.begin(), keys_.end(),
                                 [&](const std::string& k) { return key.find(k) != key.npos; }) &&
                     Armed() && ++seen_ == nth_;
    if (hit && !after_) Fire();
    Status s = f();
    if (hit) Fire();
    return s;
  }
  bool Armed() {
    if (armed_.load() || arm_file_.empty()) return true;
    std::error_code ec;
    if (!std::filesystem::exists(arm_file_, ec)) return false;
    armed_.store(true);
    return true;
  }
  void Fire() {
    std::fprintf(stderr, "smartcity: crash point %s fired\n", spec_.c_str());
    std::fflush(stderr);
    std::raise(SIGKILL);
  }
  lake::ObjectStore* base_;
  unsigned ops_;
  std::vector<std::string> keys_;
  int nth_;
  bool after_;
  std::string spec_;
  std::string arm_file_;
  std::atomic<bool> armed_{false};
  std::atomic<int> seen_{0};
};

// "a|b|c" -> {"a", "b", "c"}.
std::vector<std::string> SplitAlternatives(const std::string& text) {
  std::vector<std::string> out;
  for (size_t at = 0;;) {
    const size_t bar = text.find('|', at);
    out.push_back(text.substr(at, bar == std::string::npos ? std::string::npos : bar - at));
    if (bar == std::string::npos) return out;
    at = bar + 1;
  }
}

}  // namespace

Result<PipelineStore> OpenPipelineStore(const PipelineArgs& args) {
  PipelineStore ps;
  SC_ASSIGN_OR_RETURN(ps.base, lake::OpenLakeStore(args.lake));
  const char* spec = std::getenv("SMARTCITY_CRASH_POINT");
  if (spec == nullptr || *spec == '\0') return ps;
  const std::string text = spec;
  std::vector<std::string> f;
  for (size_t at = 0;;) {
    const size_t c = text.find(':', at);
    f.push_back(text.substr(at, c == std::string::npos ? std::string::npos : c - at));
    if (c == std::string::npos) break;
    at = c + 1;
  }
  const std::string bad =
      "SMARTCITY_CRASH_POINT='" + text +
      "' is not <op>[|<op>...]:<key substring>[|<key substring>...]:<n>[:after]";
  if (f.size() < 3 || f.size() > 4 || (f.size() == 4 && f[3] != "after"))
    return Status::InvalidArgument(bad);
  using Op = CrashPointStore::Op;
  unsigned ops = 0;
  for (const std::string& name : SplitAlternatives(f[0])) {
    if (name == "put")
      ops |= static_cast<unsigned>(Op::kPut);
    else if (name == "put-if-absent")
      ops |= static_cast<unsigned>(Op::kPutIfAbsent);
    else if (name == "put-file")
      ops |= static_cast<unsigned>(Op::kPutFile);
    else if (name == "delete")
      ops |= static_cast<unsigned>(Op::kDelete);
    else
      return Status::InvalidArgument(bad);
  }
  const char* arm_env = std::getenv("SMARTCITY_CRASH_ARM");
  const std::string arm = arm_env == nullptr ? "" : arm_env;
  const int nth = std::atoi(f[2].c_str());
  if (nth < 1) return Status::InvalidArgument(bad);
  ps.crash_point = std::make_unique<CrashPointStore>(ps.base.get(), ops, SplitAlternatives(f[1]),
                                                     nth, f.size() == 4, text, arm);
  return ps;
}

}  // namespace smartcity::cli
