// KafkaSource: an EventSource that is one member of a Kafka consumer group reading the five topics
// (docs/kafka_source.md).
//
//  - Assignment: the `range` assignor, eager protocol. With every topic at the same partition count
//    and every member subscribed to the same topics, range gives each member the same partition
//    numbers of every topic: partition p of all five topics lives in one member, so one member sees
//    every event of a vehicle (co-partitioning). Open() refuses topics whose partition counts
//    differ, and every assignment is checked: one that is not co-partitioned is declined while
//    the member rejoins (a leader's metadata behind a topic just created), and stops the source if
//    the group's assignments stay so for connect_timeout.
//  - Offsets: enable.auto.commit=false, enable.auto.offset.store=false. Start positions come from
//  the
//    PositionStore on every assignment; a partition with no checkpoint starts at the earliest
//    retained offset, never at a group offset committed in Kafka. auto.offset.reset=error: a
//    checkpointed offset that Kafka no longer has (retention, topic recreated) is an error, never a
//    silent skip.
//  - Reads: rd_kafka_consumer_poll in a loop filling a batch up to N records or a timeout; the
//    librdkafka messages are kept until the next Poll so keys and values are borrowed, not copied.
//  - Transactions: isolation.level=read_committed. Records of aborted transactions never reach
//    Poll, nor do the control records (commit/abort markers) that end every transaction; they still
//    take offsets, so a partition whose last write was a marker ends after the last record Poll can
//    return. enable.partition.eof=true: librdkafka says when its fetch reached the end of a
//    partition, and everything between the last record returned and that end is known to hold no
//    record (EndReached), so Lag() counts such a partition as caught up (docs/kafka_source.md).
//  - Failures: Open() waits a bounded time for the cluster and the topics; Poll() reports an
//    unreachable cluster after `unavailable_timeout` (kUnavailable, retryable) instead of blocking.
//    From the first connection error until a round trip to the cluster succeeds again, the lag is
//    unknown (Lag() leaves records_behind unset): ends seen before the outage say nothing about
//    now.
//
// Ownership: owns the librdkafka consumer handle; `store` and `listener` are borrowed and must
// outlive the source. Thread-safety: one thread (EventSource contract); callbacks run on it inside
// Poll/Close.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/retry.h"
#include "transport/event_source.h"
#include "transport/kafka_client.h"

namespace smartcity {

struct KafkaSourceOptions {
  KafkaOptions kafka;  // bootstrap servers, client id, topic names, extra -X properties
  std::string group_id = "smartcity-stream";
  // The streams to read; all five by default. Co-partitioning is required among these.
  std::vector<Topic> topics{kAllTopics.begin(), kAllTopics.end()};
  // How long Open() waits for the cluster to answer and for the topics to exist.
  std::chrono::milliseconds connect_timeout{10'000};
  // How long the cluster may be unreachable before Poll() reports it (kUnavailable).
  std::chrono::milliseconds unavailable_timeout{30'000};
  // Bound on Close(): revoking, leaving the group.
  std::chrono::milliseconds close_timeout{10'000};
  // Bound on a Seek() and on QueryLag() round trips.
  std::chrono::milliseconds request_timeout{10'000};
  // Time for the deadlines above and Open()'s waits (borrowed); null: Clock::Real(). librdkafka's
  // own waits (a poll's timeout) are real time whatever the clock.
  Clock* clock = nullptr;
  // Bytes of prefetched records the consumer may hold (librdkafka's queue plus the fetch in
  // flight; see PrefetchProperties). 0: the measured defaults, ~112 MiB. -X properties win.
  uint64_t max_prefetch_bytes = 0;
  // Failover (docs/kafka_source.md, "Failover"). session.timeout.ms: how long the group waits for
  // a member that stopped heart-beating (it crashed) before it hands its partitions on; lower than
  // the client's default of 45 s. Heart-beats come from librdkafka's own thread, so a long commit
  // does not end a session.
  std::chrono::milliseconds session_timeout{10'000};
  // group.instance.id (static membership): a member restarted with the same id within the session
  // timeout gets its partitions back at once, with no rebalance; but a member that stops keeps its
  // partitions, unread, until the session timeout (it does not leave the group). "" = dynamic
  // membership. Each member of a group needs its own (a second process with the same id fences
  // the first). -X properties win.
  std::string instance_id;
  // Keys that are not the device id (docs/kafka_source.md): when true, the member also reads the
  // repartition topics of the join inputs among `topics` (RepartitionTopicName), creating them with
  // the topics' partition count (and replication) if they do not exist, co-partitioned with them.
  bool repartition = false;
  // Wakes librdkafka's fetcher when the prefetch queue runs low with records still to fetch
  // (docs/kafka_source.md, "Waking the fetcher"): a ListOffsets request to the partition's leader
  // from a thread of the source's own. False only for tests that count the requests a call makes.
  bool wake_fetcher = true;
};

// The header a forwarded record carries: where it was first read, "<partition>:<offset>".
inline constexpr char kRepartitionOriginHeader[] = "smartcity-origin";

// The join inputs' internal topics: "<group>-repartition-<topic>".
std::string RepartitionTopicName(std::string_view group_id, std::string_view topic);
// Whether a topic is a join input (vehicle, weather, emergency): only these are repartitioned.
constexpr bool IsJoinInputTopic(Topic t) {
  return t == Topic::kVehicle || t == Topic::kWeather || t == Topic::kEmergency;
}

// What a PARTITION_EOF tells a read_committed consumer: its fetch reached offset `at` (the end of
// the partition: the last stable offset), and the last record Poll took from that partition before
// it ends at `after` (the position after it; unset: none since the start of the log). So the
// offsets [after, at) hold nothing Poll would return: transaction markers and aborted records.
struct EndReached {
  std::optional<SourcePosition> after;
  SourcePosition at;
};

// Records a member at `position` (unset: at the earliest retained offset `low`, -1 when unknown)
// has left to read in a partition that ends at `end`, seeing through what `reached` covers: a
// position in [reached->after, reached->at] counts as at `at`. Unset when it cannot be told
// (position and `low` unknown). Control records before the last record returned are not counted
// apart: they are passed once that record is read.
std::optional<int64_t> RecordsBehind(std::optional<SourcePosition> position, int64_t low,
                                     int64_t end, const std::optional<EndReached>& reached);

// The librdkafka fetch and queue properties that keep prefetched records within `bytes`
// (max.partition.fetch.bytes, fetch.max.bytes, queued.max.messages.kbytes): the client holds
// several times its limits, so they are about a third of `bytes`; 0: the measured defaults for
// speed.
std::vector<std::pair<std::string, std::string>> PrefetchProperties(uint64_t bytes);

class FetchWaker;

// How an assignment covers the subscribed topics (one set of partition numbers per topic): the same
// numbers in every topic (none at all too: more members than partitions), some topics with none
// and the same numbers in the others (a group leader whose metadata lacked those topics), or
// anything else (split).
enum class CoPartitioning { kWhole, kTopicsMissing, kSplit };
CoPartitioning CheckCoPartitioning(std::span<const std::set<int32_t>> partitions);

class KafkaSource final : public EventSource {
 public:
  // Connects, checks that the topics exist with equal partition counts, and subscribes. Partitions
  // arrive in a later Poll (after the group's join round), through `store` and `listener`.
  // `listener` may be null. Errors: kInvalidArgument (bad option/property, topics with different
  // partition counts), kNotFound (a topic is missing), kUnavailable/kTimeout (cluster unreachable).
  static Result<std::unique_ptr<KafkaSource>> Open(const KafkaSourceOptions& options,
                                                   PositionStore& store,
                                                   RebalanceListener* listener);
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  PositionKind position_kind() const override { return PositionKind::kKafkaOffset; }
  Result<std::span<const SourceRecord>> Poll(size_t max_records,
                                             std::chrono::milliseconds timeout) override;
  std::vector<TopicPartition> Assignment() const override;
  std::vector<PartitionPosition> Positions() const override;
  Status Seek(std::span<const PartitionPosition> positions) override;
  Status Pause(std::span<const TopicPartition> partitions) override;
  Status Resume(std::span<const TopicPartition> partitions) override;
  std::vector<PartitionLag> Lag() override;
  const SourceCounters& counters() const override { return counters_; }
  Status PublishPositions() override;
  Status Close() override;
  std::string Describe() const override;

  // Lag from a fresh round trip to each partition's leader (Lag() uses the ends last seen); the end
  // is the last stable offset (read_committed).
  Result<std::vector<PartitionLag>> QueryLag() override;
  // The number of partitions each subscribed topic had at Open().
  int32_t partition_count() const { return partition_count_; }
  // This member's id in the group ("" before the first join).
  std::string member_id() const;

 private:
  struct PartitionState {
    bool owned = false;
    bool paused = false;
    std::optional<SourcePosition> delivered;  // after the last record returned by Poll
    std::optional<SourcePosition> fetched;  // after the last record put into the batch being built
    std::optional<EndReached> reached;      // the last PARTITION_EOF while owned
  };

  KafkaSource(KafkaSourceOptions options, PositionStore& store, RebalanceListener* listener);
  Status Start();
  Status CheckTopics();
  static void RebalanceTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void ErrorTrampoline(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  // The error a fatal client error `err` (with librdkafka's reason) becomes.
  Status FatalStatus(rd_kafka_resp_err_t err, const char* reason) const;
  static void CommitTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* offsets, void* opaque);
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void Assign(rd_kafka_topic_partition_list_t* partitions);
  void Revoke(rd_kafka_topic_partition_list_t* partitions, bool lost);
  // Drops the not-yet-returned records of the given partitions from the batch being built.
  void DropPending(const std::vector<TopicPartition>& tps);
  void ReleaseBatch();
  // Handles a message that carries an error; a non-OK result stops the source.
  Status OnMessageError(const rd_kafka_message_t* m);
  // The error for a failed look-up of where an owned partition read from its beginning begins
  // (__AUTO_OFFSET_RESET, unknown topic or partition); nullopt if the partition had a position.
  std::optional<Status> BeginningNotFound(const rd_kafka_message_t* m, const std::string& where,
                                          const std::string& detail) const;
  // A PARTITION_EOF of an owned, unpaused partition: records its EndReached.
  void OnEndReached(const rd_kafka_message_t* m);
  // When the prefetch queue has run low while an owned partition has records not yet fetched:
  // has the fetcher look again now (FetchWaker in kafka_source.cc), at most one request at a time.
  void WakeFetcherIfLow();
  // Stops the waker and lets go of the consumer queue (before the client is destroyed).
  void StopWaker();
  // The topic (and whether it is a repartition topic) of a message's topic handle or a name;
  // partition 0.
  std::optional<TopicPartition> TopicOf(rd_kafka_topic_t* rkt);
  std::optional<TopicPartition> Lookup(std::string_view name) const;
  const std::string& NameOf(const TopicPartition& tp) const;
  // The subscribed (topic, repartition) pairs, partition 0.
  std::vector<TopicPartition> Subscribed() const;
  // Creates the missing repartition topics (Start(), after CheckTopics()); returns their names
  // (with those another member created at the same moment).
  Result<std::vector<std::string>> EnsureRepartitionTopics();
  // Waits until this consumer's own metadata answers list every repartition topic with all its
  // partitions, several times in a row: on a multi-broker cluster a broker learns of a topic just
  // created a little after the one that answered the admin request, and a group assignment made
  // from its answer leaves the topic out (Assign() then declines the assignment and rejoins). For
  // the topics just `created`, also until every partition's leader answers where it begins.
  Status WaitForRepartitionMetadata(const std::vector<std::string>& created);
  // An assignment that is not co-partitioned (`why`): almost always assigned from metadata that
  // has not caught up with a topic just created (or a broker behind), not a set-up error. Takes
  // nothing, tells the owner nothing, and schedules a rejoin (RejoinIfDue) with backoff; one
  // declined when connect_timeout has passed since the first of the row stops the source (`why`).
  void DeclineAssignment(const Status& why);
  // Stops the source with the last declined assignment's reason.
  void StopDeclining();
  // Subscribes again when a rejoin is due: a new generation, assigned from fresh metadata.
  void RejoinIfDue();
  // Subscribes to every topic read (a new subscription rejoins the group).
  Status Subscribe();
  static size_t Slot(const TopicPartition& tp) {
    return static_cast<size_t>(tp.topic) + (tp.repartition ? kTopicCount : 0);
  }
  std::vector<TopicPartition> ToTopicPartitions(const rd_kafka_topic_partition_list_t* list) const;
  PartitionState& State(const TopicPartition& tp);
  const PartitionState* FindState(const TopicPartition& tp) const;
  Status CheckReachable();
  // While the cluster looks unreachable: at most once per kProbeEvery, a round trip of at most
  // `wait`; an answer clears unreachable_since_ (the lag is known again).
  void Probe(std::chrono::milliseconds wait);
  // Checks that every partition is owned; builds the librdkafka list of them.
  Result<RdKafkaPartitionListPtr> OwnedList(std::span<const TopicPartition> partitions,
                                            std::string_view what) const;

  KafkaSourceOptions options_;
  Clock* const clock_;
  PositionStore& store_;
  RebalanceListener* listener_;
  RdKafkaPtr rk_;
  int32_t partition_count_ = 0;
  bool closed_ = false;
  bool closing_ = false;  // inside Close(): assignments are declined
  Status sticky_;         // first fatal error; every later Poll returns it
  // Per topic (Slot: the five, then their repartition topics), indexed by partition number; grows
  // if partitions are added.
  std::array<std::vector<PartitionState>, 2 * kTopicCount> parts_;
  std::array<std::string, kTopicCount> repartition_names_;  // "" unless read
  std::vector<std::pair<rd_kafka_topic_t*, TopicPartition>> topic_cache_;
  // The batch: records_[i] borrows from messages_[i].
  std::vector<SourceRecord> records_;
  std::vector<rd_kafka_message_t*> messages_;
  SourceCounters counters_;
  // Set by the first connection error; cleared only by a round trip that succeeds (records served
  // from the prefetch queue say nothing about the cluster now).
  std::optional<ProcessingTime> unreachable_since_;
  std::optional<ProcessingTime> last_probe_;
  // Wakes librdkafka's fetcher (see WakeFetcherIfLow); stopped before the client is destroyed.
  std::unique_ptr<FetchWaker> waker_;
  rd_kafka_queue_t* consumer_queue_ = nullptr;  // the queue Poll reads; its length tells how low
  uint64_t queue_limit_bytes_ = 0;              // queued.max.messages.kbytes as configured
  size_t wake_cursor_ = 0;                      // the partition to wake through next (round robin)
  std::optional<ProcessingTime> last_wake_;
  uint64_t commit_failures_ = 0;
  // Declined assignments (DeclineAssignment): the attempts since the first of a row, when the next
  // rejoin is due, the rejoins made, and why the last assignment was declined.
  RetryPolicy rejoin_policy_;
  std::optional<RetryPolicy::Attempts> rejoin_attempts_;
  std::optional<ProcessingTime> rejoin_at_;
  int rejoins_ = 0;
  Status declined_;
  ProcessingTime subscribed_at_{};  // when Start() subscribed
};

}  // namespace smartcity
