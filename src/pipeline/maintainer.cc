#include "pipeline/maintainer.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/memory.h"
#include "common/process_stats.h"
#include "lake/compaction.h"

namespace smartcity::pipeline {

namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000LL;

int64_t DayOf(EventTime t) {
  const int64_t us = t.time_since_epoch().count();
  return us / kMicrosPerDay - (us % kMicrosPerDay < 0 ? 1 : 0);
}

// How often a step whose horizon is `retention` runs: a few times per retention, but not more
// often than every pass nor less often than every `cap`.
Micros Cadence(std::chrono::seconds retention, Micros interval, Micros cap) {
  const Micros quarter = std::chrono::duration_cast<Micros>(retention) / 4;
  return std::clamp(quarter, interval, std::max(interval, cap));
}

double Seconds(ProcessingTime::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Status ValidateMaintenance(const MaintenanceOptions& o) {
  if (o.target_file_bytes < (1u << 20))
    return Status::InvalidArgument("--target-file-size must be at least 1MiB");
  if (o.max_small_files < 2) return Status::InvalidArgument("--max-small-files must be at least 2");
  if (o.vacuum_retention < std::chrono::seconds(1))
    return Status::InvalidArgument(
        "--vacuum-retention must be at least 1s (files written for a commit that has not landed "
        "yet must survive it)");
  if (o.log_retention < o.vacuum_retention) {
    return Status::InvalidArgument(
        "--log-retention must be at least --vacuum-retention (vacuum looks for recently replaced "
        "files in the log)");
  }
  if (o.interval <= Micros(0))
    return Status::InvalidArgument("the maintenance interval must be > 0");
  return Status::OK();
}

bool ShouldCompact(const lake::PartitionValues& partition, int small_files,
                   const std::string& closed_before, int max_small_files) {
  if (small_files < 2) return false;
  if (small_files >= max_small_files) return true;
  if (closed_before.empty()) return false;
  auto it = partition.find("date");
  if (it == partition.end() || !it->second.has_value()) return false;
  // ISO dates compare as strings.
  return *it->second < closed_before;
}

Maintainer::Maintainer(lake::ObjectStore* store, engine::Database* db,
                       std::vector<std::string> tables, MaintenanceOptions options, Clock* clock)
    : store_(store),
      db_(db),
      tables_(std::move(tables)),
      options_(std::move(options)),
      clock_(Clock::OrReal(clock)) {}

Result<std::unique_ptr<Maintainer>> Maintainer::Open(lake::ObjectStore* store, engine::Database* db,
                                                     std::vector<std::string> tables,
                                                     MaintenanceOptions options, Clock* clock) {
  SC_RETURN_IF_ERROR(ValidateMaintenance(options));
  std::unique_ptr<Maintainer> m(
      new Maintainer(store, db, std::move(tables), std::move(options), clock));
  SC_RETURN_IF_ERROR(m->OpenOwnDatabase());
  return m;
}

Status Maintainer::OpenOwnDatabase() {
  if (!options_.own_database) return Status::OK();
  engine::DatabaseOptions dbo = *options_.own_database;
  if (options_.memory_bytes > 0)
    dbo.settings["memory_limit"] = std::to_string(options_.memory_bytes >> 20) + "MiB";
  own_db_.reset();
  db_ = nullptr;
  SC_ASSIGN_OR_RETURN(own_db_, engine::Database::Open("", dbo));
  db_ = own_db_.get();
  return Status::OK();
}

Maintainer::~Maintainer() {
  Stop();
}

void Maintainer::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    NameThisThread("sc-maintain");
    ProcessingTime next = clock_->Now() + options_.interval;
    while (SleepUntil(*clock_, next, &stop_)) {
      (void)Pass(/*final=*/false, /*interruptible=*/true);
      next = clock_->Now() + options_.interval;
    }
  });
}

void Maintainer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Maintainer::SetLowWatermark(std::optional<EventTime> watermark) {
  if (watermark) watermark_day_ = DayOf(*watermark);
}

MaintenanceCounters Maintainer::counters() const {
  MutexLock lock(&mu_);
  return counters_;
}

void Maintainer::Fail(const Status& s) {
  {
    MutexLock lock(&mu_);
    ++counters_.errors;
  }
  if (options_.on_error) options_.on_error(s);
}

Status Maintainer::RunPass(bool final) {
  const ProcessingTime start = clock_->Now();
  Status s = Pass(final, /*interruptible=*/false);
  const double seconds = Seconds(clock_->Now() - start);
  MutexLock lock(&mu_);
  counters_.last_run_pass_seconds = seconds;
  return s;
}

Status Maintainer::Pass(bool final, bool interruptible) {
  const ProcessingTime now = clock_->Now();
  Status first;
  for (const std::string& table : tables_) {
    if (interruptible && stop_) break;  // the background thread is being stopped
    Status s;
    {
      const ProcessingTime asked = clock_->Now();
      // The turn's end hands back what this table's maintenance freed, its DuckDB's included.
      MemoryTurn turn(options_.exclusive);
      const double waited = Seconds(clock_->Now() - asked);
      {
        MutexLock lock(&mu_);
        counters_.lock_wait_seconds += waited;
      }
      if (db_ == nullptr && options_.own_database) {
        s = OpenOwnDatabase();
        if (!s.ok()) {
          s = s.WithContext("opening the maintenance's DuckDB");
          Fail(s);
          if (first.ok()) first = s;
          break;
        }
      }
      s = MaintainTable(table, final, now);
      // A DuckDB of our own lives for one table, so that none of it is resident while the
      // warehouse loader takes its turn. And DuckDB 1.4 reads a file through short-lived buffers
      // that it queues for eviction when they are freed, and it empties that queue only under
      // memory pressure, which a reader that does not cache files (enable_external_file_cache
      // off) never comes under: each read left a little of the C heap behind, and days of
      // compactions added it up (fixed in later DuckDB releases). An in-memory database opens in
      // milliseconds.
      if (options_.own_database) {
        own_db_.reset();
        db_ = nullptr;
      }
    }
    if (!s.ok()) {
      s = s.WithContext("maintaining table " + table);
      Fail(s);
      if (first.ok()) first = s;
    }
  }
  MutexLock lock(&mu_);
  ++counters_.passes;
  return first;
}

Status Maintainer::RunPassIfDue() {
  const ProcessingTime now = clock_->Now();
  if (next_pass_ && now < *next_pass_) return Status::OK();
  next_pass_ = now + options_.interval;
  return RunPass();
}

Status Maintainer::MaintainTable(const std::string& table, bool final, ProcessingTime now) {
  // 1. Compaction.
  const int64_t wm_day = watermark_day_.load();
  const std::string closed_before =
      final ? std::string("9999-12-31")
            : (wm_day == INT64_MIN ? std::string() : FormatDate(wm_day));
  lake::CompactionOptions co;
  co.target_file_bytes = options_.target_file_bytes;
  co.small_file_bytes = std::max<uint64_t>(1, options_.target_file_bytes / 4);
  co.scratch_dir = options_.scratch_dir;
  co.clock = clock_;
  co.parquet.row_group_rows = lake::CompactionRowGroupRows(options_.memory_bytes);
  const int max_small = options_.max_small_files;
  co.select = [&](const lake::PartitionValues& partition, int small_files) {
    return ShouldCompact(partition, small_files, closed_before, max_small);
  };
  ProcessingTime start = clock_->Now();
  auto compacted = lake::CompactTable(store_, db_, table, co);
  {
    MutexLock lock(&mu_);
    counters_.compaction_seconds += Seconds(clock_->Now() - start);
  }
  if (!compacted.ok()) {
    if (compacted.status().kind() == ErrorKind::kNotFound) return Status::OK();  // no table yet
    return compacted.status();
  }
  if (compacted->files_removed > 0) {
    MutexLock lock(&mu_);
    ++counters_.compactions;
    counters_.files_compacted += static_cast<uint64_t>(compacted->files_removed);
    counters_.files_written += static_cast<uint64_t>(compacted->files_added);
    counters_.bytes_compacted += compacted->bytes_removed;
    counters_.bytes_written += compacted->bytes_added;
  }
  if (final) return Status::OK();

  // 2. Log clean-up.
  auto due = [&](std::map<std::string, ProcessingTime>* next, std::chrono::seconds retention,
                 Micros cap) {
    auto it = next->find(table);
    if (it != next->end() && now < it->second) return false;
    (*next)[table] = now + Cadence(retention, options_.interval, cap);
    return true;
  };
  if (due(&next_cleanup_, options_.log_retention, std::chrono::minutes(15))) {
    start = clock_->Now();
    SC_ASSIGN_OR_RETURN(
        lake::LogCleanupResult cleaned,
        lake::CleanupLog(store_, table, options_.log_retention, clock_,
                         options_.keep_log_after ? options_.keep_log_after(table) : std::nullopt));
    MutexLock lock(&mu_);
    counters_.log_entries_deleted +=
        static_cast<uint64_t>(cleaned.commits_deleted + cleaned.checkpoints_deleted);
    counters_.cleanup_seconds += Seconds(clock_->Now() - start);
  }

  // 3. Vacuum.
  if (due(&next_vacuum_, options_.vacuum_retention, std::chrono::hours(1))) {
    lake::VacuumOptions vo;
    vo.retention = options_.vacuum_retention;
    vo.clock = clock_;
    vo.db = db_;
    start = clock_->Now();
    auto vacuumed = lake::VacuumTable(store_, table, vo);
    {
      MutexLock lock(&mu_);
      counters_.vacuum_seconds += Seconds(clock_->Now() - start);
    }
    if (!vacuumed.ok()) {
      return vacuumed.status().kind() == ErrorKind::kNotFound ? Status::OK() : vacuumed.status();
    }
    MutexLock lock(&mu_);
    counters_.files_vacuumed += static_cast<uint64_t>(vacuumed->files_deleted);
  }
  return Status::OK();
}

}  // namespace smartcity::pipeline
