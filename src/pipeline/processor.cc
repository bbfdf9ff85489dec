#include "pipeline/processor.h"

#include <algorithm>
#include <unordered_map>

namespace smartcity::pipeline {

using stream::MarksOf;

struct Processor::Group {
  int32_t p = 0;
  std::unique_ptr<StreamCore> core;
  StreamOutput out;
  int64_t committed_epoch = 0;  // newest epoch in the state checkpoint; 0 = none
  EventTime epoch_wm{};
  Positions pos;            // next position per topic (after the last processed record)
  Positions committed_pos;  // the positions of the newest committed state checkpoint
  Positions closing_pos;    // those of the epoch in flight
  bool replaying = false;   // re-running committed_epoch + 1 exactly
  Positions replay_end;
  EventTime replay_wm{};
  bool replay_final = false;
  // Since when the group has had nothing to commit at its triggers (CloseOpenEpochs).
  std::optional<ProcessingTime> quiet_since;
  std::array<bool, kPositionSlots> paused{};
  // Join inputs paused for running ahead in event time (AlignInputs), by topic.
  std::array<bool, kTopicCount> held{};
  // Source timestamps of the records in the current epoch, in 1 ms buckets (for lake latency):
  // records arrive roughly in time order, so consecutive ones mostly share the cached bucket.
  std::unordered_map<int64_t, uint64_t> source_ms;
  int64_t cached_ms = INT64_MIN;
  uint64_t cached_count = 0;

  void NoteSourceTime(WallTime t) {
    const int64_t ms = t.time_since_epoch().count() / 1000;
    if (ms != cached_ms) {
      if (cached_count > 0) source_ms[cached_ms] += cached_count;
      cached_ms = ms;
      cached_count = 0;
    }
    ++cached_count;
  }
  // The epoch's source times (ms bucket -> records); forgets them.
  std::unordered_map<int64_t, uint64_t> TakeSourceTimes() {
    if (cached_count > 0) source_ms[cached_ms] += cached_count;
    cached_ms = INT64_MIN;
    cached_count = 0;
    std::unordered_map<int64_t, uint64_t> taken;
    taken.swap(source_ms);
    return taken;
  }
};

Processor::Processor(ProcessorOptions options, lake::ObjectStore* store, engine::Database* db,
                     Clock* clock)
    : options_(std::move(options)),
      clock_(Clock::OrReal(clock)),
      retry_(RetryOptionsOf(options_), clock_),
      checkpoints_(store, options_.query, &retry_) {}

Processor::~Processor() = default;

namespace {

// Group commit's wait for the other members' staged epochs: a fifth of the trigger, at most half
// a second (what it adds to the lake latency when other members write the tables).
Micros GroupCommitWait(Micros trigger) {
  return std::min<Micros>(trigger / 5, std::chrono::milliseconds(500));
}

}  // namespace

Result<std::unique_ptr<Processor>> Processor::Open(ProcessorOptions options,
                                                   lake::ObjectStore* store, engine::Database* db,
                                                   Clock* clock) {
  if (options.query.empty() || options.query.find('/') != std::string::npos) {
    return Status::InvalidArgument("the query name must be non-empty and contain no '/'");
  }
  std::unique_ptr<Processor> p(new Processor(std::move(options), store, db, clock));
  SC_ASSIGN_OR_RETURN(p->committer_, EpochCommitter::Open(&p->checkpoints_, store, db,
                                                          p->options_.table, &p->retry_, p->clock_,
                                                          GroupCommitWait(p->options_.trigger)));
  if (p->options_.maintenance.enabled) {
    MaintenanceOptions mo = p->options_.maintenance;
    if (mo.scratch_dir.empty()) mo.scratch_dir = p->options_.table.scratch_dir;
    std::vector<std::string> tables;
    for (size_t i = 0; i < kOutputTableCount; ++i)
      tables.emplace_back(stream::OutputTableName(static_cast<OutputTable>(i)));
    SC_ASSIGN_OR_RETURN(p->maintainer_,
                        Maintainer::Open(store, db, std::move(tables), std::move(mo), p->clock_));
    if (p->options_.maintenance.background) p->maintainer_->Start();
  }
  p->epoch_started_ = p->clock_->Now();
  p->epoch_started_wall_ = p->clock_->WallNow();
  return p;
}

Result<std::unique_ptr<Processor::Group>> Processor::LoadGroup(int32_t p) {
  auto g = std::make_unique<Group>();
  g->p = p;
  g->core = std::make_unique<StreamCore>(options_.core, clock_);
  g->core->SetPartition(p);
  // Until the source says otherwise (Step, after each poll), every input may have unread records:
  // the first epoch's watermark must not move past records that simply have not been fetched yet.
  for (Topic t : kAllTopics) g->core->SetBacklog(t, true);
  std::string blob;
  SC_ASSIGN_OR_RETURN(auto state, checkpoints_.LoadNewestState(p, &blob, &counters_.retries));
  if (state) {
    g->committed_epoch = state->epoch;
    g->pos = state->positions;
    g->committed_pos = state->positions;
    Status restored = g->core->RestoreState(state->state);
    if (!restored.ok()) {
      const std::string key = checkpoints_.Key(p, "state", state->epoch);
      if (restored.kind() != ErrorKind::kCorruption)
        return restored.WithContext("checkpoint " + key);
      return Status::Corruption("the join state in the checkpoint " + key + " is damaged (" +
                                restored.message() + "). Delete that file: partition group " +
                                std::to_string(p) +
                                " then restarts from the checkpoint before it and re-runs the next "
                                "epoch from its offsets log, exactly once (docs/processor.md, "
                                "\"Restart\")");
    }
  }
  // A WAL for the next epoch means it was closed (maybe partly committed) before the crash: re-run
  // it.
  SC_ASSIGN_OR_RETURN(auto wal, checkpoints_.LoadOffsetsLog(p, g->committed_epoch + 1));
  if (wal) {
    g->replay_end = wal->end;
    g->replay_wm = wal->watermark;
    g->replay_final = wal->final;
    g->replaying = true;
    ++counters_.epochs_replayed;
  }
  return g;
}

void Processor::StartEpoch(Group& g) {
  g.out.Clear();
  g.epoch_wm = g.replaying ? g.replay_wm : g.core->ComputeWatermark();
  g.core->AdvanceWatermarkTo(g.epoch_wm, &g.out);
  if (observer_) observer_->OnRows(g.p, g.out, OutputMarks{});
}

Status Processor::LoadPositions(std::span<const TopicPartition> partitions,
                                std::span<std::optional<Position>> out) {
  // A group's newest checkpoint may be the epoch in flight.
  if (Status w = WaitForCommit(); !w.ok()) {
    sticky_ = w;
    return w;
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    const int32_t p = partitions[i].partition.value();
    auto it = groups_.find(p);
    if (it == groups_.end()) {
      auto g = LoadGroup(p);
      if (!g.ok()) {
        sticky_ = g.status();
        return g.status();
      }
      StartEpoch(**g);
      it = groups_.emplace(p, std::move(*g)).first;
    }
    out[i] = it->second->pos[PositionSlot(partitions[i])];
  }
  return Status::OK();
}

void Processor::OnPartitionsRevoked(std::span<const TopicPartition> partitions, bool lost) {
  std::vector<int32_t> gone;
  for (const TopicPartition& tp : partitions) {
    if (std::find(gone.begin(), gone.end(), tp.partition.value()) == gone.end())
      gone.push_back(tp.partition.value());
  }
  std::vector<Group*> closing;
  for (int32_t p : gone) {
    auto it = groups_.find(p);
    if (it != groups_.end() && !lost && !it->second->replaying) closing.push_back(it->second.get());
  }
  // Commit what was consumed so the next owner starts right after it. A group in the middle of an
  // exact replay is dropped instead: its next owner re-runs the epoch from the WAL. Either way the
  // epoch in flight lands first: the next owner starts from its checkpoint.
  if (sticky_.ok()) {
    Status s = closing.empty() ? WaitForCommit() : CloseEpochs(closing, false, /*wait=*/true);
    if (!s.ok()) sticky_ = s;
  }
  for (int32_t p : gone) groups_.erase(p);
}

std::vector<Processor::GroupStatus> Processor::Groups() const {
  std::vector<GroupStatus> v;
  for (const auto& [p, g] : groups_)
    v.push_back({p, g->committed_epoch, g->core->watermark(), g->replaying,
                 g->replaying ? g->core->watermark() : g->core->PeekWatermark()});
  return v;
}

RetryOptions RetryOptionsOf(const ProcessorOptions& o) {
  RetryOptions r;
  r.initial_backoff = std::chrono::milliseconds(100);
  r.max_backoff = std::chrono::seconds(10);
  if (o.retry_budget.count() > 0) {
    r.deadline = o.retry_budget;
  } else {
    r.max_attempts = std::max(o.max_retries, 0) + 1;
  }
  return r;
}

std::vector<PartitionPosition> Processor::CommittedPositions() const {
  std::vector<PartitionPosition> v;
  for (const auto& [p, g] : groups_) {
    for (Topic t : kAllTopics)
      v.push_back({TopicPartition{t, PartitionId(p)}, g->committed_pos[static_cast<size_t>(t)]});
  }
  return v;
}

std::optional<EventTime> LowWatermark(std::span<const Processor::GroupStatus> groups) {
  if (groups.empty()) return std::nullopt;
  EventTime wm = EventTime::max();
  for (const auto& g : groups) wm = std::min(wm, g.watermark);
  if (wm == EventTime::min()) return std::nullopt;
  return wm;
}

Status Processor::ReplayProgress(Group& g) {
  // A replaying group's epoch is complete when each partition stands exactly at its recorded end.
  for (size_t t = 0; t < kPositionSlots; ++t) {
    const auto& end = g.replay_end[t];
    if (end && (!g.pos[t] || *g.pos[t] < *end)) return Status::OK();
  }
  if (g.replay_final) {
    const OutputMarks before = observer_ ? MarksOf(g.out) : OutputMarks{};
    const uint64_t quarantined = g.core->guard().counters().quarantined();
    g.core->Flush(&g.out);
    counters_.quarantined += g.core->guard().counters().quarantined() - quarantined;
    if (observer_) observer_->OnRows(g.p, g.out, before);
  }
  SC_RETURN_IF_ERROR(CloseEpochs({&g}, g.replay_final, /*wait=*/g.replay_final));
  std::vector<TopicPartition> resume;
  for (size_t t = 0; t < kPositionSlots; ++t) {
    if (g.paused[t]) resume.push_back(SlotPartition(t, g.p));
    g.paused[t] = false;
  }
  if (!resume.empty()) SC_RETURN_IF_ERROR(source_->Resume(resume));
  return Status::OK();
}

Status Processor::Step() {
  if (!sticky_.ok()) return sticky_;
  SC_RETURN_IF_ERROR(ReapCommit());
  const ProcessingTime poll_start = clock_->Now();
  auto polled = source_->Poll(options_.max_poll_records, options_.poll_timeout);
  const ProcessingTime poll_end = clock_->Now();
  counters_.poll_time += std::chrono::duration_cast<Micros>(poll_end - poll_start);
  if (!sticky_.ok()) return sticky_;
  if (!polled.ok()) return polled.status();
  const std::span<const SourceRecord> records = *polled;
  const WallTime received = clock_->WallNow();
  bool timed = false;  // the source has timestamps
  if (!records.empty()) {
    // Records of different partition groups come interleaved; each group's core gets its own, in
    // order.
    for (auto& [p, g] : groups_) per_group_[p].clear();
    for (const SourceRecord& r : records) {
      const int32_t p = r.partition.value();
      auto it = groups_.find(p);
      if (it == groups_.end())
        return Status::Internal("record from partition " + std::to_string(p) + " not owned");
      Group& g = *it->second;
      const size_t t = PositionSlot(TopicPartition{r.topic, r.partition, r.repartition});
      if (g.paused[t]) continue;
      if (g.replaying && (!g.replay_end[t] || r.position >= *g.replay_end[t])) {
        // Past the replayed epoch's end: rewind and hold the partition until the epoch is closed.
        // Back to this very record: the first one not processed (when the epoch read nothing of the
        // partition there is no recorded position, and this is the earliest record it has).
        const PartitionPosition back{TopicPartition{r.topic, r.partition, r.repartition},
                                     Position(r.position.value())};
        SC_RETURN_IF_ERROR(source_->Seek(std::span(&back, 1)));
        SC_RETURN_IF_ERROR(source_->Pause(std::span(&back.tp, 1)));
        g.paused[t] = true;
        continue;
      }
      if (r.repartition) {
        per_group_[p].push_back(InputRecord{
            r.topic, stream::SourcePosition{r.origin_partition, r.origin_position.value()}, r.value,
            /*repartition=*/true});
      } else {
        per_group_[p].push_back(
            InputRecord{r.topic, stream::SourcePosition{r.partition, r.position.value()}, r.value});
      }
      g.pos[t] = Position(r.position.value() + 1);
      if (!g.replaying) epoch_input_bytes_ += r.key.size() + r.value.size();
      if (r.source_time) {
        g.NoteSourceTime(*r.source_time);
        timed = true;
      }
    }
    for (auto& [p, g] : groups_) {
      std::vector<InputRecord>& in = per_group_[p];
      if (in.empty()) continue;
      const OutputMarks before = observer_ ? MarksOf(g->out) : OutputMarks{};
      const uint64_t quarantined = g->core->guard().counters().quarantined();
      const stream::RoutingCounters routed = g->core->routing_counters();
      g->core->Process(in, received, &g->out);
      counters_.quarantined += g->core->guard().counters().quarantined() - quarantined;
      const stream::RoutingCounters& now = g->core->routing_counters();
      // Records read from the topics; forwarded copies are counted apart (below).
      counters_.records +=
          in.size() - (now.received - routed.received) - (now.duplicates - routed.duplicates);
      counters_.misplaced += now.misplaced - routed.misplaced;
      counters_.repartition_received += now.received - routed.received;
      counters_.repartition_duplicates += now.duplicates - routed.duplicates;
      if (forwarder_ != nullptr) {
        for (const stream::ForwardRecord& f : g->core->forwards()) {
          SC_RETURN_IF_ERROR(forwarder_->Forward(f.topic, f.to, f.device_id, f.payload,
                                                 f.position.partition,
                                                 Position(f.position.offset)));
        }
        counters_.forwarded += g->core->forwards().size();
        unflushed_ = unflushed_ || !g->core->forwards().empty();
      }
      if (observer_) observer_->OnRows(p, g->out, before);
    }
    if (timed) {
      // Visible in the live state now: one latency per timed record of this batch.
      const int64_t visible = clock_->WallNow().time_since_epoch().count();
      for (const SourceRecord& r : records) {
        if (r.source_time)
          counters_.live_latency.Record(
              Micros(visible - r.source_time->time_since_epoch().count()));
      }
    }
  }
  // Which join inputs still have unread records: they hold the watermark back (watermark.h). A
  // join input read from its topic and its repartition topic is behind when either is.
  const std::vector<PartitionLag> lags = source_->Lag();
  for (const PartitionLag& l : lags) {
    if (l.tp.repartition) continue;
    auto it = groups_.find(l.tp.partition.value());
    if (it != groups_.end())
      it->second->core->SetBacklog(l.tp.topic, l.records_behind.value_or(1) > 0);
  }
  for (const PartitionLag& l : lags) {
    if (!l.tp.repartition || l.records_behind.value_or(1) == 0) continue;
    auto it = groups_.find(l.tp.partition.value());
    if (it != groups_.end()) it->second->core->SetBacklog(l.tp.topic, true);
  }
  for (auto& [p, g] : groups_) {
    if (g->replaying) SC_RETURN_IF_ERROR(ReplayProgress(*g));
  }
  SC_RETURN_IF_ERROR(AlignInputs());
  counters_.process_time += std::chrono::duration_cast<Micros>(clock_->Now() - poll_end);
  // Close when the trigger is due, or sooner when the epoch's rows fill their memory budget. A due
  // trigger waits (processing on) while the previous epoch is still being written; a full budget
  // waits for it: that is the backpressure that bounds memory.
  size_t bytes = 0;
  for (const auto& [p, g] : groups_) {
    if (g->replaying) continue;  // a replayed epoch closes at its recorded end, not by size
    for (size_t i = 0; i < kOutputTableCount; ++i)
      bytes += OutputOf(g->out, static_cast<OutputTable>(i)).ByteSize();
  }
  const bool full =
      bytes >= options_.max_epoch_bytes ||
      (options_.max_epoch_input_bytes > 0 && epoch_input_bytes_ >= options_.max_epoch_input_bytes);
  bool due = clock_->Now() - epoch_started_ >= options_.trigger;
  if (options_.align_trigger && options_.trigger.count() > 0) {
    // Due once the wall clock has crossed a multiple of the trigger since the epoch began.
    const int64_t t = options_.trigger.count();
    due = clock_->WallNow().time_since_epoch().count() / t !=
          epoch_started_wall_.time_since_epoch().count() / t;
  }
  const bool busy = committer_->busy();
  if (full || (due && !busy)) {
    closing_at_trigger_ = !full;
    Status closed = CloseOpenEpochs(/*wait=*/false);
    closing_at_trigger_ = false;
    SC_RETURN_IF_ERROR(closed);
  }
  return sticky_;
}

Status Processor::AlignInputs() {
  using stream::JoinInput;
  static constexpr std::array<std::pair<JoinInput, Topic>, stream::kJoinInputCount> kInputs{{
      {JoinInput::kVehicle, Topic::kVehicle},
      {JoinInput::kWeather, Topic::kWeather},
      {JoinInput::kEmergency, Topic::kEmergency},
  }};
  size_t bytes = 0;
  for (const auto& [p, g] : groups_) bytes += g->core->join().StateBytes();
  counters_.join_state_peak_bytes = std::max<uint64_t>(counters_.join_state_peak_bytes, bytes);
  if (options_.max_join_state_bytes == 0) return Status::OK();
  const bool over = bytes > options_.max_join_state_bytes;
  const bool under = bytes <= options_.max_join_state_bytes / 2;
  // An input further ahead than this is not needed for the rows the slowest one still brings.
  const Micros slack = options_.core.join.watermark.delay + options_.core.join.window;
  std::vector<TopicPartition> pause, resume;
  for (auto& [p, g] : groups_) {
    if (g->replaying) continue;
    const stream::WatermarkTracker& wt = g->core->join().tracker();
    // The slowest input still behind its end (one that saw nothing yet stands at the beginning).
    std::optional<EventTime> slowest;
    for (const auto& [in, topic] : kInputs) {
      if (wt.backlog(in) && (!slowest || wt.InputWatermark(in) < *slowest))
        slowest = wt.InputWatermark(in);
    }
    for (const auto& [in, topic] : kInputs) {
      const size_t t = static_cast<size_t>(topic);
      const bool ahead = slowest && wt.has_data(in) && wt.InputWatermark(in) > *slowest + slack;
      const TopicPartition tp{topic, PartitionId(g->p)};
      if (!g->held[t] && over && ahead) {
        g->held[t] = true;
        pause.push_back(tp);
      } else if (g->held[t] && (under || !ahead)) {
        g->held[t] = false;
        resume.push_back(tp);
      }
    }
  }
  if (!pause.empty()) {
    counters_.input_holds += pause.size();
    SC_RETURN_IF_ERROR(source_->Pause(pause));
  }
  if (!resume.empty()) SC_RETURN_IF_ERROR(source_->Resume(resume));
  return Status::OK();
}

namespace {

bool HasRows(const StreamOutput& out) {
  for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
    if (stream::OutputOf(out, static_cast<stream::OutputTable>(i)).num_rows() > 0) return true;
  }
  return false;
}

}  // namespace

bool Processor::NothingToCommit(const Group& g) const {
  return !g.replaying && g.committed_epoch > 0 && g.pos == g.committed_pos && !HasRows(g.out);
}

Status Processor::CloseOpenEpochs(bool wait, bool skip_empty) {
  const ProcessingTime now = clock_->Now();
  std::vector<Group*> closing;
  for (auto& [p, g] : groups_) {
    if (g->replaying) continue;
    const bool nothing = NothingToCommit(*g);
    if (skip_empty && nothing) continue;
    if (nothing && g->core->PeekWatermark() == g->epoch_wm) {
      if (!g->quiet_since) g->quiet_since = now;
      if (now - *g->quiet_since >= options_.quiet_commit_after) continue;
    } else {
      g->quiet_since.reset();
    }
    closing.push_back(g.get());
  }
  epoch_started_ = now;
  epoch_started_wall_ = clock_->WallNow();
  epoch_input_bytes_ = 0;
  if (closing.empty()) return wait ? WaitForCommit() : Status::OK();
  return CloseEpochs(closing, false, wait);
}

Status Processor::CommitNow() {
  if (!sticky_.ok()) return sticky_;
  Status s = CloseOpenEpochs(/*wait=*/true, /*skip_empty=*/true);
  // The last commit of this run: a maintenance pass in progress ends (a compaction commit lands
  // whole or not at all) and no other starts, so a reader that follows (the warehouse's final
  // pass) sees the lake's last version.
  if (maintainer_) maintainer_->Stop();
  return s;
}

Status Processor::Finish() {
  if (!sticky_.ok()) return sticky_;
  for (auto& [p, g] : groups_) {
    if (g->replaying)
      return Status::Internal("input ended in the middle of replaying an epoch of group " +
                              std::to_string(p) +
                              ": records recorded in its offsets log are missing");
  }
  std::vector<Group*> closing;
  for (auto& [p, g] : groups_) {
    const OutputMarks before = observer_ ? MarksOf(g->out) : OutputMarks{};
    const uint64_t quarantined = g->core->guard().counters().quarantined();
    g->core->Flush(&g->out);
    counters_.quarantined += g->core->guard().counters().quarantined() - quarantined;
    if (observer_) observer_->OnRows(p, g->out, before);
    if (!NothingToCommit(*g)) closing.push_back(g.get());
  }
  SC_RETURN_IF_ERROR(closing.empty() ? WaitForCommit() : CloseEpochs(closing, true, /*wait=*/true));
  if (maintainer_) {
    // One last pass. The input is complete and every group has flushed its join, so the dates
    // before the newest group's watermark are closed for this input, even where a group whose
    // other inputs fell silent holds the lowest watermark back (a later run that adds to such a
    // date only makes its partition a candidate again). The newest date is not treated as closed:
    // a bounded run can be resumed on the same lake, and rewriting every open partition at each
    // stop would rewrite the lake's newest data each time. A failed pass is reported through the
    // maintenance options' on_error; the lake is consistent either way.
    maintainer_->Stop();
    std::optional<EventTime> newest;
    for (const GroupStatus& g : Groups()) {
      if (g.watermark != EventTime::min())
        newest = std::max(newest.value_or(g.watermark), g.watermark);
    }
    maintainer_->SetLowWatermark(newest);
    (void)maintainer_->RunPass();
  }
  return Status::OK();
}

Status Processor::FlushForwarded() {
  if (!unflushed_) return Status::OK();
  SC_RETURN_IF_ERROR(forwarder_->Flush());
  unflushed_ = false;
  return Status::OK();
}

Status Processor::CloseEpochs(const std::vector<Group*>& groups, bool final, bool wait) {
  const ProcessingTime start = clock_->Now();
  struct AddTime {
    Clock* clock;
    Micros* to;
    ProcessingTime from;
    ~AddTime() { *to += std::chrono::duration_cast<Micros>(clock->Now() - from); }
  } add_time{clock_, &counters_.commit_time, start};
  {
    // Epoch E+1's WAL must not exist before E's checkpoint (see the header).
    AddTime waited{clock_, &counters_.commit_wait_time, start};
    SC_RETURN_IF_ERROR(WaitForCommit());
  }
  if (unflushed_) {
    // The records forwarded so far must be stored before a checkpoint moves the positions past
    // them; after a crash before this point they are forwarded again (and dropped as duplicates
    // where they had arrived).
    SC_RETURN_IF_ERROR(forwarder_->Flush());
    unflushed_ = false;
  }
  // The job: each group's offsets log, rows, state after the epoch and its records' source times.
  // The groups start their next epoch at once, on fresh buffers.
  auto job = std::make_unique<EpochJob>();
  // Aligned triggers close the members' epochs together: worth waiting for the others' (group
  // commit). An epoch closed by its size (a backlog) closes whenever it fills.
  job->wait_for_peers = closing_at_trigger_ && options_.align_trigger;
  job->commit.final = final;
  for (Group* g : groups) {
    EpochJob::Part part;
    part.p = g->p;
    part.epoch = g->committed_epoch + 1;
    if (!g->replaying) {  // a replayed epoch's offsets log is the one being replayed
      part.offsets_log = EncodeOffsetsLog(OffsetsLog{part.epoch, g->p, g->pos, g->epoch_wm, final});
    }
    AppendStateCheckpointHeader(StateCheckpoint{part.epoch, g->p, g->pos, g->epoch_wm, {}},
                                &part.checkpoint);
    SC_RETURN_IF_ERROR(g->core->SerializeState(&part.checkpoint));  // after the header line
    part.source_ms = g->TakeSourceTimes();
    if (!spare_outputs_.empty()) {
      part.out = std::move(spare_outputs_.back());
      spare_outputs_.pop_back();
    }
    std::swap(part.out, g->out);
    job->commit.groups.push_back(g->p);
    job->txns.push_back(lake::TxnId{TxnAppId(options_.query, g->p), part.epoch});
    job->parts.push_back(std::move(part));
    g->closing_pos = g->pos;
    g->replaying = false;
    StartEpoch(*g);
  }
  if (wait || !options_.background_commit) {
    return ApplyCommit(committer_->RunInline(std::move(job)));
  }
  committer_->Start(std::move(job));
  return Status::OK();
}

Status Processor::WaitForCommit() {
  std::unique_ptr<EpochJob> job = committer_->Wait();
  return job ? ApplyCommit(std::move(job)) : Status::OK();
}

Status Processor::ReapCommit() {
  std::unique_ptr<EpochJob> job = committer_->Reap();
  return job ? ApplyCommit(std::move(job)) : Status::OK();
}

Status Processor::ApplyCommit(std::unique_ptr<EpochJob> job) {
  counters_.retries += job->retries;
  counters_.lake_write_time += job->busy;
  if (!job->status.ok()) {
    sticky_ = job->status;
    return job->status;
  }
  counters_.table_commits += job->table_commits;
  counters_.commit_conflicts += job->version_conflicts;
  counters_.commits_by_others += job->epochs_committed_by_others;
  counters_.staged_taken += job->intents_taken;
  counters_.commit_latency.Record(job->busy);
  for (size_t i = 0; i < kOutputTableCount; ++i) counters_.rows[i] += job->commit.rows[i];
  counters_.lake_latency.Merge(job->lake_latency);
  for (EpochJob::Part& part : job->parts) {
    auto it = groups_.find(part.p);
    if (it != groups_.end() && part.epoch > it->second->committed_epoch) {
      it->second->committed_epoch = part.epoch;
      it->second->committed_pos = it->second->closing_pos;
    }
    ++counters_.epochs_committed;
    part.out.Clear();
    spare_outputs_.push_back(std::move(part.out));
  }
  counters_.last_commit_latency = job->busy;
  counters_.last_commit_time = job->commit.at;
  if (maintainer_) {
    maintainer_->SetLowWatermark(LowWatermark(Groups()));
    if (!options_.maintenance.background) (void)maintainer_->RunPassIfDue();
  }
  if (observer_) {
    job->commit.latency = counters_.last_commit_latency;
    observer_->OnCommit(job->commit);
  }
  return Status::OK();
}

}  // namespace smartcity::pipeline
