// EpochCommitter: writes closed epochs to the lake, steps 1-3 of docs/processor.md's commit
// sequence, in order: the offsets logs, one Delta commit per output table (one txn per partition
// group: appId <query>-p<p>, version E) and the state checkpoints. It owns the eight Delta tables.
//
// The Processor closes an epoch on its thread (fixing end positions, watermark and join state in an
// EpochJob) and hands the job over with Start(): the job is then written on the committer's own
// thread while the next epoch is processed, or at once on the caller's thread (RunInline, and
// Start() when background commits are off). One job at most is in flight; Wait() returns it with
// its outcome filled in.
//
// Ownership: borrows the checkpoint store, object store and database (they must outlive it).
// Thread-safety: Start/Wait/Reap/busy are for one caller thread. While a job is in flight, the
// committer thread alone touches the tables and the job; the caller reads the job again only after
// Wait() or Reap() handed it back.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/latency_histogram.h"
#include "common/mutex.h"
#include "common/retry.h"
#include "common/status.h"
#include "common/time.h"
#include "engine/engine.h"
#include "lake/delta_table.h"
#include "lake/object_store.h"
#include "pipeline/checkpoint_store.h"
#include "stream/core.h"
#include "stream/output_table.h"

namespace smartcity::pipeline {

using stream::kOutputTableCount;
using stream::OutputTable;

// The Delta txn app id of partition group p of a query: "<query>-p<p>".
std::string TxnAppId(std::string_view query, int32_t p);

// One closed epoch of some partition groups, committed to every table.
struct EpochCommit {
  std::vector<int32_t> groups;
  std::array<uint64_t, kOutputTableCount> rows{};  // rows added per table by this commit
  Micros latency{0};                               // offsets log -> last state checkpoint
  WallTime at{};                                   // wall-clock time the commit finished
  bool final = false;                              // end of a bounded input
};

// A closed epoch of some groups on its way to the lake (Processor::CloseEpochs -> EpochCommitter ->
// Processor::ApplyCommit).
struct EpochJob {
  struct Part {
    int32_t p = 0;
    int64_t epoch = 0;
    std::string offsets_log;   // the offsets log's body; empty for an epoch being replayed
    stream::StreamOutput out;  // the epoch's rows
    std::string checkpoint;    // the state checkpoint's body
    // Source timestamps of the epoch's records, in 1 ms buckets (ms -> records), for lake latency.
    std::unordered_map<int64_t, uint64_t> source_ms;
  };
  std::vector<Part> parts;
  std::vector<lake::TxnId> txns;
  // The outcome, written by the committer, read after the job is handed back.
  Status status;
  EpochCommit commit;
  uint64_t table_commits = 0;
  // Delta commits that lost the race for their log version to another writer (another member, a
  // compaction) and were retried at the next one: PutIfAbsent calls beyond the first.
  uint64_t version_conflicts = 0;
  // Group commit: table commits of this job that another member's commit made (it took this
  // member's staged epoch), and other members' staged epochs that this job's commits took.
  uint64_t epochs_committed_by_others = 0;
  uint64_t intents_taken = 0;
  // The committer's own: the job was staged (group commit, other members active) and the tables
  // whose outcome staging already settled.
  bool staged = false;
  std::array<bool, kOutputTableCount> done_tables{};
  // Set by the processor: the epochs closed at an aligned trigger, so the other members' close now
  // too and group commit waits for them (not for an epoch closed by its size).
  bool wait_for_peers = false;
  uint64_t retries = 0;
  LatencyHistogram lake_latency;
  Micros busy{0};
};

class EpochCommitter {
 public:
  // Opens (or creates) the eight output tables of `table` options, partitioned by "date". With
  // table.group_commit, when other members write the tables, a job stages every table first and
  // waits `group_commit_wait` for their epochs before the log puts.
  static Result<std::unique_ptr<EpochCommitter>> Open(const CheckpointStore* checkpoints,
                                                      lake::ObjectStore* store,
                                                      engine::Database* db,
                                                      lake::TableOptions table,
                                                      const RetryPolicy* retry, Clock* clock,
                                                      Micros group_commit_wait = Micros(0));
  // Waits for the job in flight, if any.
  ~EpochCommitter();

  // Writes `job` on the committer thread. REQUIRES: nothing in flight (busy() false after Wait()).
  void Start(std::unique_ptr<EpochJob> job);
  // Writes `job` on the caller's thread and returns it with its outcome.
  std::unique_ptr<EpochJob> RunInline(std::unique_ptr<EpochJob> job);
  // A job is in flight and not finished yet.
  bool busy() const;
  // Waits for the job in flight and returns it (nullptr: none).
  std::unique_ptr<EpochJob> Wait();
  // Returns the job in flight if it has finished (nullptr: none, or still being written).
  std::unique_ptr<EpochJob> Reap();

 private:
  EpochCommitter(const CheckpointStore* checkpoints, const RetryPolicy* retry, Clock* clock)
      : checkpoints_(checkpoints), retry_(retry), clock_(clock) {}
  // Steps 1-3 for one job; fills its outcome.
  void Run(EpochJob* job);
  // Appends the job's rows of each of `tables` and commits them (one thread per call).
  struct TableCounts {
    uint64_t retries = 0, commits = 0, conflicts = 0, by_others = 0, intents_taken = 0;
  };
  // With `stage` (group commit): appends and stages (DeltaTable::Stage) instead, no log put.
  Status CommitTables(EpochJob* job, std::span<const OutputTable> tables, bool stage,
                      TableCounts* counts);

  const CheckpointStore* checkpoints_;
  const RetryPolicy* retry_;
  Clock* clock_;
  std::array<std::unique_ptr<lake::DeltaTable>, kOutputTableCount> tables_;
  Micros group_commit_wait_{0};
  // The job in flight and its thread belong to the processor's thread (Start, Wait, Reap, busy);
  // the committer thread gets the job's address, fills its outcome and then sets done_. A job is
  // handed back only after the thread is joined, so its fields need no lock.
  std::unique_ptr<EpochJob> inflight_;
  std::thread thread_;
  mutable Mutex mu_;
  bool done_ GUARDED_BY(mu_) = false;
};

}  // namespace smartcity::pipeline
