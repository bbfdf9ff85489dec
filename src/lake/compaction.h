// Table maintenance: compaction (many small data files of a partition -> one file), vacuum
// (deleting data files that no current reader needs) and log clean-up (deleting expired
// _delta_log entries). pipeline/maintainer.h runs all three while a stream writes the table.
//
// Compaction reads the small files of a partition through DuckDB's read_parquet, writes them as one
// zstd Parquet file, and commits remove(dataChange=false) for the old files plus
// add(dataChange=false) for the new one in ONE Delta commit, so every reader sees either the old
// files or the new one, and the table's rows never change (the row counts are checked before
// committing; the new file's Delta stats are merged from its inputs' stats, and read from the file
// only when an input has none). It is safe against concurrent appends: a lost race re-reads the log
// and retries at the next version; a partition whose small files another compaction already removed
// is given up (its new file deleted). It writes no txn action, so the streaming writers'
// exactly-once bookkeeping is untouched.
//
// Vacuum deletes data files under the table that are not in the latest snapshot (tombstoned by a
// compaction, or orphans left by a crash between writing a data file and committing it) once they
// are older than `retention`: a file is kept while it was written, or removed by a commit still in
// the JSON log, less than `retention` ago. The retention must exceed the longest time a writer
// keeps written-but-uncommitted files (its commit interval) and the longest query on an old
// snapshot, and must not exceed the log retention (the removes it looks at live in the log).
//
// Log clean-up (Delta's logRetentionDuration): with C the newest checkpoint written more than
// `retention` ago, it deletes the JSON commits and the checkpoints before version C, oldest first,
// so what is left is always checkpoint C (or a newer one, which _last_checkpoint names) followed by
// every later commit: a reader, and a writer's exactly-once check (txn versions are in every
// checkpoint), still finds the whole table state. Commit C itself is kept. A table with no
// checkpoint older than the retention keeps its whole log.
//
// Protocol: CompactTable and VacuumTable load the table for writing, so they refuse a table whose
// protocol or features this writer does not support (lake/delta_features.h) before changing
// anything; compaction never rewrites a data file that has a deletion vector. CleanupLog reads no
// snapshot: its callers check first (pipeline::Maintainer runs it only after CompactTable
// succeeded on the table).
//
// Thread-safety: the functions are reentrant; they borrow the store and the engine database.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"
#include "lake/parquet_writer.h"

namespace smartcity::lake {

struct CompactionOptions {
  // Files smaller than this are compaction candidates.
  uint64_t small_file_bytes = 32ull << 20;
  // A merged file holds small files up to about this many bytes.
  uint64_t target_file_bytes = 128ull << 20;
  // A partition is compacted when it has at least this many small files ...
  int min_files = 2;
  // ... or, if set, when this says so (given the partition's values and its number of small files,
  // always at least 2).
  std::function<bool(const PartitionValues& partition, int small_files)> select;
  // After a compaction commit at a version that is a multiple of this, a checkpoint (0: never), as
  // the streaming writer does (lake/delta_table.h).
  int checkpoint_interval = 10;
  Clock* clock = nullptr;             // commit and tombstone times; null: the real clock
  std::filesystem::path scratch_dir;  // default: the system temp dir
  int max_commit_attempts = 20;
  ParquetWriterOptions parquet;
};

struct CompactionResult {
  int64_t table_version =
      -1;  // the version written by the compaction (unchanged if nothing was done)
  int partitions_compacted = 0;
  int files_removed = 0;
  int files_added = 0;
  int64_t rows_rewritten = 0;
  uint64_t bytes_removed = 0;  // sizes of the files replaced
  uint64_t bytes_added = 0;    // sizes of the files written
  int attempts = 0;
  int groups_abandoned = 0;  // groups given up because a concurrent writer removed their files
  // The table keeps symlink manifests (lake/symlink_manifest.h) and they could not be rewritten
  // after the compaction commit, which stands (also printed on stderr); the table's next commit
  // rewrites them.
  std::string manifest_error;
  // The table has Iceberg metadata (lake/iceberg.h), kept in step by every compaction commit, and
  // it could not be written after this one (which stands; printed on stderr too); the table's
  // next commit or writer open mirrors the newest version.
  std::string iceberg_error;
};

// The row groups compaction should write on a DuckDB whose memory limit is `memory_bytes` (0: no
// limit). DuckDB's Parquet writer holds a whole row group and its dictionaries in memory; over
// the limit it evicts and re-reads buffers instead of failing, and that costs more than the
// rewrite itself: 524 MB of small files took 15.5-21 CPU-s with row groups of 122,880 rows under
// 48 MiB and 9.8 s under 96 MiB, or 9.9-13.8 s (median 11) with 30,720-row groups under 48 MiB
// (bench/RESULTS.md, "Compaction under a memory limit"). So: about 1,600 bytes of limit per row,
// in whole DuckDB vectors (2,048 rows), at least 10,240 and at most DuckDB's default, 122,880.
uint64_t CompactionRowGroupRows(uint64_t memory_bytes);

Result<CompactionResult> CompactTable(ObjectStore* store, engine::Database* db,
                                      const std::string& table_prefix,
                                      const CompactionOptions& options = {});

struct VacuumResult {
  int files_deleted = 0;
  // Iceberg metadata files (lake/iceberg.h) no longer referenced and older than the retention
  // (also in `deleted`, not in files_deleted).
  int iceberg_files_deleted = 0;
  uint64_t bytes_deleted = 0;
  std::vector<std::string> deleted;  // keys (or, in a dry run, the keys that would be deleted)
};

struct VacuumOptions {
  std::chrono::seconds retention{7 * 24 * 3600};
  bool dry_run = false;
  Clock* clock = nullptr;  // null: the real clock
  // Reads the table's checkpoint: needed once the log has been cleaned up (null: JSON log only).
  engine::Database* db = nullptr;
};

Result<VacuumResult> VacuumTable(ObjectStore* store, const std::string& table_prefix,
                                 const VacuumOptions& options);

struct LogCleanupResult {
  int64_t checkpoint_version = -1;  // C: the log now starts there (-1: nothing expired)
  int commits_deleted = 0;
  int checkpoints_deleted = 0;
};

// `keep_after`: a reader still needs every commit after this version (a warehouse loader that has
// loaded up to it); the clean-up then starts the log at a checkpoint no newer than keep_after + 1,
// whatever the retention allows. None: the retention alone decides.
Result<LogCleanupResult> CleanupLog(ObjectStore* store, const std::string& table_prefix,
                                    std::chrono::seconds retention, Clock* clock = nullptr,
                                    std::optional<int64_t> keep_after = std::nullopt);

// Table prefixes under `root_prefix` ("" = the whole store): every folder holding a _delta_log.
Result<std::vector<std::string>> ListTables(ObjectStore* store, const std::string& root_prefix);

}  // namespace smartcity::lake
