// LiveState: what the live view shows, kept up to date by the stream processor. It is the
// pipeline::ProcessorObserver of `run` and `stream`: OnRows copies the few fields it needs out of
// the micro-batch's columnar rows (latest position, speed and weather per vehicle; incidents;
// cameras seen; per-topic event counts and a rate history of 1 s buckets; dead letters and late
// events) and OnCommit records the epoch commits. The command's loop adds what only it knows
// (watermarks per partition group, lag per input partition, processor counters) with
// UpdateProgress(). `serve` fills one from a lake instead (web/lake_state.h).
//
// Readers (HTTP threads) take a Snapshot(): a copy made under the mutex, then rendered outside it,
// so the processor thread never waits on a client, only on another thread's short copy.
//
// Rows may repeat after a restart (a replayed epoch): every update here is idempotent for the
// displayed state (latest-by-event-time), while the event counters count what was processed in
// this process (as the processor's own counters do).
//
// Ownership: borrows the Clock (must outlive it). Thread-safety: all methods are thread-safe; the
// observer callbacks are meant for one processor thread, readers may be any number of threads.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "model/schema.h"
#include "pipeline/processor.h"
#include "transport/event_source.h"
#include "transport/message.h"

namespace smartcity::web {

template <size_t N>
constexpr std::array<int64_t, N> MakeFilled(int64_t v) {
  std::array<int64_t, N> a{};
  a.fill(v);
  return a;
}

struct WeatherView {
  EventTime at{};
  double temperature = 0;
  std::string condition;
  double precipitation = 0;
  double wind_speed = 0;
  int32_t humidity = 0;
  int32_t air_quality_index = 0;
};

struct VehicleView {
  std::string device_id;
  EventTime at{};  // event time of the position
  double latitude = 0;
  double longitude = 0;
  double speed = 0;  // km/h
  std::string direction;
  std::string make;
  std::string model;
  int32_t year = 0;
  std::string fuel_type;
  std::optional<WeatherView> weather;  // the latest weather reading of this device
  WallTime updated{};                  // wall-clock time this process saw the position
  int32_t group = -1;                  // the partition group its events come from (not shown)
};

struct IncidentView {
  std::string incident_id;
  std::string device_id;  // the vehicle that reported it
  std::string type;
  std::string status;  // "Active" / "Resolved"
  std::string description;
  EventTime at{};      // event time of its latest report
  EventTime raised{};  // event time of its first report seen ({}: unknown, use `at`)
  double latitude = 0;
  double longitude = 0;
  EventTime raised_at() const { return raised == EventTime{} ? at : raised; }
  bool active() const { return status != model::NameOf(model::EmergencyStatus::kResolved); }
};

struct CameraView {
  std::string camera_id;
  double latitude = 0;
  double longitude = 0;
  EventTime last_seen{};
  uint64_t passes = 0;  // traffic_data events seen
};

struct CommitView {
  WallTime at{};
  std::vector<int32_t> groups;
  std::array<uint64_t, stream::kOutputTableCount> rows{};
  Micros latency{0};
  bool final = false;
  std::string table;  // `serve`: the table of a lake commit ("" = every table of an epoch)
  int64_t version = -1;
};

// One committed warehouse load transaction (warehouse::LoadEvent, without the dependency).
struct LoadView {
  WallTime at{};  // when it committed
  std::string table;
  int64_t first_version = 0;  // Delta versions loaded, first..last
  int64_t last_version = 0;
  uint64_t rows = 0;
  double seconds = 0;         // the transaction's duration
  int64_t lake_version = -1;  // the table's newest lake version the loader knew then
};

// Per warehouse table: where the loader stands.
struct TableLoadView {
  std::string table;
  // Every version up to it is in the warehouse or adds no rows (the loader's lag report, else the
  // last load).
  int64_t loaded_version = -1;
  int64_t lake_version = -1;  // newest lake version known (loader's, or a commit seen since)
  uint64_t rows = 0;          // rows loaded by this process
  uint64_t loads = 0;         // transactions committed by this process
  WallTime last_load{};
  bool lag_known = true;  // false: the loader has not reached the warehouse yet
  // Commit time of the oldest lake version not loaded yet (none: caught up).
  std::optional<WallTime> oldest_pending;
  int64_t lag_versions() const { return std::max<int64_t>(lake_version - loaded_version, 0); }
  // How long the oldest version not loaded has waited at `now` (0 when caught up).
  double lag_seconds(WallTime now) const {
    if (!oldest_pending || now <= *oldest_pending) return 0;
    return std::chrono::duration<double>(now - *oldest_pending).count();
  }
};

// One table of a warehouse lag report (warehouse::TableLag, without the dependency).
struct TableLagView {
  std::string table;
  bool known = false;
  int64_t lake_version = -1;
  int64_t loaded_version = -1;
  std::optional<WallTime> oldest_pending;
};

// The warehouse loader beside the pipeline, if any.
struct WarehouseView {
  bool present = false;  // a loader follows this pipeline's lake
  std::string retrying;  // the warehouse is away: why (the loader retries)
  std::string error;     // the loader stopped with this error
};

struct GroupView {
  int32_t group = 0;
  int64_t committed_epoch = -1;
  std::optional<EventTime> watermark;  // in force (moves at epoch boundaries)
  // The watermark the group's next epoch would take now (Processor::GroupStatus::live_watermark):
  // it moves between commits, as the inputs advance.
  std::optional<EventTime> live_watermark;
  std::optional<EventTime> max_event_time;  // newest event time seen in this group's rows
  bool replaying = false;
  // The live watermark when known, else the one in force.
  std::optional<EventTime> current_watermark() const {
    return live_watermark ? live_watermark : watermark;
  }
  // Newest event time seen minus the current watermark (nullopt without both).
  std::optional<Micros> watermark_lag() const {
    const std::optional<EventTime> w = current_watermark();
    if (!w || !max_event_time) return std::nullopt;
    return std::max(Micros(0), std::chrono::duration_cast<Micros>(*max_event_time - *w));
  }
};

struct InputView {
  std::string topic;
  int32_t partition = 0;
  std::optional<int64_t> position;
  std::optional<int64_t> end;
  std::optional<int64_t> records_behind;
};

// Something an operator must act on (docs/api.md, "Alerts"). Raised and cleared by LiveState's
// rules; a cleared alert stays listed (with its clearing time) until newer ones push it out.
struct AlertView {
  std::string kind;      // incident, stall, lag, dead_letters, late_events, warehouse, lake, memory
  std::string subject;   // what it is about within its kind: an incident id, "group 2", a topic
  std::string severity;  // "critical" or "warning"
  std::string message;
  WallTime since{};                 // raised (wall clock)
  std::optional<WallTime> cleared;  // when its condition ended
  bool active() const { return !cleared; }
};

// Every kind of alert, in the order /metrics lists them.
inline constexpr std::array<std::string_view, 8> kAlertKinds = {
    "incident", "stall", "lag", "dead_letters", "late_events", "warehouse", "lake", "memory"};

// The alert rules' thresholds (the commands' --alert-* options; defaults documented in
// docs/api.md).
struct AlertOptions {
  // stall: a partition group whose watermark has not moved for this long while its events keep
  // arriving (or its inputs are behind); a topic that had events and then none for this long while
  // other topics go on. lake: no lake commit for 3x this long while rows are produced.
  Micros stall_after = std::chrono::seconds(30);
  // lag: a partition group's watermark lag (newest event time minus live watermark), or the
  // records its inputs are behind, that grew steadily over this window (GrewSteadily) by at least
  // lag_growth_seconds (respectively lag_growth_records).
  Micros lag_growth_window = std::chrono::seconds(60);
  double lag_growth_seconds = 30;
  int64_t lag_growth_records = 10'000;
  // dead_letters / late_events: their share of the events of the last minute above this.
  double bad_event_fraction = 0.05;
  // ... counted only when the last minute had at least this many events.
  uint64_t bad_event_min_events = 50;
  // incident: how long a new incident's alert stays raised (it clears earlier when resolved).
  Micros incident_alert_for = std::chrono::minutes(2);
  // memory: resident memory above this share of memory_limit_bytes (0: no limit, no rule).
  double memory_fraction = 0.9;
  uint64_t memory_limit_bytes = 0;
};

// One sample of a quantity that should not keep growing (a lag), for GrewSteadily.
struct LagSample {
  WallTime at{};
  double value = 0;
};

// Whether `samples` (oldest first) grew steadily over the `window` before `now`: the values at
// now - window, now - 3/4, 1/2 and 1/4 window (each the newest sample at or before that time) and
// the newest sample increase strictly, and the newest exceeds the first by at least `min_growth`.
// False while the samples do not reach back a whole window.
bool GrewSteadily(const std::deque<LagSample>& samples, WallTime now, Micros window,
                  double min_growth);

// Per-second event counts per topic over the last kRateSeconds seconds of processing time.
inline constexpr int kRateSeconds = 600;

// Upper bounds (seconds) of the commit latency histogram's buckets (/metrics), ascending; +Inf
// follows.
inline constexpr std::array<double, 12> kCommitLatencyBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
inline constexpr size_t kCommitLatencyBucketCount = kCommitLatencyBuckets.size();

// What the pipeline is doing, for the health indicator.
enum class PipelineState : uint8_t {
  kStarting,
  kRunning,
  kFinished,
  kStopped,
  kFailed,
  kServingLake
};
std::string_view PipelineStateName(PipelineState s);

// A consistent copy of everything, for one response.
struct LiveSnapshot {
  std::string mode;  // "run", "stream", "serve"
  std::string lake;
  PipelineState state = PipelineState::kStarting;
  std::string error;  // when kFailed
  WallTime now{};
  WallTime started{};
  std::vector<VehicleView> vehicles;                 // by device id
  std::vector<IncidentView> incidents;               // by incident id
  std::vector<CameraView> cameras;                   // by camera id
  std::array<uint64_t, kTopicCount> events_in{};     // rows seen per topic (valid + dead letters)
  std::array<uint64_t, kTopicCount> dead_letters{};  // per topic
  std::array<uint64_t, kTopicCount> late_events{};   // per topic
  uint64_t dead_letters_other = 0;                   // dead letters of a topic name not configured
  uint64_t late_events_total = 0;
  // Dead letters quarantined for an implausible event time (stream/event_time_guard.h), per topic,
  // and the reason of the latest one ("" when none).
  std::array<uint64_t, kTopicCount> quarantined{};
  std::string last_quarantine_reason;
  std::array<uint64_t, stream::kOutputTableCount>
      rows_out{};  // rows produced (live, before commit)
  std::array<uint64_t, stream::kOutputTableCount> rows_committed{};  // rows committed to the lake
  // false for `serve`: a lake at rest does not say what was produced, only what was committed.
  bool rows_produced_known = true;
  // `serve`: the newest event time per table, from the maxValues of its files' statistics.
  std::array<std::optional<EventTime>, stream::kOutputTableCount> newest_event_time{};
  Micros watermark_delay{0};  // --watermark-delay (0: not known)
  // rates[topic][i]: events in second (rate_end_second - kRateSeconds + 1 + i) of processing time.
  std::array<std::vector<uint32_t>, kTopicCount> rates;
  int64_t rate_end_second = 0;
  std::vector<GroupView> groups;
  std::vector<InputView> inputs;
  std::deque<CommitView> commits;          // newest last
  std::deque<LoadView> loads;              // recent warehouse loads, newest last
  std::vector<TableLoadView> load_tables;  // by table name
  WarehouseView warehouse;
  uint64_t records = 0;  // processor counters (or, for serve, rows in the lake's raw tables)
  uint64_t epochs_committed = 0;
  uint64_t table_commits = 0;
  uint64_t commit_conflicts = 0;  // Delta commits that lost their version to another writer
  // Group commit: table commits of this member's epochs made by another member's commit, and other
  // members' staged epochs this member's commits took.
  uint64_t commits_by_others = 0;
  uint64_t staged_taken = 0;
  // Keys that are not the device id (pipeline::ProcessorCounters): misplaced join inputs, those
  // forwarded to their device's group, forwarded records received and joined here, and duplicates.
  uint64_t misplaced = 0;
  uint64_t forwarded = 0;
  uint64_t repartition_received = 0;
  uint64_t repartition_duplicates = 0;
  uint64_t epochs_replayed = 0;
  Micros last_commit_latency{0};
  std::optional<WallTime> last_commit;
  // Every epoch commit's latency this process saw: counts per kCommitLatencyBuckets bound (not
  // cumulative; the last one counts those above every bound), their sum and number.
  std::array<uint64_t, kCommitLatencyBucketCount + 1> commit_latency_counts{};
  Micros commit_latency_sum{0};
  uint64_t commit_latency_count = 0;
  TopicNames topic_names;
  std::vector<AlertView> alerts;  // active ones first, then cleared; newest first within each
};

// LiveState::Health(): the few fields the probes read.
struct HealthView {
  PipelineState state = PipelineState::kStarting;
  std::string error;              // when kFailed
  Micros since_turn{0};           // processing time since the loop last turned
  std::vector<GroupView> groups;  // the partition groups owned now
};

struct LiveStateOptions {
  std::string mode = "run";
  std::string lake;
  TopicNames topic_names;   // to attribute dead letters (which carry the topic's name) to a topic
  size_t max_commits = 50;  // recent commits kept
  size_t max_loads = 50;    // recent warehouse loads kept
  size_t max_incidents = 2000;
  size_t max_vehicles = 100'000;
  // A vehicle whose latest position is this far behind its partition group's newest event time
  // has left the road (the steady city's vehicles leave at the corridor's ends): it leaves the
  // view, so that the view holds the vehicles on the road, however long the run.
  Micros vehicle_timeout = std::chrono::minutes(10);
  AlertOptions alerts;
  Micros watermark_delay{0};        // the processor's --watermark-delay, shown beside the lag
  size_t max_cleared_alerts = 100;  // cleared alerts kept for the list
  // The process's resident memory in bytes, for the memory rule (null: not checked). Called at
  // most once a second from UpdateProgress.
  std::function<uint64_t()> resident_bytes;
};

class LiveState final : public pipeline::ProcessorObserver {
 public:
  LiveState(LiveStateOptions options, Clock* clock);

  // pipeline::ProcessorObserver (processor thread)
  void OnRows(int32_t group, const stream::StreamOutput& out,
              const stream::OutputMarks& first) override;
  void OnCommit(const pipeline::EpochCommit& commit) override;

  // From the command's loop: groups, input lag and counters. Cheap; call every few hundred ms.
  void UpdateProgress(std::span<const pipeline::Processor::GroupStatus> groups,
                      std::span<const PartitionLag> lag,
                      const pipeline::ProcessorCounters& counters);
  void SetState(PipelineState state, std::string error = "");
  // From the warehouse loader's thread: one committed load transaction; a lag report; the error
  // it stopped with.
  void RecordLoad(LoadView load);
  void RecordLag(const std::vector<TableLagView>& tables, std::string retrying);
  void SetWarehouseError(std::string error);

  // `serve`: replaces the displayed state with one read from a lake.
  void ReplaceFromLake(std::vector<VehicleView> vehicles, std::vector<IncidentView> incidents,
                       std::vector<CameraView> cameras, std::deque<CommitView> commits,
                       std::array<uint64_t, stream::kOutputTableCount> rows_committed);

  // `serve`: the partition groups (committed epoch and watermark of each group's newest offsets
  // log) and each table's newest event time, read from the lake.
  void ReplaceLakeProgress(const std::vector<GroupView>& groups,
                           std::array<std::optional<EventTime>, stream::kOutputTableCount> newest);

  // `serve`: replaces the warehouse loads (nullopt: keeps the loads and totals shown) and the
  // per-table totals, read from a warehouse's bookkeeping; `busy` says why they could not be read
  // now ("" when they were).
  void ReplaceLoads(std::optional<std::deque<LoadView>> loads, std::vector<TableLoadView> tables,
                    bool present, std::string busy);

  LiveSnapshot Snapshot() const;
  // What the probes need (/healthz, /readyz), without copying the view: cheap for any caller.
  HealthView Health() const;

 private:
  int64_t NowSecond() REQUIRES(mu_);  // processing-time second (Clock)
  void CountRate(Topic t, uint64_t n, int64_t second) REQUIRES(mu_);
  // Drops the vehicles of `group` not heard from within vehicle_timeout of `newest`.
  void ExpireVehicles(int32_t group, EventTime newest) REQUIRES(mu_);
  std::optional<Topic> TopicOfName(std::string_view name) const;
  // Alerts: raise (or update the message of) an active one; clear it if active.
  void Raise(std::string_view kind, std::string_view subject, std::string_view severity,
             std::string message, WallTime now) REQUIRES(mu_);
  void Clear(std::string_view kind, std::string_view subject, WallTime now) REQUIRES(mu_);
  // Applies every rule at `now` (wall clock).
  void EvaluateAlerts(WallTime now) REQUIRES(mu_);

  const LiveStateOptions options_;
  Clock* const clock_;
  const WallTime started_;

  mutable Mutex mu_;
  PipelineState state_ GUARDED_BY(mu_) = PipelineState::kStarting;
  std::string error_ GUARDED_BY(mu_);
  std::map<std::string, VehicleView, std::less<>> vehicles_ GUARDED_BY(mu_);
  std::map<std::string, IncidentView, std::less<>> incidents_ GUARDED_BY(mu_);
  std::map<std::string, CameraView, std::less<>> cameras_ GUARDED_BY(mu_);
  std::array<uint64_t, kTopicCount> events_in_ GUARDED_BY(mu_){};
  std::array<uint64_t, kTopicCount> dead_letters_ GUARDED_BY(mu_){};
  std::array<uint64_t, kTopicCount> late_events_ GUARDED_BY(mu_){};
  uint64_t dead_letters_other_ GUARDED_BY(mu_) = 0;
  uint64_t late_events_total_ GUARDED_BY(mu_) = 0;
  std::array<uint64_t, kTopicCount> quarantined_ GUARDED_BY(mu_){};
  std::string last_quarantine_reason_ GUARDED_BY(mu_);
  std::array<uint64_t, stream::kOutputTableCount> rows_out_ GUARDED_BY(mu_){};
  std::array<uint64_t, stream::kOutputTableCount> rows_committed_ GUARDED_BY(mu_){};
  std::array<std::array<uint32_t, kRateSeconds>, kTopicCount> rate_ring_ GUARDED_BY(mu_){};
  int64_t rate_second_ GUARDED_BY(mu_) = INT64_MIN;  // the newest second in the ring
  std::map<int32_t, GroupView> groups_ GUARDED_BY(mu_);
  std::map<int32_t, EventTime> swept_at_ GUARDED_BY(mu_);  // per group: the last expiry sweep
  std::vector<InputView> inputs_ GUARDED_BY(mu_);
  std::deque<CommitView> commits_ GUARDED_BY(mu_);
  std::deque<LoadView> loads_ GUARDED_BY(mu_);
  std::map<std::string, TableLoadView, std::less<>> load_tables_ GUARDED_BY(mu_);
  WarehouseView warehouse_ GUARDED_BY(mu_);
  uint64_t records_ GUARDED_BY(mu_) = 0;
  uint64_t epochs_committed_ GUARDED_BY(mu_) = 0;
  uint64_t table_commits_ GUARDED_BY(mu_) = 0;
  uint64_t commit_conflicts_ GUARDED_BY(mu_) = 0;
  uint64_t commits_by_others_ GUARDED_BY(mu_) = 0;
  uint64_t staged_taken_ GUARDED_BY(mu_) = 0;
  uint64_t misplaced_ GUARDED_BY(mu_) = 0;
  uint64_t forwarded_ GUARDED_BY(mu_) = 0;
  uint64_t repartition_received_ GUARDED_BY(mu_) = 0;
  uint64_t repartition_duplicates_ GUARDED_BY(mu_) = 0;
  uint64_t epochs_replayed_ GUARDED_BY(mu_) = 0;
  Micros last_commit_latency_ GUARDED_BY(mu_){0};
  std::optional<WallTime> last_commit_ GUARDED_BY(mu_);
  std::array<uint64_t, kCommitLatencyBucketCount + 1> commit_latency_counts_ GUARDED_BY(mu_){};
  Micros commit_latency_sum_ GUARDED_BY(mu_){0};
  uint64_t commit_latency_count_ GUARDED_BY(mu_) = 0;
  ProcessingTime last_turn_ GUARDED_BY(mu_);  // the loop's last UpdateProgress (or construction)

  // Alerts by kind + '\0' + subject.
  std::map<std::string, AlertView, std::less<>> alerts_ GUARDED_BY(mu_);
  struct StallTrack {
    std::optional<EventTime> watermark;
    WallTime moved{};         // when the watermark last moved (or the group was first seen)
    bool rows_since = false;  // events arrived since then
  };
  std::map<int32_t, StallTrack> stall_ GUARDED_BY(mu_);
  struct CountSample {
    WallTime at;
    uint64_t events = 0, dead = 0, late = 0, rows = 0, retries = 0;
  };
  std::deque<CountSample> samples_ GUARDED_BY(mu_);  // one a second, the last minute's
  std::array<int64_t, kTopicCount> topic_last_second_ GUARDED_BY(mu_) =
      MakeFilled<kTopicCount>(INT64_MIN);  // per topic: its newest second with events
  std::map<int32_t, std::deque<LagSample>> watermark_lag_ GUARDED_BY(mu_);  // per group
  std::deque<LagSample> records_behind_ GUARDED_BY(mu_);
  uint64_t retries_ GUARDED_BY(mu_) = 0;  // the processor's retried lake/checkpoint writes
  bool serving_lake_ GUARDED_BY(mu_) = false;
  std::array<std::optional<EventTime>, stream::kOutputTableCount> newest_event_time_
      GUARDED_BY(mu_){};
  WallTime rss_read_at_ GUARDED_BY(mu_){};
  uint64_t rss_ GUARDED_BY(mu_) = 0;
};

// A probe's answer: 200 when ok, 503 otherwise, with a one-line reason as the body.
struct ProbeResult {
  bool ok = false;
  std::string text;  // ends with a newline
};

// Liveness (/healthz): the process should be restarted when not ok. Not ok once the pipeline has
// failed, or while it is starting or running and its loop has not turned (UpdateProgress) for
// `stall_timeout` or longer (a hung member: its Kafka client keeps heartbeating, so the group would
// never hand its partitions on). 0 disables the stall check. A finished or stopped pipeline, and
// `serve`, are alive.
ProbeResult Liveness(const HealthView& h, Micros stall_timeout);

// Readiness (/readyz): the member does its share. Ok while running with at least one partition
// group, each of which has a committed epoch (by this member or by a previous owner it resumed
// from) and is not re-running an epoch after a restart; and for `serve`, always. The text says why
// not, otherwise.
ProbeResult Readiness(const HealthView& h);

}  // namespace smartcity::web
