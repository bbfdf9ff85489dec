// MemoryLog and MemoryEventSource: the EventSource contract over records held in memory.
//
// MemoryLog holds the records of the five topics, `partitions` partitions each. Every appended
// record gets the next SequenceNumber of the log (global over all topics and partitions, as the
// simulator numbers its output), so positions are PositionKind::kSequenceNumber and within a
// partition they increase but have gaps. This is the model of the in-process transport (the
// simulator feeding the processor, resumable from a SequenceNumber) and the fake that processor and
// checkpoint tests run on.
//
// The log does not bound itself; its owner does: Trim() drops the records before given positions
// (`run` drops what the processor's newest checkpoints cover: no reader can ask for those again),
// and bytes() is what the retained records hold, so a producer can wait for room. An entry keeps
// its index across trims (indexes count from the first record ever appended to the partition). A
// reader that is assigned, or seeks, to a position before the trimmed ones gets kNotFound, as a
// Kafka consumer asking for an offset the broker deleted gets an error (auto.offset.reset is
// "error" in KafkaSource).
//
// MemoryEventSource is one reader of a MemoryLog, with an assignment changed by Rebalance() exactly
// as a Kafka group rebalance changes KafkaSource's (revoke, PositionStore, assign; same callbacks),
// a Seek(), and fault injection (FailNextPoll, SetLagUnknown). Poll never waits: with nothing to
// read it returns an empty batch at once. Several sources may share one log to model the members of
// a group.
//
// Ownership: a source borrows its log, store and listener; all must outlive it.
// Thread-safety: none; one thread uses the log and all its sources.
#pragma once

#include <array>
#include <deque>
#include <span>
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
    // A position no reader is given (a Kafka transaction marker, an aborted record): Poll skips it.
    bool control = false;
  };
  // What bytes() counts per record besides its key and value: the entry and its two heap blocks.
  static constexpr uint64_t kEntryOverhead = sizeof(Entry) + 32;

  explicit MemoryLog(int32_t partitions);
  int32_t partitions() const { return partitions_; }
  // Appends a copy of the record; returns its position. REQUIRES: 0 <= partition < partitions().
  SourcePosition Append(Topic topic, PartitionId partition, std::string_view key,
                        std::string_view value, std::optional<WallTime> time = std::nullopt);
  // Appends a control entry (Entry::control): it takes a position, as a transaction marker takes an
  // offset, but no reader sees it.
  SourcePosition AppendControl(Topic topic, PartitionId partition);

  // The retained entries of `tp` are those with index in [begin(tp), end(tp)).
  size_t begin(const TopicPartition& tp) const { return Part(tp).base; }
  size_t end(const TopicPartition& tp) const {
    const PartitionLog& l = Part(tp);
    return l.base + l.entries.size();
  }
  // REQUIRES: begin(tp) <= index < end(tp).
  const Entry& at(const TopicPartition& tp, size_t index) const {
    const PartitionLog& l = Part(tp);
    return l.entries[index - l.base];
  }
  // Index of the first retained entry of `tp` at or after `position` (end(tp) if none).
  size_t LowerBound(const TopicPartition& tp, SourcePosition position) const;
  SequenceNumber next_sequence() const { return next_; }

  // Drops the entries of `tp` before `position`.
  void Trim(const TopicPartition& tp, SourcePosition position);
  // Trim() of each position that is set.
  void Trim(std::span<const PartitionPosition> positions);
  // Entries of `tp` before this position may have been dropped (0: none was).
  SourcePosition trimmed_to(const TopicPartition& tp) const { return Part(tp).trimmed_to; }
  // Bytes the retained records hold: their keys and values plus kEntryOverhead each.
  uint64_t bytes() const { return bytes_; }

 private:
  struct PartitionLog {
    // deque: appending and dropping at the front never move the other entries.
    std::deque<Entry> entries;
    size_t base = 0;  // index of entries.front()
    SourcePosition trimmed_to{0};
  };
  const PartitionLog& Part(const TopicPartition& tp) const {
    return logs_[static_cast<size_t>(tp.topic)][static_cast<size_t>(tp.partition.value())];
  }

  int32_t partitions_;
  SequenceNumber next_{0};
  uint64_t bytes_ = 0;
  std::array<std::vector<PartitionLog>, kTopicCount> logs_;
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
  // While set, Lag() leaves records_behind unset, as a source that cannot reach its transport.
  void SetLagUnknown(bool unknown) { lag_unknown_ = unknown; }

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
  // kNotFound if records of `tp` at or after `start` (nullopt: the beginning) were trimmed.
  Status CheckNotTrimmed(const TopicPartition& tp, std::optional<SourcePosition> start) const;
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
  bool lag_unknown_ = false;
};

}  // namespace smartcity
