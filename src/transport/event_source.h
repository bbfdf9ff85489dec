// EventSource: where the stream processor reads the five event streams from. Two implementations:
// KafkaSource (a member of a Kafka consumer group) and an in-process source (the simulator feeding
// the processor directly); MemoryEventSource is an in-memory one for tests.
//
// The model is Kafka's: each topic has partitions, the source owns some of them (its assignment),
// and in each owned partition it stands at a position (the next record it will return). Positions
// are the processor's business, not the source's: they come from the processor's own checkpoint
// when a partition is assigned (PositionStore), and the processor records Positions() in its
// checkpoint. Nothing is committed automatically anywhere.
//
// Poll() returns a batch of records as borrowed views: the span and every key/value in it stay
// valid until the next Poll() or Close() on the same source (Seek, Pause and Resume leave it
// valid), and building a batch allocates nothing per record.
//
// Rebalances (the assignment changing) happen only inside Poll() and Close(), on the caller's
// thread:
//   1. RebalanceListener::OnPartitionsRevoked(partitions, lost): the partitions are about to go.
//   Every
//      record returned by earlier Polls for them counts as consumed and Positions() still lists
//      them, so the owner can checkpoint them now. A record the source had fetched but not yet
//      returned is dropped (the next owner reads it). Once the call returns the partitions are
//      gone.
//   2. PositionStore::LoadPositions(partitions): where to start each newly assigned partition.
//   3. RebalanceListener::OnPartitionsAssigned(positions): the new partitions and where they start.
// A PositionStore error stops the source: Poll returns it, and the owner should Close() and exit
// (its partitions then go to another member).
//
// Thread-safety: a source and its callbacks are used by one thread (the one that calls Poll).
#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/named_type.h"
#include "common/status.h"
#include "common/time.h"
#include "transport/message.h"

namespace smartcity {

// One partition of one of the five topics, or (repartition = true) of the internal repartition
// topic of a join input (vehicle, weather, emergency; docs/kafka_source.md, "Keys that are not the
// device id"): records of `topic` forwarded there, keyed by deviceId, by the member that read them
// on a partition their device does not belong to.
struct TopicPartition {
  Topic topic = Topic::kVehicle;
  PartitionId partition{0};
  bool repartition = false;
  auto operator<=>(const TopicPartition&) const = default;
};
// "vehicle_data[3]", "repartition:vehicle_data[3]".
std::string ToString(const TopicPartition& tp, const TopicNames& names);

// A position within one partition of a source: the position of the next record to read (Kafka's
// committed-offset convention: last consumed + 1). What the number means depends on the source:
enum class PositionKind : uint8_t {
  kKafkaOffset,     // a Kafka offset in that partition (KafkaSource)
  kSequenceNumber,  // the simulator's SequenceNumber, global over all streams (in-process sources)
};
using SourcePosition = NamedType<int64_t, struct SourcePositionTag>;

inline SourcePosition ToSourcePosition(KafkaOffset o) {
  return SourcePosition(o.value());
}
inline KafkaOffset ToKafkaOffset(SourcePosition p) {
  return KafkaOffset(p.value());
}
// REQUIRES: s < 2^63 (the simulator would need ~300 years at 10^9 events/s to get there).
inline SourcePosition ToSourcePosition(SequenceNumber s) {
  return SourcePosition(static_cast<int64_t>(s.value()));
}
inline SequenceNumber ToSequenceNumber(SourcePosition p) {
  return SequenceNumber(static_cast<uint64_t>(p.value()));
}

// One record as Poll() returns it. key and value are borrowed (see the file comment).
struct SourceRecord {
  Topic topic = Topic::kVehicle;
  PartitionId partition{0};
  SourcePosition position{0};  // this record's own position; the partition moves on to position + 1
  std::string_view key;        // deviceId (may be empty)
  std::string_view value;      // the JSON payload as produced, possibly malformed
  // The transport's timestamp (Kafka: CreateTime or LogAppendTime); unset when the transport has
  // none.
  std::optional<WallTime> source_time;
  // A record of a repartition topic (TopicPartition::repartition): `partition` and `position` are
  // where it stands in the repartition topic, `origin_*` where it was first read in `topic`.
  bool repartition = false;
  PartitionId origin_partition{0};
  SourcePosition origin_position{0};
};

// Where a member sends the join-input records it read on a partition their device does not belong
// to: the repartition topic of their input, partition `to` (the device's). Forward() may buffer;
// Flush() returns once everything forwarded so far is stored (acknowledged), or the first error.
// Records forwarded to one partition are stored in the order of the Forward() calls.
class RecordForwarder {
 public:
  virtual ~RecordForwarder() = default;
  virtual Status Forward(Topic topic, PartitionId to, std::string_view device_id,
                         std::string_view value, PartitionId origin_partition,
                         SourcePosition origin_position) = 0;
  virtual Status Flush() = 0;
};

// Where the source stands in one owned partition. `next` is unset when nothing has been read from
// the partition and no start position was given: reading starts at the earliest record still
// retained.
struct PartitionPosition {
  TopicPartition tp;
  std::optional<SourcePosition> next;
  bool operator==(const PartitionPosition&) const = default;
};

// How far behind the end of a partition this member is.
struct PartitionLag {
  TopicPartition tp;
  std::optional<SourcePosition> position;  // as in PartitionPosition
  std::optional<SourcePosition> end;  // high watermark (position after the last record), if known
  // end - position (end - earliest when position is unset), 0 once nothing the source would return
  // is left: positions taken by records it never returns (Kafka's transaction markers and aborted
  // records) do not count once the source has read up to the end. Unset when unknown: the end or
  // the position is not known, or the transport cannot be reached (an end seen before an outage
  // says nothing about now). Unknown is never "caught up".
  std::optional<int64_t> records_behind;
};

// Counters since the source was opened; throughput is their rate (the caller samples them over
// time).
struct SourceCounters {
  std::array<uint64_t, kTopicCount> records{};  // records returned by Poll, per topic
  std::array<uint64_t, kTopicCount> bytes{};    // key + value bytes returned, per topic
  uint64_t polls = 0;                           // Poll calls
  uint64_t empty_polls = 0;                     // Polls that returned no record
  uint64_t assignments = 0;                     // rebalances that assigned partitions (even none)
  uint64_t revocations = 0;                     // rebalances that took partitions away
  uint64_t stale_dropped = 0;         // fetched records dropped (revoked, or before a seek)
  uint64_t transport_errors = 0;      // transient errors the client recovers from itself
  uint64_t repartition_records = 0;   // records returned from repartition topics (not in records)
  uint64_t fetch_wakeups = 0;         // Kafka: the fetcher woken with its prefetch queue low
  uint64_t declined_assignments = 0;  // Kafka: not co-partitioned (metadata behind), declined
  uint64_t TotalRecords() const;
  uint64_t TotalBytes() const;
};

// Where newly assigned partitions start: the processor's checkpoint.
class PositionStore {
 public:
  virtual ~PositionStore() = default;
  // Fills out[i] with the checkpointed position of partitions[i], or leaves it unset when there is
  // no checkpoint for it (then reading starts at the earliest retained record). REQUIRES:
  // out.size() == partitions.size(), every element of out unset on entry. An error stops the source
  // (Poll returns it).
  virtual Status LoadPositions(std::span<const TopicPartition> partitions,
                               std::span<std::optional<SourcePosition>> out) = 0;
};

// Told about assignment changes, inside Poll()/Close() (see the file comment for the order).
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // The partitions are about to be taken away. When `lost` is false, checkpoint them now (the next
  // owner starts from that checkpoint). When `lost` is true the group has already given them to
  // another member (this one missed its session timeout): do not checkpoint them, drop their
  // uncheckpointed work.
  virtual void OnPartitionsRevoked(std::span<const TopicPartition> partitions, bool lost) = 0;
  // The partitions were assigned and will be read from the given positions.
  virtual void OnPartitionsAssigned(std::span<const PartitionPosition> positions) = 0;
};

// A PositionStore with no checkpoint at all: everything starts at the earliest record.
class EarliestPositions final : public PositionStore {
 public:
  Status LoadPositions(std::span<const TopicPartition>,
                       std::span<std::optional<SourcePosition>>) override {
    return Status::OK();
  }
};

class EventSource {
 public:
  virtual ~EventSource() = default;

  virtual PositionKind position_kind() const = 0;

  // Waits at most `timeout` for the first record, then returns up to `max_records` records that are
  // ready, in order within each partition. An empty span means nothing arrived in time.
  // REQUIRES: max_records > 0.
  // Errors: kUnavailable/kTimeout (the transport has been unreachable too long; retrying can help),
  // kNotFound (a topic went away), kCorruption (a start position is not in the log any more:
  // records were lost to retention), kInvalidArgument (topics not co-partitioned), the
  // PositionStore's error.
  virtual Result<std::span<const SourceRecord>> Poll(size_t max_records,
                                                     std::chrono::milliseconds timeout) = 0;

  // The partitions this source owns now, sorted.
  virtual std::vector<TopicPartition> Assignment() const = 0;
  // Positions of the owned partitions, sorted: just after the last record returned by Poll.
  virtual std::vector<PartitionPosition> Positions() const = 0;
  // Moves owned partitions to the given positions (unset: the earliest record); the next Poll reads
  // from there. Partitions not owned are an error (kInvalidArgument).
  virtual Status Seek(std::span<const PartitionPosition> positions) = 0;

  // Stops returning records of the given owned partitions until Resume(); their positions stay put.
  // For replaying an epoch exactly: a partition that reached its recorded end waits while the other
  // partitions of its group catch up. Pausing is forgotten when a partition is revoked.
  virtual Status Pause(std::span<const TopicPartition> partitions) = 0;
  // Reading continues at the partitions' positions.
  virtual Status Resume(std::span<const TopicPartition> partitions) = 0;

  // Lag of every owned partition, from the latest known end of each partition (no network round
  // trip).
  virtual std::vector<PartitionLag> Lag() = 0;
  // Lag from ends read now (Kafka: a round trip to each partition's leader), for decisions that
  // must not rest on an end seen earlier (a bounded run stopping). Errors: the transport's
  // (kUnavailable, kTimeout). Sources that always know their ends return Lag().
  virtual Result<std::vector<PartitionLag>> QueryLag() { return Lag(); }
  virtual const SourceCounters& counters() const = 0;

  // Tells monitoring tools where this member stands (Kafka: commits Positions() as the group's
  // offsets, so kafka-consumer-groups.sh shows lag). Never read back by the source: call it after
  // your own checkpoint, or not at all.
  virtual Status PublishPositions() { return Status::OK(); }

  // Gives up the assignment (OnPartitionsRevoked runs with lost = false) and leaves the group,
  // waiting a bounded time. After Close, Poll fails. REQUIRES: every record returned so far was
  // processed (the revocation counts them as consumed).
  virtual Status Close() = 0;

  // "kafka 127.0.0.1:9092 group smartcity-stream", "in-process".
  virtual std::string Describe() const = 0;
};

}  // namespace smartcity
