// Maintainer: keeps the processor's Delta tables tidy while the stream writes them, with the
// table-level steps of lake/compaction.h, per table and per pass:
//
//   1. compaction: the small files of a date partition are merged into files of about the target
//      size once the partition is closed (its date is before the processor's low watermark: no
//      more on-time rows go there) or once it holds `max_small_files` small files, so a table
//      keeps at most about that many files per date partition, however long the run;
//   2. log clean-up: _delta_log commits and checkpoints older than the log retention are deleted
//      up to the newest checkpoint before the retention (lake::CleanupLog), so the log's object
//      count is bounded by the retention, not by the run length;
//   3. vacuum: data files that no snapshot newer than the vacuum retention references (replaced by
//      a compaction, or orphans of a crash) are deleted (lake::VacuumTable).
//
// None of it blocks the stream: the passes run on the maintainer's own thread (every `interval`)
// with their own DuckDB connection (to a DuckDB of their own with options.own_database, as `run`
// and `stream` set it, so a compaction never takes the writer's memory), and a compaction commit
// is an ordinary Delta commit that the streaming writer, should it lose the race for a version,
// simply follows (delta_table.h). A compaction commit carries no txn action, so the stream's
// exactly-once bookkeeping (txn versions, kept in every checkpoint) is untouched; a crash at any
// step leaves either the old files or the new ones visible, and at most orphans that a later
// vacuum removes. See docs/processor.md, "Maintenance".
//
// All time through the Clock: retentions are measured on its wall time (against the store's
// object times), passes are paced by its processing time.
//
// Ownership: borrows the store, database and clock. Thread-safety: SetLowWatermark, counters and
// Stop may be called from any thread; RunPass from one thread at a time, and not while the
// background thread runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/time.h"
#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"

namespace smartcity::pipeline {

struct MaintenanceOptions {
  // Off unless asked for (the run and stream commands turn it on by default: --maintenance).
  bool enabled = false;
  // Compaction writes files of about this size; files under a quarter of it count as small.
  uint64_t target_file_bytes = 128ull << 20;
  // An open (still written) partition is compacted once it has this many small files.
  int max_small_files = 16;
  // Data files replaced by a compaction (or orphaned by a crash) are deleted after this long.
  std::chrono::seconds vacuum_retention = std::chrono::hours(1);
  // _delta_log entries are kept at least this long; must be >= vacuum_retention.
  std::chrono::seconds log_retention = std::chrono::hours(1);
  // Time between two passes of the background thread.
  Micros interval = std::chrono::seconds(10);
  // Run the passes on the maintainer's thread (false: the caller runs RunPass itself; the
  // processor then runs one after a commit once `interval` has passed: deterministic, for tests).
  bool background = true;
  std::filesystem::path scratch_dir;  // compaction's local files; default: the system temp dir
  // Called (on the maintenance thread) with each failed step; maintenance goes on regardless.
  std::function<void(const Status&)> on_error;
  // Set: compaction and vacuum run on an in-memory DuckDB of their own with these settings (its
  // memory_limit the maintenance's share of --memory-limit), so a compaction never takes memory
  // from the stream's Parquet writer. Unset: on the database given to Open.
  std::optional<engine::DatabaseOptions> own_database;
  // The memory limit of the DuckDB that compaction runs on (0: none): own_database's
  // memory_limit, and compaction's row groups are sized to fit in it
  // (lake::CompactionRowGroupRows).
  uint64_t memory_bytes = 0;
  // Set: for a table (its prefix), the version after which a reader in this process still needs
  // every commit (`run`'s warehouse follower: what it has loaded); the log clean-up keeps those
  // commits whatever the retention (lake::CleanupLog's keep_after). None: the retention decides.
  std::function<std::optional<int64_t>(const std::string& table)> keep_log_after;
  // Set: held while one table is maintained (its compaction, log clean-up and vacuum). `run` gives
  // the same lock to its warehouse loader (warehouse::LoaderOptions::exclusive).
  Mutex* exclusive = nullptr;
};

Status ValidateMaintenance(const MaintenanceOptions& options);

struct MaintenanceCounters {
  uint64_t passes = 0;
  uint64_t compactions = 0;      // compaction commits
  uint64_t files_compacted = 0;  // small files replaced
  uint64_t files_written = 0;    // files written by compactions
  uint64_t bytes_compacted = 0;  // bytes of the small files replaced
  uint64_t bytes_written = 0;    // bytes of the files compactions wrote
  uint64_t log_entries_deleted = 0;
  uint64_t files_vacuumed = 0;
  uint64_t errors = 0;
  // Time (the clock's processing time) in each step, waiting for options.exclusive, and in the
  // last pass that RunPass made (the stop's, in a bounded run).
  double compaction_seconds = 0;
  double cleanup_seconds = 0;
  double vacuum_seconds = 0;
  double lock_wait_seconds = 0;
  double last_run_pass_seconds = 0;
};

// The compaction policy: whether a partition with `small_files` small files (>= 2) is compacted
// now. A partition whose "date" value is before `closed_before` (the processor's low watermark
// date, "2026-01-05"; empty: none is closed) is compacted whatever its count; any other once it
// has `max_small_files`.
bool ShouldCompact(const lake::PartitionValues& partition, int small_files,
                   const std::string& closed_before, int max_small_files);

class Maintainer {
 public:
  // `tables`: the table prefixes to maintain (a table that does not exist yet is skipped).
  static Result<std::unique_ptr<Maintainer>> Open(lake::ObjectStore* store, engine::Database* db,
                                                  std::vector<std::string> tables,
                                                  MaintenanceOptions options, Clock* clock);
  // Stops the thread (an interrupted pass leaves the lake as a crash there would: consistent).
  ~Maintainer();

  // Starts the background thread (options.background).
  void Start();
  // Stops the background thread, waiting for the pass in progress; idempotent.
  void Stop();

  // The processor's low watermark: partitions of dates before its date are closed.
  void SetLowWatermark(std::optional<EventTime> watermark);

  // One pass over every table. `final`: the input has ended, every partition counts as closed.
  // Returns the first failure (the other tables are still maintained; a DuckDB of its own that
  // cannot be opened ends the pass).
  Status RunPass(bool final = false);
  // RunPass() if `interval` has passed since the last one that this started (the first call runs
  // one): how the processor paces passes when they run on its thread (options.background false).
  Status RunPassIfDue();

  MaintenanceCounters counters() const;

 private:
  Maintainer(lake::ObjectStore* store, engine::Database* db, std::vector<std::string> tables,
             MaintenanceOptions options, Clock* clock);
  Status MaintainTable(const std::string& table, bool final, ProcessingTime now);
  void Fail(const Status& s);
  // With options_.own_database: opens it (into own_db_ and db_); each table's turn closes it at
  // its end.
  Status OpenOwnDatabase();

  lake::ObjectStore* store_;
  std::unique_ptr<engine::Database> own_db_;  // options_.own_database, during a table's turn
  engine::Database* db_;                      // null between turns with own_database
  const std::vector<std::string> tables_;
  const MaintenanceOptions options_;
  Clock* clock_;
  // Days since the epoch of the low watermark; INT64_MIN: none yet.
  std::atomic<int64_t> watermark_day_{INT64_MIN};
  // A pass; `interruptible` (the background thread's): ends early once Stop() is called.
  Status Pass(bool final, bool interruptible);
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::optional<ProcessingTime> next_pass_;  // RunPassIfDue
  // When each table's log clean-up and vacuum are next due (the pass's thread only).
  std::map<std::string, ProcessingTime> next_cleanup_, next_vacuum_;
  mutable Mutex mu_;
  MaintenanceCounters counters_ GUARDED_BY(mu_);
};

}  // namespace smartcity::pipeline
