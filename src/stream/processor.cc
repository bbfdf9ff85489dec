#include "stream/processor.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

namespace smartcity::stream {

std::string_view OutputTableName(OutputTable t) {
  switch (t) {
    case OutputTable::kVehicle:
      return "vehicle_data";
    case OutputTable::kGps:
      return "gps_data";
    case OutputTable::kTraffic:
      return "traffic_data";
    case OutputTable::kWeather:
      return "weather_data";
    case OutputTable::kEmergency:
      return "emergency_data";
    case OutputTable::kEnriched:
      return "enriched_data";
    case OutputTable::kDeadLetters:
      return "_dead_letters";
    case OutputTable::kLateEvents:
      return "_late_events";
  }
  return "?";
}

const RecordBatch& OutputOf(const StreamOutput& out, OutputTable t) {
  switch (t) {
    case OutputTable::kEnriched:
      return out.enriched;
    case OutputTable::kDeadLetters:
      return out.dead_letters;
    case OutputTable::kLateEvents:
      return out.late_events;
    default:
      return out.raw[static_cast<size_t>(t)];
  }
}

RecordBatch& OutputOf(StreamOutput& out, OutputTable t) {
  return const_cast<RecordBatch&>(OutputOf(static_cast<const StreamOutput&>(out), t));
}

const std::shared_ptr<const Schema>& SchemaOf(OutputTable t) {
  switch (t) {
    case OutputTable::kEnriched:
      return EnrichedSchema();
    case OutputTable::kDeadLetters:
      return DeadLetterSchema();
    case OutputTable::kLateEvents:
      return LateEventSchema();
    default:
      return RawSchema(static_cast<Topic>(t));
  }
}

namespace {

OutputMarks MarksOf(const StreamOutput& out) {
  OutputMarks m;
  for (size_t i = 0; i < kOutputTableCount; ++i)
    m[i] = OutputOf(out, static_cast<OutputTable>(i)).num_rows();
  return m;
}

using Positions = std::array<std::optional<Position>, kTopicCount>;

nlohmann::json PositionsToJson(const Positions& p) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& v : p) a.push_back(v ? nlohmann::json(v->value()) : nlohmann::json(nullptr));
  return a;
}

Result<Positions> PositionsFromJson(const nlohmann::json& a) {
  Positions p;
  if (!a.is_array() || a.size() != kTopicCount)
    return Status::Corruption("checkpoint positions are malformed");
  for (size_t i = 0; i < kTopicCount; ++i) {
    if (a[i].is_number_integer())
      p[i] = Position(a[i].get<int64_t>());
    else if (!a[i].is_null())
      return Status::Corruption("checkpoint positions are malformed");
  }
  return p;
}

EventTime WallNow() {
  return std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
}

}  // namespace

struct Processor::Group {
  int32_t p = 0;
  std::unique_ptr<StreamCore> core;
  StreamOutput out;
  int64_t committed_epoch = 0;  // newest epoch in the state checkpoint; 0 = none
  EventTime epoch_wm{};
  Positions pos;           // next position per topic (after the last processed record)
  bool replaying = false;  // re-running committed_epoch + 1 exactly
  Positions replay_end;
  EventTime replay_wm{};
  bool replay_final = false;
  std::array<bool, kTopicCount> paused{};
  // Source timestamps of the records in the current epoch, in 1 ms buckets (for lake latency):
  // records arrive roughly in time order, so consecutive ones mostly share the cached bucket.
  std::unordered_map<int64_t, uint64_t> source_ms;
  int64_t cached_ms = INT64_MIN;
  uint64_t cached_count = 0;

  void NoteSourceTime(EventTime t) {
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

// A closed epoch of some groups on its way to the lake (CloseEpochs -> RunCommit -> ApplyCommit).
struct Processor::CommitJob {
  struct Part {
    int32_t p = 0;
    int64_t epoch = 0;
    std::string offsets_log;  // the offsets log's body; empty for an epoch being replayed
    StreamOutput out;         // the epoch's rows
    std::string checkpoint;   // the state checkpoint's body
    std::unordered_map<int64_t, uint64_t> source_ms;
  };
  std::vector<Part> parts;
  std::vector<lake::TxnId> txns;
  // Written by RunCommit, read after `done` (or the join).
  Status status;
  EpochCommit commit;
  uint64_t table_commits = 0;
  uint64_t retries = 0;
  LatencyHistogram lake_latency;
  Micros busy{0};
  std::thread thread;
  std::atomic<bool> done{false};
};

Processor::Processor(ProcessorOptions options, lake::ObjectStore* store, engine::Database* db,
                     Clock* clock)
    : options_(std::move(options)), store_(store), db_(db), clock_(clock) {}

Processor::~Processor() {
  // The committer thread uses the tables and the store: it must be done before they go.
  if (inflight_ && inflight_->thread.joinable()) inflight_->thread.join();
}

Result<std::unique_ptr<Processor>> Processor::Open(ProcessorOptions options,
                                                   lake::ObjectStore* store, engine::Database* db,
                                                   Clock* clock) {
  if (options.query.empty() || options.query.find('/') != std::string::npos) {
    return Status::InvalidArgument("the query name must be non-empty and contain no '/'");
  }
  std::unique_ptr<Processor> p(new Processor(std::move(options), store, db, clock));
  SC_RETURN_IF_ERROR(p->OpenTables());
  p->epoch_started_ = clock->Now();
  return p;
}

Status Processor::OpenTables() {
  lake::TableOptions opts = options_.table;
  opts.partitions = {lake::PartitionField::Identity("date")};
  for (size_t i = 0; i < kOutputTableCount; ++i) {
    const auto t = static_cast<OutputTable>(i);
    SC_ASSIGN_OR_RETURN(
        tables_[i],
        lake::DeltaTable::Open(store_, db_, std::string(OutputTableName(t)), SchemaOf(t), opts));
  }
  return Status::OK();
}

std::string Processor::GroupId(int32_t p) const {
  return options_.query + "-p" + std::to_string(p);
}

std::string Processor::CheckpointKey(int32_t p, std::string_view kind, int64_t epoch) const {
  char e[24];
  std::snprintf(e, sizeof e, "%020lld", static_cast<long long>(epoch));
  return "_checkpoints/" + options_.query + "/p" + std::to_string(p) + "/" + std::string(kind) +
         "/" + e;
}

Status Processor::WithRetries(const std::function<Status()>& op, uint64_t* retries) {
  auto delay = std::chrono::milliseconds(100);
  const auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    Status s = op();
    if (s.ok() || !s.IsRetryable()) return s;
    if (attempt >= options_.max_retries &&
        std::chrono::steady_clock::now() - start >= options_.retry_budget)
      return s;
    ++*retries;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(10'000));
  }
}

Result<std::unique_ptr<Processor::Group>> Processor::LoadGroup(int32_t p) {
  auto g = std::make_unique<Group>();
  g->p = p;
  g->core = std::make_unique<StreamCore>(options_.core, clock_);
  // Until the source says otherwise (Step, after each poll), every input may have unread records:
  // the first epoch's watermark must not move past records that simply have not been fetched yet.
  for (Topic t : kAllTopics) g->core->SetBacklog(t, true);
  const std::string state_prefix =
      "_checkpoints/" + options_.query + "/p" + std::to_string(p) + "/state/";
  std::vector<lake::ObjectInfo> states;
  SC_RETURN_IF_ERROR(WithRetries(
      [&]() -> Status {
        auto l = store_->List(state_prefix);
        if (!l.ok()) return l.status();
        states = std::move(*l);
        return Status::OK();
      },
      &counters_.retries));
  if (!states.empty()) {
    const std::string& newest =
        std::max_element(states.begin(), states.end(), [](const auto& a, const auto& b) {
          return a.key < b.key;
        })->key;
    std::string blob;
    SC_RETURN_IF_ERROR(WithRetries(
        [&]() -> Status {
          auto r = store_->Get(newest);
          if (!r.ok()) return r.status();
          blob = std::move(*r);
          return Status::OK();
        },
        &counters_.retries));
    const size_t nl = blob.find('\n');
    if (nl == std::string::npos)
      return Status::Corruption("checkpoint " + newest + " is damaged (no header)");
    nlohmann::json h = nlohmann::json::parse(blob.substr(0, nl), nullptr, false);
    if (h.is_discarded() || !h.contains("epoch") || !h.contains("positions")) {
      return Status::Corruption("checkpoint " + newest + " is damaged (bad header)");
    }
    g->committed_epoch = h["epoch"].get<int64_t>();
    SC_ASSIGN_OR_RETURN(g->pos, PositionsFromJson(h["positions"]));
    SC_RETURN_IF_ERROR(g->core->RestoreState(std::string_view(blob).substr(nl + 1))
                           .WithContext("checkpoint " + newest));
  }
  // A WAL for the next epoch means it was closed (maybe partly committed) before the crash: re-run
  // it.
  const std::string wal = CheckpointKey(p, "offsets", g->committed_epoch + 1);
  auto w = store_->Get(wal);
  if (w.ok()) {
    nlohmann::json j = nlohmann::json::parse(*w, nullptr, false);
    if (j.is_discarded() || !j.contains("end") || !j.contains("watermark")) {
      return Status::Corruption("offsets log " + wal + " is damaged");
    }
    SC_ASSIGN_OR_RETURN(g->replay_end, PositionsFromJson(j["end"]));
    g->replay_wm = EventTime(Micros(j["watermark"].get<int64_t>()));
    g->replay_final = j.value("final", false);
    g->replaying = true;
    ++counters_.epochs_replayed;
  } else if (w.status().kind() != ErrorKind::kNotFound) {
    return w.status().WithContext("reading " + wal);
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
    out[i] = it->second->pos[static_cast<size_t>(partitions[i].topic)];
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
    v.push_back({p, g->committed_epoch, g->core->watermark(), g->replaying});
  return v;
}

Status Processor::ReplayProgress(Group& g) {
  // A replaying group's epoch is complete when each partition stands exactly at its recorded end.
  for (size_t t = 0; t < kTopicCount; ++t) {
    const auto& end = g.replay_end[t];
    if (end && (!g.pos[t] || *g.pos[t] < *end)) return Status::OK();
  }
  if (g.replay_final) {
    const OutputMarks before = observer_ ? MarksOf(g.out) : OutputMarks{};
    g.core->Flush(&g.out);
    if (observer_) observer_->OnRows(g.p, g.out, before);
  }
  SC_RETURN_IF_ERROR(CloseEpochs({&g}, g.replay_final, /*wait=*/g.replay_final));
  std::vector<TopicPartition> resume;
  for (size_t t = 0; t < kTopicCount; ++t) {
    if (g.paused[t]) resume.push_back(TopicPartition{static_cast<Topic>(t), PartitionId(g.p)});
    g.paused[t] = false;
  }
  if (!resume.empty()) SC_RETURN_IF_ERROR(source_->Resume(resume));
  return Status::OK();
}

Status Processor::Step() {
  if (!sticky_.ok()) return sticky_;
  SC_RETURN_IF_ERROR(ReapCommit());
  const auto poll_start = std::chrono::steady_clock::now();
  auto polled = source_->Poll(options_.max_poll_records, options_.poll_timeout);
  const auto poll_end = std::chrono::steady_clock::now();
  counters_.poll_time += std::chrono::duration_cast<Micros>(poll_end - poll_start);
  if (!sticky_.ok()) return sticky_;
  if (!polled.ok()) return polled.status();
  const std::span<const SourceRecord> records = *polled;
  const EventTime received = WallNow();
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
      const size_t t = static_cast<size_t>(r.topic);
      if (g.paused[t]) continue;
      if (g.replaying && (!g.replay_end[t] || r.position >= *g.replay_end[t])) {
        // Past the replayed epoch's end: rewind and hold the partition until the epoch is closed.
        // Back to this very record: the first one not processed (when the epoch read nothing of the
        // partition there is no recorded position, and this is the earliest record it has).
        const PartitionPosition back{TopicPartition{r.topic, r.partition},
                                     Position(r.position.value())};
        SC_RETURN_IF_ERROR(source_->Seek(std::span(&back, 1)));
        SC_RETURN_IF_ERROR(source_->Pause(std::span(&back.tp, 1)));
        g.paused[t] = true;
        continue;
      }
      per_group_[p].push_back(
          InputRecord{r.topic, SourcePosition{r.partition, r.position.value()}, r.value});
      g.pos[t] = Position(r.position.value() + 1);
      if (r.source_time) {
        g.NoteSourceTime(*r.source_time);
        timed = true;
      }
    }
    for (auto& [p, g] : groups_) {
      std::vector<InputRecord>& in = per_group_[p];
      if (in.empty()) continue;
      const OutputMarks before = observer_ ? MarksOf(g->out) : OutputMarks{};
      g->core->Process(in, received, &g->out);
      counters_.records += in.size();
      if (observer_) observer_->OnRows(p, g->out, before);
    }
    if (timed) {
      // Visible in the live state now: one latency per timed record of this batch.
      const int64_t visible = WallNow().time_since_epoch().count();
      for (const SourceRecord& r : records) {
        if (r.source_time)
          counters_.live_latency.Record(
              Micros(visible - r.source_time->time_since_epoch().count()));
      }
    }
  }
  // Which join inputs still have unread records: they hold the watermark back (watermark.h).
  for (const PartitionLag& l : source_->Lag()) {
    auto it = groups_.find(l.tp.partition.value());
    if (it != groups_.end())
      it->second->core->SetBacklog(l.tp.topic, l.records_behind.value_or(1) > 0);
  }
  for (auto& [p, g] : groups_) {
    if (g->replaying) SC_RETURN_IF_ERROR(ReplayProgress(*g));
  }
  counters_.process_time +=
      std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now() - poll_end);
  // Close when the trigger is due, or sooner when the epoch's rows fill their memory budget. A due
  // trigger waits (processing on) while the previous epoch is still being written; a full budget
  // waits for it: that is the backpressure that bounds memory.
  size_t bytes = 0;
  for (const auto& [p, g] : groups_) {
    if (g->replaying) continue;  // a replayed epoch closes at its recorded end, not by size
    for (size_t i = 0; i < kOutputTableCount; ++i)
      bytes += OutputOf(g->out, static_cast<OutputTable>(i)).ByteSize();
  }
  const bool full = bytes >= options_.max_epoch_bytes;
  const bool due = clock_->Now() - epoch_started_ >= options_.trigger;
  const bool busy = inflight_ != nullptr && !inflight_->done.load(std::memory_order_acquire);
  if (full || (due && !busy)) SC_RETURN_IF_ERROR(CloseOpenEpochs(/*wait=*/false));
  return sticky_;
}

Status Processor::CloseOpenEpochs(bool wait) {
  std::vector<Group*> closing;
  for (auto& [p, g] : groups_) {
    if (!g->replaying) closing.push_back(g.get());
  }
  epoch_started_ = clock_->Now();
  if (closing.empty()) return wait ? WaitForCommit() : Status::OK();
  return CloseEpochs(closing, false, wait);
}

Status Processor::CommitNow() {
  if (!sticky_.ok()) return sticky_;
  return CloseOpenEpochs(/*wait=*/true);
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
    g->core->Flush(&g->out);
    if (observer_) observer_->OnRows(p, g->out, before);
    closing.push_back(g.get());
  }
  if (closing.empty()) return WaitForCommit();
  return CloseEpochs(closing, true, /*wait=*/true);
}

Status Processor::CloseEpochs(const std::vector<Group*>& groups, bool final, bool wait) {
  const auto wall0 = std::chrono::steady_clock::now();
  struct AddTime {
    Micros* to;
    std::chrono::steady_clock::time_point from;
    ~AddTime() {
      *to += std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now() - from);
    }
  } add_time{&counters_.commit_time, wall0};
  {
    // Epoch E+1's WAL must not exist before E's checkpoint (see the header).
    AddTime waited{&counters_.commit_wait_time, wall0};
    SC_RETURN_IF_ERROR(WaitForCommit());
  }
  // The job: each group's offsets log, rows, state after the epoch and its records' source times.
  // The groups start their next epoch at once, on fresh buffers.
  auto job = std::make_unique<CommitJob>();
  job->commit.final = final;
  for (Group* g : groups) {
    CommitJob::Part part;
    part.p = g->p;
    part.epoch = g->committed_epoch + 1;
    if (!g->replaying) {  // a replayed epoch's offsets log is the one being replayed
      nlohmann::json j = {{"epoch", part.epoch},
                          {"group", g->p},
                          {"end", PositionsToJson(g->pos)},
                          {"watermark", g->epoch_wm.time_since_epoch().count()},
                          {"final", final}};
      part.offsets_log = j.dump() + "\n";
    }
    nlohmann::json h = {{"epoch", part.epoch},
                        {"group", g->p},
                        {"positions", PositionsToJson(g->pos)},
                        {"watermark", g->epoch_wm.time_since_epoch().count()}};
    part.checkpoint = h.dump();
    part.checkpoint += '\n';
    SC_RETURN_IF_ERROR(g->core->SerializeState(&part.checkpoint));  // after the header line
    part.source_ms = g->TakeSourceTimes();
    if (!spare_outputs_.empty()) {
      part.out = std::move(spare_outputs_.back());
      spare_outputs_.pop_back();
    }
    std::swap(part.out, g->out);
    job->commit.groups.push_back(g->p);
    job->txns.push_back(lake::TxnId{GroupId(g->p), part.epoch});
    job->parts.push_back(std::move(part));
    g->replaying = false;
    StartEpoch(*g);
  }
  if (wait || !options_.background_commit) {
    RunCommit(job.get());
    return ApplyCommit(std::move(job));
  }
  inflight_ = std::move(job);
  CommitJob* j = inflight_.get();
  inflight_->thread = std::thread([this, j] { RunCommit(j); });
  return Status::OK();
}

void Processor::RunCommit(CommitJob* job) {
  const auto start = std::chrono::steady_clock::now();
  job->status = [&]() -> Status {
    // 1. Offsets logs: from here on each epoch's content is fixed (a replay reproduces it).
    for (const CommitJob::Part& part : job->parts) {
      if (part.offsets_log.empty()) continue;
      const std::string key = CheckpointKey(part.p, "offsets", part.epoch);
      Status s =
          WithRetries([&] { return store_->PutIfAbsent(key, part.offsets_log); }, &job->retries);
      if (s.kind() == ErrorKind::kAlreadyExists) {
        auto existing = store_->Get(key);
        if (!existing.ok() || *existing != part.offsets_log) {
          return Status::Aborted("another processor has written " + key +
                                 ": two members are processing partition group " +
                                 std::to_string(part.p) +
                                 " (check the consumer group; this one stops)");
        }
      } else if (!s.ok()) {
        return s.WithContext("writing the offsets log " + key);
      }
    }
    // 2. The lake: one commit per table, one txn per group. The tables are independent (each its
    // own log and DuckDB connection): two threads share them, the big ones split between the two.
    static constexpr std::array kFirst{OutputTable::kVehicle, OutputTable::kWeather,
                                       OutputTable::kTraffic, OutputTable::kEmergency};
    static constexpr std::array kSecond{OutputTable::kEnriched, OutputTable::kGps,
                                        OutputTable::kDeadLetters, OutputTable::kLateEvents};
    uint64_t second_retries = 0, second_commits = 0;
    Status second;
    std::thread other(
        [&] { second = CommitTables(job, kSecond, &second_retries, &second_commits); });
    Status first = CommitTables(job, kFirst, &job->retries, &job->table_commits);
    other.join();
    job->retries += second_retries;
    job->table_commits += second_commits;
    SC_RETURN_IF_ERROR(first);
    SC_RETURN_IF_ERROR(second);
    // 3. State checkpoints.
    for (const CommitJob::Part& part : job->parts) {
      const std::string key = CheckpointKey(part.p, "state", part.epoch);
      Status s =
          WithRetries([&] { return store_->PutIfAbsent(key, part.checkpoint); }, &job->retries);
      if (!s.ok() && s.kind() != ErrorKind::kAlreadyExists)
        return s.WithContext("writing the checkpoint " + key);
      // The checkpoint before this one is no longer needed (its WAL neither).
      if (part.epoch > 2) {
        (void)store_->Delete(CheckpointKey(part.p, "state", part.epoch - 2));
        (void)store_->Delete(CheckpointKey(part.p, "offsets", part.epoch - 1));
      }
    }
    return Status::OK();
  }();
  const EventTime now = WallNow();
  const int64_t now_us = now.time_since_epoch().count();
  if (job->status.ok()) {
    for (const CommitJob::Part& part : job->parts) {
      for (const auto& [ms, n] : part.source_ms)
        job->lake_latency.Record(Micros(now_us - ms * 1000), n);
    }
  }
  job->commit.at = now;
  job->busy = std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now() - start);
  job->done.store(true, std::memory_order_release);
}

Status Processor::CommitTables(CommitJob* job, std::span<const OutputTable> tables,
                               uint64_t* retries, uint64_t* commits) {
  for (OutputTable t : tables) {
    const size_t i = static_cast<size_t>(t);
    lake::DeltaTable& table = *tables_[i];
    for (CommitJob::Part& part : job->parts) {
      // The table takes the rows' memory where it can (no copy); the part's batch is not read
      // again.
      RecordBatch& rows = OutputOf(part.out, t);
      if (rows.num_rows() > 0) SC_RETURN_IF_ERROR(table.Append(std::move(rows), GroupId(part.p)));
    }
    lake::CommitResult result;
    SC_RETURN_IF_ERROR(WithRetries(
                           [&]() -> Status {
                             auto r = table.Commit(job->txns);
                             if (!r.ok()) return r.status();
                             result = *r;
                             return Status::OK();
                           },
                           retries)
                           .WithContext("committing " + std::string(OutputTableName(t))));
    if (!result.skipped) ++*commits;
    job->commit.rows[i] = static_cast<uint64_t>(result.rows_added);  // each table is one thread's
  }
  return Status::OK();
}

Status Processor::WaitForCommit() {
  if (!inflight_) return Status::OK();
  if (inflight_->thread.joinable()) inflight_->thread.join();
  return ApplyCommit(std::move(inflight_));
}

Status Processor::ReapCommit() {
  if (!inflight_ || !inflight_->done.load(std::memory_order_acquire)) return Status::OK();
  return WaitForCommit();
}

Status Processor::ApplyCommit(std::unique_ptr<CommitJob> job) {
  if (job->thread.joinable()) job->thread.join();
  counters_.retries += job->retries;
  counters_.lake_write_time += job->busy;
  if (!job->status.ok()) {
    sticky_ = job->status;
    return job->status;
  }
  counters_.table_commits += job->table_commits;
  for (size_t i = 0; i < kOutputTableCount; ++i) counters_.rows[i] += job->commit.rows[i];
  counters_.lake_latency.Merge(job->lake_latency);
  for (CommitJob::Part& part : job->parts) {
    auto it = groups_.find(part.p);
    if (it != groups_.end())
      it->second->committed_epoch = std::max(it->second->committed_epoch, part.epoch);
    ++counters_.epochs_committed;
    part.out.Clear();
    spare_outputs_.push_back(std::move(part.out));
  }
  counters_.last_commit_latency = job->busy;
  counters_.last_commit_time = job->commit.at;
  if (observer_) {
    job->commit.latency = counters_.last_commit_latency;
    observer_->OnCommit(job->commit);
  }
  return Status::OK();
}

}  // namespace smartcity::stream
