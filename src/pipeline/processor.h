// Processor: the stream processor's runtime. It reads an EventSource, runs one StreamCore per
// partition group (partition p of all five topics), writes every output table to the Delta lake and
// checkpoints, following the epoch protocol of docs/processor.md:
//
//   epoch E of group p:  wm(E) fixed at the epoch's start  ->  records processed as they arrive  ->
//   close: offsets WAL (end positions, wm, final?)  ->  one Delta commit per table with
//   txn(<query>-p<p>, E)
//          ->  state checkpoint (join state + positions)
//
// After a crash, LoadPositions() (the source asks when it is assigned partitions) restores each
// group from its newest state checkpoint and, when a WAL for the next epoch exists, re-runs that
// epoch exactly (up to the recorded end positions, with the recorded watermark); tables that
// already hold it drop it by their txn. So every table holds each input record exactly once.
//
// Pipelining: closing an epoch on the processing thread only fixes its end positions and watermark
// and serializes the join state; the offsets WAL, the lake commits and the state checkpoint run, in
// that order, on the EpochCommitter's thread (epoch_committer.h) while the next epoch is read and
// processed. The files under _checkpoints/ are the CheckpointStore's (checkpoint_store.h). At most
// one closed epoch is in flight: closing the next one (and any rebalance) first waits for it, so
// epoch E+1's WAL is never written before E's state checkpoint, which keeps the restart rule above
// exact.
//
// Ownership: borrows the store, database and clock (they must outlive it) and the attached source;
// owns its committer (and through it the eight Delta tables).
// Thread-safety: one caller thread; the source's callbacks run inside Step()/Finish() on that
// thread, and so do the observer's. The committer thread touches only the tables and the store,
// never while the caller thread does.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/latency_histogram.h"
#include "engine/engine.h"
#include "lake/delta_table.h"
#include "lake/object_store.h"
#include "pipeline/checkpoint_store.h"
#include "pipeline/epoch_committer.h"
#include "pipeline/maintainer.h"
#include "stream/core.h"
#include "stream/output_table.h"
#include "transport/event_source.h"

namespace smartcity::pipeline {

using stream::InputRecord;
using stream::OutputMarks;
using stream::OutputOf;
using stream::StreamCore;
using stream::StreamCoreOptions;
using stream::StreamOutput;

// Sees output rows the moment they are produced (before the lake commit) and every commit: the live
// view (src/web) hangs here. Called on the processor's thread; an observer must be quick and copy
// what it keeps (the batches are reused). After a restart an epoch being replayed produces its rows
// again, so an observer must treat rows as idempotent updates (latest position per vehicle, ...).
class ProcessorObserver {
 public:
  virtual ~ProcessorObserver() = default;
  // Rows [first[t], OutputOf(out, t).num_rows()) of each output table are new, from partition group
  // `group`.
  virtual void OnRows(int32_t group, const StreamOutput& out, const OutputMarks& first) {}
  virtual void OnCommit(const EpochCommit& commit) {}
};

struct ProcessorOptions {
  // Names the checkpoint folder (_checkpoints/<query>/) and the Delta txn app ids (<query>-p<p>).
  std::string query = "smartcity";
  Micros trigger = std::chrono::seconds(10);
  // Epochs close when the wall clock crosses a multiple of the trigger (not a trigger after the
  // last one closed): the members of a group then close theirs at the same moments, and group
  // commit (lake::TableOptions::group_commit) lands them in one version of each table.
  bool align_trigger = false;
  // A group that has had nothing to commit at its triggers for this long (no record read, no row,
  // a watermark that would not move) stops committing empty epochs until it has something again:
  // an idle stream would otherwise add a Delta version per table per trigger (about 69,000 a day
  // at the 10 s trigger) and a state checkpoint per group. Pauses shorter than this keep a commit
  // per trigger, as before, for whatever watches the commit log.
  Micros quiet_commit_after = std::chrono::minutes(1);
  size_t max_poll_records = 20'000;
  std::chrono::milliseconds poll_timeout{100};
  StreamCoreOptions core;
  // The lake tables' options (the "date" partition is added at Open). Data files are written
  // without Parquet dictionaries: they cost ~20% of the lake writes here, for ~4% smaller files
  // (docs/lake_format.md); `compact` rewrites small files with DuckDB's defaults.
  lake::TableOptions table = [] {
    lake::TableOptions t;
    t.parquet.dictionary = false;
    return t;
  }();
  // How long a transient lake or checkpoint failure that no layer below has retried (a Delta commit
  // that lost the version race too often) is retried, with backoff (100 ms doubling to 10 s),
  // before the processor gives up. A failure the object store has already retried for its own
  // budget (S3) is not retried again (docs/retries.md).
  std::chrono::milliseconds retry_budget{180'000};
  // With retry_budget 0: this many retries, however long they take (0: none).
  int max_retries = 8;
  // An epoch closes before its trigger once the rows it holds in memory reach this many bytes: a
  // backlog drain then commits in steady steps and memory stays bounded (about twice this, as one
  // epoch is written while the next one fills).
  uint64_t max_epoch_bytes = 64ull << 20;
  // ... or once the input records it read reach this many bytes (keys and values; 0: no bound). For
  // a source that keeps records until a checkpoint covers them (`run`'s in-process log, see
  // CommittedPositions): it then holds about twice this beyond the checkpoints.
  uint64_t max_epoch_input_bytes = 0;
  // Bound on the join state (EventTimeJoin::StateBytes over all groups; 0: no bound). A source
  // reads its partitions in whatever order its fetches bring them: draining a backlog from Kafka,
  // one topic may be read hours of event time ahead of another, and the join then holds the
  // leading input's rows until the other catches up (the whole backlog of a topic, at worst). Over
  // this bound the processor pauses the join inputs of a group that are more than the watermark
  // delay plus the join window ahead of its slowest input still behind its end, until that one has
  // caught up or the state is back under half the bound (event-time alignment). It never pauses
  // the slowest input, so reading always goes on.
  uint64_t max_join_state_bytes = 0;
  // Commit closed epochs on a committer thread while the next one is processed (false: on the
  // caller's thread, before Step() returns; deterministic, for tests that look at the lake between
  // steps).
  bool background_commit = true;
  // Compaction, log clean-up and vacuum of the output tables while streaming (maintainer.h); off
  // unless enabled. The processor tells the maintainer its low watermark after every commit (and,
  // with maintenance.background off, runs the passes itself then) and runs a last pass (at
  // the final watermark) in Finish().
  MaintenanceOptions maintenance;
};

struct ProcessorCounters {
  // Records read from the topics (forwarded copies from repartition topics are counted below).
  uint64_t records = 0;
  uint64_t epochs_committed = 0;  // group epochs
  uint64_t table_commits = 0;     // Delta commits written
  // Delta commits that lost the race for a log version to another writer and were retried at the
  // next one (each lost race counts once): what many members writing one table cost.
  uint64_t commit_conflicts = 0;
  // Group commit: table commits of this member's epochs that another member's commit made, and
  // other members' staged epochs that this member's commits took.
  uint64_t commits_by_others = 0;
  uint64_t staged_taken = 0;
  uint64_t epochs_replayed = 0;                    // epochs re-run after a restart
  std::array<uint64_t, kOutputTableCount> rows{};  // rows committed per table
  uint64_t retries = 0;
  Micros last_commit_latency{0};
  WallTime last_commit_time{};
  // Source timestamp (Kafka CreateTime: when the producer produced it) -> visible: in the live
  // state (after the micro-batch that processed it), and committed in the lake. Only records whose
  // source has timestamps (Kafka) are counted.
  LatencyHistogram live_latency;
  // Where the processor's time goes (steady clock): waiting in Poll, processing records, closing
  // epochs on the caller's thread (offsets log, state serialization, waiting for the previous
  // commit), and writing the lake on the committer thread.
  Micros poll_time{0};
  Micros process_time{0};
  Micros commit_time{0};
  Micros commit_wait_time{0};  // part of commit_time: waiting for the previous epoch's commit
  Micros lake_write_time{0};
  // Records quarantined for an implausible event time (stream/event_time_guard.h; in
  // `_dead_letters`), as this process decided them (an epoch replayed after a restart counts again,
  // like `records`).
  uint64_t quarantined = 0;
  // Join inputs paused for running ahead of the others in event time (max_join_state_bytes).
  uint64_t input_holds = 0;
  // The largest join state seen (EventTimeJoin::StateBytes over all groups, after each poll).
  uint64_t join_state_peak_bytes = 0;
  // Keys that are not the device id (SetRouting; docs/kafka_source.md): valid join-input records
  // read outside their device's partition group, those of them forwarded to the device's group,
  // forwarded records joined here, and forwarded records dropped as already joined (sent again by a
  // forwarder that restarted). Like `records`, an epoch replayed after a restart counts again.
  uint64_t misplaced = 0;
  uint64_t forwarded = 0;
  uint64_t repartition_received = 0;
  uint64_t repartition_duplicates = 0;
  LatencyHistogram lake_latency;
  // Time to commit one closed epoch of this member's groups (offsets logs, the eight tables' Delta
  // commits, state checkpoints), one sample per epoch commit.
  LatencyHistogram commit_latency;
};

class Processor final : public PositionStore, public RebalanceListener {
 public:
  static Result<std::unique_ptr<Processor>> Open(ProcessorOptions options, lake::ObjectStore* store,
                                                 engine::Database* db, Clock* clock);
  ~Processor() override;

  // The source to read; it must have been created with this processor as its PositionStore and
  // RebalanceListener.
  void Attach(EventSource* source) { source_ = source; }
  // Borrowed; may be null. Set before the first Step().
  void SetObserver(ProcessorObserver* observer) { observer_ = observer; }
  // Keys that are not the device id (stream::RoutingOptions): every group checks that its join
  // inputs' records belong to it (murmur2(deviceId) mod `partitions`); with a `forwarder`
  // (borrowed, may be null: count only) it forwards those that do not, flushing it before each
  // checkpoint, and joins the records the source returns from repartition topics. Call before the
  // first Step(); `partitions` 0 turns it off.
  void SetRouting(int32_t partitions, RecordForwarder* forwarder) {
    options_.core.routing.partitions = partitions;
    options_.core.routing.forward = forwarder != nullptr && partitions > 0;
    forwarder_ = forwarder;
  }

  // Polls one batch and processes it; closes the epochs whose trigger is due. A returned error
  // stops the processor (restarting it from its checkpoints is always safe).
  Status Step();
  // Closes the current epoch of every owned group now and returns once it is committed, and stops
  // the lake maintenance: nothing is committed to the lake after it returns (the end of a run
  // whose input is not complete: SIGINT, --duration of `stream`).
  //
  // Neither commits an empty epoch: a group that has read nothing since its committed checkpoint
  // and has no row to write (a run started again after it had finished, or stopped again before
  // reading anything) adds no Delta version; both then leave the lake as it was.
  Status CommitNow();
  // End of a bounded input: emits every pending join row and commits.
  Status Finish();
  // Returns once every record forwarded so far is stored (SetRouting's forwarder; each checkpoint
  // does it too): `stream --stop-at-end` then reads the repartition topics' ends.
  Status FlushForwarded();

  const ProcessorCounters& counters() const { return counters_; }
  // The maintainer's counters (all zero when maintenance is off).
  MaintenanceCounters maintenance_counters() const {
    return maintainer_ ? maintainer_->counters() : MaintenanceCounters{};
  }
  // Groups owned now, and per group its committed epoch and watermark (for progress and live
  // state).
  struct GroupStatus {
    int32_t group;
    int64_t committed_epoch;
    EventTime watermark;
    bool replaying;
    // The watermark the group's next epoch would take if it started now (StreamCore::
    // PeekWatermark; the one in force while replaying): it moves between commits.
    EventTime live_watermark = EventTime::min();
  };
  std::vector<GroupStatus> Groups() const;
  // Per partition owned, the position its group's newest committed state checkpoint resumes from
  // (nullopt: from the beginning). A restart never reads before these, so a source that keeps its
  // records in memory may drop what precedes them (MemoryLog::Trim).
  std::vector<PartitionPosition> CommittedPositions() const;

  // PositionStore
  Status LoadPositions(std::span<const TopicPartition> partitions,
                       std::span<std::optional<Position>> out) override;
  // RebalanceListener
  void OnPartitionsRevoked(std::span<const TopicPartition> partitions, bool lost) override;
  void OnPartitionsAssigned(std::span<const PartitionPosition> positions) override {}

 private:
  struct Group;
  Processor(ProcessorOptions options, lake::ObjectStore* store, engine::Database* db, Clock* clock);
  Result<std::unique_ptr<Group>> LoadGroup(int32_t p);
  void StartEpoch(Group& g);
  // Closes the epochs of every group not replaying, but those with nothing to commit when
  // `skip_empty`, and those quiet for options_.quiet_commit_after at any time.
  Status CloseOpenEpochs(bool wait, bool skip_empty = false);
  // Whether the group has read nothing since its committed checkpoint and holds no row to write.
  bool NothingToCommit(const Group& g) const;
  // Closes the groups' epochs: fixes their end positions and watermark, serializes their state and
  // hands the job to the committer; with `wait`, returns once committed.
  Status CloseEpochs(const std::vector<Group*>& groups, bool final, bool wait);
  // Waits for the epoch in flight, if any, and applies its outcome (counters, observer).
  Status WaitForCommit();
  // The same, but only if it has finished.
  Status ReapCommit();
  Status ApplyCommit(std::unique_ptr<EpochJob> job);
  Status ReplayProgress(Group& g);
  // Pauses and resumes join inputs to keep the join state within max_join_state_bytes.
  Status AlignInputs();

  ProcessorOptions options_;
  Clock* clock_;
  RetryPolicy retry_;  // the lake's and the checkpoints' writes (borrowed by both)
  CheckpointStore checkpoints_;
  std::unique_ptr<EpochCommitter> committer_;  // owns the tables; joins its thread first
  std::unique_ptr<Maintainer> maintainer_;     // null unless maintenance is enabled; stops first
  EventSource* source_ = nullptr;
  ProcessorObserver* observer_ = nullptr;
  RecordForwarder* forwarder_ = nullptr;
  bool unflushed_ = false;  // records forwarded since the forwarder's last Flush
  std::map<int32_t, std::unique_ptr<Group>> groups_;
  ProcessingTime epoch_started_{};
  WallTime epoch_started_wall_{};    // for options_.align_trigger
  bool closing_at_trigger_ = false;  // the epochs being closed are due, not full
  uint64_t epoch_input_bytes_ = 0;   // keys and values read by the open epochs (not replaying)
  std::map<int32_t, std::vector<InputRecord>> per_group_;  // reused per Step
  std::vector<StreamOutput> spare_outputs_;  // committed epochs' buffers (cleared), for reuse
  Status sticky_;                            // an error raised inside a source callback
  ProcessorCounters counters_;
};

// Sets an observer for the scope's life: the observer (the live view) is usually declared after the
// processor and its source and dies first, so it is detached whatever the way out.
class ScopedObserver {
 public:
  ScopedObserver(Processor* processor, ProcessorObserver* observer) : processor_(processor) {
    processor_->SetObserver(observer);
  }
  ~ScopedObserver() { processor_->SetObserver(nullptr); }
  ScopedObserver(const ScopedObserver&) = delete;
  ScopedObserver& operator=(const ScopedObserver&) = delete;

 private:
  Processor* processor_;
};

// The watermark of a processor as a whole, as progress lines show it: the lowest of its groups'.
// Each group's join output before its own watermark is final, so before the lowest one every
// group's is (the highest would claim more than holds). nullopt while no group is owned or one has
// no watermark yet.
std::optional<EventTime> LowWatermark(std::span<const Processor::GroupStatus> groups);

// The retry policy the options give the lake and checkpoint writes.
RetryOptions RetryOptionsOf(const ProcessorOptions& o);

}  // namespace smartcity::pipeline
