// DeltaTable: the exactly-once writer of one Delta table.
//
// Per epoch (micro-batch) the stream processor calls Append(batch, group) with the epoch's rows
// (any number of calls; `group` is the txn appId the rows belong to, e.g. "<query>-p<partition
// group>"), then Commit({{group, epoch}, ...}) once. Rows are buffered per (group, partition) —
// Hive-style folders such as date=2026-01-05/ — and Commit writes, per partition, the buffers of
// all its groups as one Parquet data file (split only past the target size), uploads the files, and
// then writes ONE Delta commit holding their `add` actions plus one `txn{appId: group, version:
// epoch}` per group. The commit is made with PutIfAbsent, so it is atomic: before it no reader sees
// any of the new files, after it every reader sees all of them. (A buffer written out early, at the
// target size, is a file of its group alone.)
//
// Idempotence: Commit first re-reads the log; a group whose txn in the table is already >= its
// epoch has that epoch in the table already (a restarted processor replaying it), so its rows and
// files are dropped and its txn is left out; if every group is like that, nothing is written
// (`skipped`). The rows stay buffered until the commit lands: when a lost race reveals another
// group as committed, the shared files are written again without it. So "replay epoch E and commit
// it again" is always safe. See docs/commit_protocol.md for the whole crash/restart protocol.
//
// File-size policy (never one tiny file per partition per Append): rows of all Append() calls
// between two commits share one buffer per (group, partition), so a commit writes at most one file
// per partition per group it touched; a buffer is written out early (still invisible until the
// commit) when its estimated Parquet size reaches `target_file_bytes`. Small files that accumulate
// across commits are merged later by compaction (lake/compaction.h, `smartcity compact`).
//
// Concurrency: several writers (threads or processes, e.g. consumer-group members owning different
// groups) may commit to one table; a lost race for version N re-reads the log and retries at N+1
// (appends never conflict with each other). A schema change by another writer in between is
// checked.
//
// Ownership: borrows the store and the engine Database, which must outlive it.
// Thread-safety: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/record_batch.h"
#include "common/status.h"
#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"
#include "lake/parquet_writer.h"

namespace smartcity::lake {

// How one partition column's value is obtained from a row.
struct PartitionField {
  enum class Kind {
    kIdentity,  // the value of an existing (string/int/bool) column; the column leaves the data
                // files
    kDateOf,    // the UTC date of a timestamp column: Delta type date, "2026-01-05"
    kHourOf,    // the UTC hour (0-23) of a timestamp column: Delta type integer
  };
  std::string name;  // partition column name in the table
  Kind kind = Kind::kIdentity;
  std::string source;  // kDateOf / kHourOf: the timestamp column; kIdentity: same as name

  static PartitionField Identity(const std::string& column) {
    return {column, Kind::kIdentity, column};
  }
  static PartitionField DateOf(std::string timestamp_column, std::string name = "date") {
    return {std::move(name), Kind::kDateOf, std::move(timestamp_column)};
  }
  static PartitionField HourOf(std::string timestamp_column, std::string name = "hour") {
    return {std::move(name), Kind::kHourOf, std::move(timestamp_column)};
  }
};

struct TableOptions {
  std::vector<PartitionField> partitions;
  // A partition's buffer is written to a data file once its estimated Parquet size reaches this.
  uint64_t target_file_bytes = 128ull << 20;
  // Bound on buffered (in-memory) bytes per partition, whatever the estimate says.
  uint64_t max_buffer_bytes = 512ull << 20;
  // Local folder for Parquet files before they are uploaded; default: the system temp dir.
  std::filesystem::path scratch_dir;
  // A Parquet checkpoint every this many commits (0: never).
  int checkpoint_interval = 10;
  // How often a commit that lost the race for its version is retried at the next one.
  int max_commit_attempts = 100;
  ParquetWriterOptions parquet;
  std::map<std::string, std::string>
      configuration;  // Delta table properties (metaData.configuration)
  // Also keep Apache Iceberg metadata of the table (lake/iceberg.h): after every commit, and at
  // Open (which heals a table whose Iceberg metadata lags its Delta log after a crash).
  bool iceberg = false;
  // Group commit (docs/commit_protocol.md, "Group commit"), for many writers of one table: a
  // commit first publishes its txns and files as an intent under <table>/_staged/, and every
  // commit also takes the other writers' pending intents, so the table gets about one version per
  // trigger whatever the number of writers, and a writer that lost the race often finds its epoch
  // committed for it.
  bool group_commit = false;
  // Group commit: another writer's intent is taken only while it is younger than this (by the
  // store's time of its object, as vacuum ages files); an older one is left to its writer, or to
  // its replay after a restart. Vacuum retention must be longer (files of a pending intent are not
  // in the log yet).
  std::chrono::milliseconds intent_ttl{20'000};
  // Group commit: a writer stages its commits (and waits for others', pipeline::EpochCommitter)
  // only while other writers have committed to the table within this long; a lone writer pays
  // nothing.
  std::chrono::milliseconds peers_within{60'000};
};

// One streaming transaction id: the group (Delta txn appId) and its epoch (txn version).
struct TxnId {
  std::string app_id;
  int64_t version = 0;
};

struct CommitResult {
  int64_t table_version = -1;  // the version written, or the table's version when skipped
  bool skipped = false;        // every group already had txn >= its epoch: nothing was written
  std::vector<std::string>
      skipped_groups;  // groups left out because the table already had their epoch
  int files_added = 0;
  int64_t rows_added = 0;
  int attempts = 0;  // PutIfAbsent calls (>1: lost races to other writers)
  // Group commit: other writers' intents this commit took, and whether this writer's own epoch
  // was committed by another writer's commit (which took its intent; table_version is then the
  // version this writer saw it in).
  int intents_taken = 0;
  bool committed_by_other = false;
  // The table has delta.compatibility.symlinkFormatManifest.enabled (lake/symlink_manifest.h) and
  // the manifests could not be rewritten after the commit: the commit has landed all the same (it
  // is not failed, so not retried or duplicated); the error is also printed on stderr and the next
  // commit rewrites every manifest.
  std::string manifest_error;
  // With TableOptions::iceberg: the Iceberg commit that mirrors this version failed (the Delta
  // commit stands; also printed on stderr; the next commit or open mirrors the newest version).
  std::string iceberg_error;
};

class DeltaTable {
 public:
  // Opens the table at key prefix `table_prefix` of `store`, creating it (version 0: protocol,
  // metaData) if it does not exist. An existing table must have the same partition columns and a
  // compatible schema: same types for common columns, no column the writer lacks, nullable added
  // columns only (they are added to the table with the next commit). Otherwise kInvalidArgument
  // saying which column differs.
  static Result<std::unique_ptr<DeltaTable>> Open(ObjectStore* store, engine::Database* db,
                                                  std::string table_prefix,
                                                  std::shared_ptr<const Schema> schema,
                                                  TableOptions options = {});
  ~DeltaTable();

  // Buffers the rows of `batch` (same schema as Open's) for `group` (a txn appId; "" = the only txn
  // of the next Commit). May write data files (invisible until Commit).
  Status Append(const RecordBatch& batch, const std::string& group = "");
  // The same, but may take the batch's data instead of copying it (when all its rows go to one
  // partition whose buffer is empty); `batch` is left valid, with unspecified rows.
  Status Append(RecordBatch&& batch, const std::string& group = "");

  // Writes what is buffered and commits it with one txn per entry of `txns` (distinct app ids;
  // every group that has rows must be listed; rows of group "" need exactly one entry). Groups
  // whose txn the table already has at >= the version are dropped (see above). On error nothing
  // buffered is lost: the same Commit may be retried (it finds out from the log whether the failed
  // attempt landed), or Abort() called.
  Result<CommitResult> Commit(const std::vector<TxnId>& txns);
  Result<CommitResult> Commit(const std::string& app_id, int64_t txn_version) {
    return Commit(std::vector<TxnId>{TxnId{app_id, txn_version}});
  }

  // The first half of Commit: drops groups the table has, writes the data files and (group
  // commit) publishes the intent, but makes no log put. Commit(txns), called next, finishes (and
  // finds out whether another writer's commit took the intent meanwhile). Returns `skipped` as
  // Commit would, or `committed_by_other` (table_version set: settled); otherwise an empty result
  // (table_version -1).
  Result<CommitResult> Stage(const std::vector<TxnId>& txns);
  // Group commit is on and other writers committed to the table within options.peers_within (txn
  // app ids not in `own`, by the snapshot as of the last log read): a commit then stages its
  // epoch, and is worth a short wait for the others' before its put.
  bool OtherWritersActive(const std::vector<TxnId>& own) const;

  // Forgets buffered rows and deletes data files written since the last commit.
  Status Abort();

  // The table's latest txn version for app_id (re-reads the log).
  Result<std::optional<int64_t>> TxnVersion(const std::string& app_id);
  // Re-reads the log (picks up other writers' commits).
  Status Refresh();

  size_t buffered_rows() const;
  const Snapshot& snapshot() const { return snap_; }
  const DeltaSchema& delta_schema() const { return table_schema_; }
  const std::string& table_prefix() const { return log_.table_prefix(); }
  DeltaLog& log() { return log_; }

 private:
  struct Buffer {
    std::string group;
    PartitionValues values;
    std::string dir;  // "date=2026-01-05/" or ""
    std::unique_ptr<RecordBatch> rows;
  };

  DeltaTable(ObjectStore* store, std::string prefix, std::shared_ptr<const Schema> schema,
             TableOptions options);
  Status Init(engine::Database* db);
  struct Pending {
    std::string group;
    AddFile file;
  };
  Status AppendImpl(const RecordBatch& batch, const std::string& group, RecordBatch* movable);
  Result<CommitResult> CommitImpl(const std::vector<TxnId>& txns, bool stage_only);
  // Writes a buffer's rows as data file(s) and records them as pending adds of its group.
  Status Flush(Buffer* b);
  // Writes the rows of `ranges`, one after the other, as data file(s) of partition `b`
  // (split past the target size); appends their add actions to `out`. On error deletes what it
  // wrote.
  Status WriteFiles(std::span<const RowRange> ranges, const Buffer& b, std::vector<AddFile>* out);
  // Writes every buffered row, one file per partition across groups, as merged_ (buffers kept).
  Status WriteMerged();
  // Deletes the merged files unless the snapshot shows them committed (or they were published).
  Status DropMerged();
  // Group commit: publishes this writer's intent (the txns of `wanted` not in `skipped`, and every
  // pending and merged file) under _staged/.
  Status PublishIntent(const std::map<std::string, int64_t>& wanted,
                       const std::set<std::string>& skipped);
  // Deletes the published intent, if any (best effort: a leftover is never taken again, as one of
  // its txns is in the table or it expires).
  void WithdrawIntent();
  // The published intent's txns are all in the snapshot, with this writer's files: another
  // writer's commit took it.
  bool IntentTaken() const;
  // The version at which a log put of unknown outcome (unknown_put_) landed: the one, among the
  // versions it tried that are in the snapshot, carrying its commitInfo.txnId. nullopt if there is
  // no such put, or none of them is it (another writer's, or cleaned up); an error reading the log
  // is returned.
  Result<std::optional<int64_t>> UnknownPutLanded();
  // Other writers' intents that a commit at snap_.version + 1 may take with the txns of `own`
  // (app ids): every txn newer than the table's, no app id twice, younger than the TTL, files
  // present; by key, oldest first. Deletes intents that no commit may take any more (one of their
  // txns is in the table, or they are older than the TTL). Errors only leave intents out.
  std::vector<std::pair<std::string, CommitActions>> TakeableIntents(
      const std::set<std::string>& own);
  // Drops the buffers and pending files of groups for which `drop(group)` is true; deletes those
  // files unless the snapshot shows them committed (or they were published).
  Status DropGroups(const std::function<bool(const std::string&)>& drop);

  ObjectStore* store_;
  DeltaLog log_;
  std::shared_ptr<const Schema> schema_;
  TableOptions options_;
  std::unique_ptr<ParquetWriter> writer_;
  std::vector<engine::ParquetFieldId> field_ids_;  // of data_columns_ (lake/iceberg.h)
  Snapshot snap_;
  DeltaSchema table_schema_;       // what the table's metaData says after our next commit
  bool metadata_changed_ = false;  // table_schema_ adds columns: the next commit carries metaData
  std::vector<int> data_columns_;  // batch columns that go into data files
  std::vector<int> partition_sources_;     // per partition field: index of its source column
  std::map<std::string, Buffer> buffers_;  // by group + '\n' + partition folder
  std::vector<Pending> pending_;           // uploaded, not yet committed
  std::vector<AddFile> merged_;  // written at Commit from buffers_ (which stay until it lands)
  bool merged_written_ = false;
  double compression_ratio_ = 0.25;  // Parquet bytes / in-memory bytes, learnt from written files
  int file_counter_ = 0;
  std::string writer_id_;  // a UUID naming this writer's files
  // With options_.iceberg: mirrors snap_ to the Iceberg metadata; "" or the error (also printed).
  std::string MirrorIceberg();
  // The table version this writer's last successful symlink manifest write listed (-1: none).
  int64_t manifest_version_ = -1;
  // Group commit: this writer's published intent ("" none) and its txns; other writers' intents
  // read so far, by key (an intent never changes once written; nullopt: not one).
  std::string intent_key_;
  std::map<std::string, int64_t> intent_txns_;
  // Files this writer has named in an intent since its last commit: never deleted by it (another
  // writer may be landing them, or have landed them and compacted them away since, while readers
  // of that version still read them); orphans at worst, for vacuum.
  std::set<std::string> published_;
  // Log puts of one commit (its txns, `wanted`) that may have landed (an error other than
  // "exists", or "exists" that may answer a resend of our own put): the versions they tried, their
  // commitInfo.txnId (every retry of the commit reuses it) and the intents they took, so that a
  // retried Commit that finds the epochs in tells its own commit from another writer's.
  struct UnknownPut {
    int64_t first_version = -1;
    int64_t last_version = -1;
    std::string txn_id;
    // By version: the intents its puts took, by key, with their txns (app id, version).
    std::map<int64_t, std::map<std::string, std::vector<std::pair<std::string, int64_t>>>> taken;
    std::map<std::string, int64_t> wanted;
  };
  std::optional<UnknownPut> unknown_put_;
  int intent_counter_ = 0;
  std::map<std::string, std::optional<CommitActions>> staged_cache_;
};

}  // namespace smartcity::lake
