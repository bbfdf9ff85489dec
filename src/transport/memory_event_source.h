// MemoryLog and MemoryEventSource: the EventSource contract over records held in memory.
//
// MemoryLog holds the records of the five topics, `partitions` partitions each. Every appended
// record gets the next SequenceNumber of the log (global over all topics and partitions, as the
// simulator numbers its output), so positions are PositionKind::kSequenceNumber and within a
// partition they increase but have gaps. This is the model of the in-process transport (the
// simulator feeding the processor, resumable from a SequenceNumber) and the fake that processor and
// checkpoint tests run on.
//
// MemoryEventSource is one reader of a MemoryLog, with an assignment changed by Rebalance() exactly
// as a Kafka group rebalance changes KafkaSource's (revoke, PositionStore, assign; same callbacks),
// a Seek(), and fault injection (FailNextPoll). Poll never waits: with nothing to read it returns
// an empty batch at once. Several sources may share one log to model the members of a group.
//
// Ownership: a source borrows its log, store and listener; all must outlive it.
// Thread-safety: none; one thread uses the log and all its sources.
#pragma once

#include <array>
#include <deque>
#include <string>
#include <vector>

#include "transport/event_source.h"

namespace smartcity {

class MemoryLog {
 public:
  struct Entry {
    SequenceNumber seq;
    std::string key;
    std::string value;
    std::optional<WallTime> time;  // wall-clock time it was appended (like Kafka's CreateTime)
  };

  explicit MemoryLog(int32_t partitions);
  int32_t partitions() const { return partitions_; }
  // Appends a copy of the record; returns its position. REQUIRES: 0 <= partition < partitions().
  SourcePosition Append(Topic topic, PartitionId partition, std::string_view key,
                        std::string_view value, std::optional<WallTime> time = std::nullopt);
  const std::deque<Entry>& Partition(const TopicPartition& tp) const;
  // Index of the first entry of `tp` at or after `position` (Partition(tp).size() if none).
  size_t LowerBound(const TopicPartition& tp, SourcePosition position) const;
  SequenceNumber next_sequence() const { return next_; }

 private:
  int32_t partitions_;
  SequenceNumber next_{0};
  // deque: appending never moves existing entries, so borrowed views stay valid.
  std::array<std::vector<std::deque<Entry>>, kTopicCount> logs_;
};

class MemoryEventSource final : public EventSource {
 public:
  MemoryEventSource(const MemoryLog& log, PositionStore& store, RebalanceListener* listener);

  // Moves to the assignment `next`: partitions not in it are revoked (OnPartitionsRevoked with
  // `lost`), partitions new in it get their start from the store and are announced
  // (OnPartitionsAssigned). A store error is returned here and by every later Poll (as KafkaSource
  // does).
  Status Rebalance(std::vector<TopicPartition> next, bool lost = false);
  // Convenience: all five topics, partitions [first, last] (co-partitioned, as `range` assigns
  // them).
  Status AssignPartitions(int32_t first, int32_t last);
  // The next Poll fails with `status` (once), e.g. to test the caller's retry path.
  void FailNextPoll(Status status) { fail_next_ = std::move(status); }

  PositionKind position_kind() const override { return PositionKind::kSequenceNumber; }
  Result<std::span<const SourceRecord>> Poll(size_t max_records,
                                             std::chrono::milliseconds timeout) override;
  std::vector<TopicPartition> Assignment() const override;
  std::vector<PartitionPosition> Positions() const override;
  Status Seek(std::span<const PartitionPosition> positions) override;
  Status Pause(std::span<const TopicPartition> partitions) override;
  Status Resume(std::span<const TopicPartition> partitions) override;
  std::vector<PartitionLag> Lag() override;
  const SourceCounters& counters() const override { return counters_; }
  Status Close() override;
  std::string Describe() const override { return "in-memory"; }

 private:
  struct Cursor {
    TopicPartition tp;
    size_t index = 0;                        // next entry to return
    std::optional<SourcePosition> position;  // after the last returned record (or the start given)
    bool paused = false;
  };
  Cursor* FindCursor(const TopicPartition& tp);
  const Cursor* FindCursor(const TopicPartition& tp) const;
  Status SetPaused(std::span<const TopicPartition> partitions, bool paused);

  const MemoryLog& log_;
  PositionStore& store_;
  RebalanceListener* listener_;
  std::vector<Cursor> cursors_;  // sorted by tp
  std::vector<SourceRecord> batch_;
  SourceCounters counters_;
  Status sticky_;
  Status fail_next_;
  bool closed_ = false;
};

}  // namespace smartcity
