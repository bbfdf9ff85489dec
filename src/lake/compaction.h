// Table maintenance: compaction (many small data files of a partition -> one file) and vacuum
// (deleting data files that no current reader needs).
//
// Compaction reads the small files of a partition through DuckDB's read_parquet, writes them as one
// zstd Parquet file, and commits remove(dataChange=false) for the old files plus
// add(dataChange=false) for the new one in ONE Delta commit, so every reader sees either the old
// files or the new one, and the table's rows never change (the row counts are checked before
// committing). It is safe against concurrent appends: a lost race re-reads the log and retries at
// the next version; a partition whose small files another compaction already removed is given up
// (its new file deleted). It writes no txn action, so the streaming writers' exactly-once
// bookkeeping is untouched.
//
// Vacuum deletes data files under the table that are not in the latest snapshot (tombstoned by a
// compaction, or orphans left by a crash between writing a data file and committing it) once they
// are older than `retention`. The retention must exceed the longest time a writer keeps
// written-but- uncommitted files (its commit interval) and the longest query on an old snapshot.
//
// Thread-safety: the functions are reentrant; they borrow the store and the engine database.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "lake/object_store.h"
#include "lake/parquet_writer.h"

namespace smartcity::lake {

struct CompactionOptions {
  // Files smaller than this are compaction candidates.
  uint64_t small_file_bytes = 32ull << 20;
  // A merged file holds small files up to about this many bytes.
  uint64_t target_file_bytes = 128ull << 20;
  // A partition is compacted when it has at least this many small files.
  int min_files = 2;
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
  int attempts = 0;
  int groups_abandoned = 0;  // groups given up because a concurrent writer removed their files
};

Result<CompactionResult> CompactTable(ObjectStore* store, engine::Database* db,
                                      const std::string& table_prefix,
                                      const CompactionOptions& options = {});

struct VacuumResult {
  int files_deleted = 0;
  uint64_t bytes_deleted = 0;
  std::vector<std::string> deleted;  // keys (or, in a dry run, the keys that would be deleted)
};

Result<VacuumResult> VacuumTable(ObjectStore* store, const std::string& table_prefix,
                                 std::chrono::seconds retention, bool dry_run = false);

// Table prefixes under `root_prefix` ("" = the whole store): every folder holding a _delta_log.
Result<std::vector<std::string>> ListTables(ObjectStore* store, const std::string& root_prefix);

}  // namespace smartcity::lake
