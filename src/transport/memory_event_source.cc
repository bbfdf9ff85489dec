#include "transport/memory_event_source.h"

#include <algorithm>
#include <cassert>

namespace smartcity {

MemoryLog::MemoryLog(int32_t partitions) : partitions_(partitions) {
  assert(partitions > 0);
  for (auto& topic : logs_) topic.resize(static_cast<size_t>(partitions));
}

SourcePosition MemoryLog::Append(Topic topic, PartitionId partition, std::string_view key,
                                 std::string_view value, std::optional<WallTime> time) {
  assert(partition.value() >= 0 && partition.value() < partitions_);
  const SequenceNumber seq = next_;
  next_ = SequenceNumber(next_.value() + 1);
  logs_[static_cast<size_t>(topic)][static_cast<size_t>(partition.value())].entries.push_back(
      Entry{seq, std::string(key), std::string(value), time});
  bytes_ += key.size() + value.size() + kEntryOverhead;
  return ToSourcePosition(seq);
}

SourcePosition MemoryLog::AppendControl(Topic topic, PartitionId partition) {
  assert(partition.value() >= 0 && partition.value() < partitions_);
  const SequenceNumber seq = next_;
  next_ = SequenceNumber(next_.value() + 1);
  logs_[static_cast<size_t>(topic)][static_cast<size_t>(partition.value())].entries.push_back(
      Entry{seq, {}, {}, std::nullopt, /*control=*/true});
  bytes_ += kEntryOverhead;
  return ToSourcePosition(seq);
}

size_t MemoryLog::LowerBound(const TopicPartition& tp, SourcePosition position) const {
  const PartitionLog& l = Part(tp);
  const auto it = std::lower_bound(l.entries.begin(), l.entries.end(), ToSequenceNumber(position),
                                   [](const Entry& e, SequenceNumber s) { return e.seq < s; });
  return l.base + static_cast<size_t>(it - l.entries.begin());
}

void MemoryLog::Trim(const TopicPartition& tp, SourcePosition position) {
  PartitionLog& l = const_cast<PartitionLog&>(Part(tp));
  const SequenceNumber before = ToSequenceNumber(position);
  while (!l.entries.empty() && l.entries.front().seq < before) {
    const Entry& e = l.entries.front();
    bytes_ -= e.key.size() + e.value.size() + kEntryOverhead;
    l.trimmed_to = std::max(l.trimmed_to, SourcePosition(ToSourcePosition(e.seq).value() + 1));
    l.entries.pop_front();
    ++l.base;
  }
}

void MemoryLog::Trim(std::span<const PartitionPosition> positions) {
  for (const PartitionPosition& p : positions) {
    if (p.next) Trim(p.tp, *p.next);
  }
}

MemoryEventSource::MemoryEventSource(const MemoryLog& log, PositionStore& store,
                                     RebalanceListener* listener)
    : log_(log), store_(store), listener_(listener) {}

MemoryEventSource::Cursor* MemoryEventSource::FindCursor(const TopicPartition& tp) {
  auto it = std::lower_bound(cursors_.begin(), cursors_.end(), tp,
                             [](const Cursor& c, const TopicPartition& t) { return c.tp < t; });
  return it != cursors_.end() && it->tp == tp ? &*it : nullptr;
}

const MemoryEventSource::Cursor* MemoryEventSource::FindCursor(const TopicPartition& tp) const {
  return const_cast<MemoryEventSource*>(this)->FindCursor(tp);
}

Status MemoryEventSource::CheckNotTrimmed(const TopicPartition& tp,
                                          std::optional<SourcePosition> start) const {
  const SourcePosition trimmed = log_.trimmed_to(tp);
  if (trimmed.value() > 0 && (!start || *start < trimmed)) {
    return Status::NotFound("records of " + ToString(tp, TopicNames{}) + " from position " +
                            std::to_string(start ? start->value() : 0) +
                            " were trimmed from the in-process log (it holds them from " +
                            std::to_string(trimmed.value()) + " on)");
  }
  return Status::OK();
}

Status MemoryEventSource::Rebalance(std::vector<TopicPartition> next, bool lost) {
  if (closed_) return Status::Aborted("the in-memory source is closed");
  batch_.clear();
  std::sort(next.begin(), next.end());
  next.erase(std::unique(next.begin(), next.end()), next.end());
  for (const TopicPartition& tp : next) {
    if (tp.partition.value() < 0 || tp.partition.value() >= log_.partitions()) {
      return Status::InvalidArgument("partition " + std::to_string(tp.partition.value()) +
                                     " does not exist");
    }
  }
  std::vector<TopicPartition> revoked;
  for (const Cursor& c : cursors_) {
    if (!std::binary_search(next.begin(), next.end(), c.tp)) revoked.push_back(c.tp);
  }
  if (!revoked.empty()) {
    ++counters_.revocations;
    if (listener_ != nullptr) listener_->OnPartitionsRevoked(revoked, lost);
    std::erase_if(cursors_, [&](const Cursor& c) {
      return std::binary_search(revoked.begin(), revoked.end(), c.tp);
    });
  }
  std::vector<TopicPartition> added;
  for (const TopicPartition& tp : next) {
    if (FindCursor(tp) == nullptr) added.push_back(tp);
  }
  ++counters_.assignments;
  std::vector<std::optional<SourcePosition>> starts(added.size());
  if (Status s = store_.LoadPositions(added, starts); !s.ok()) {
    sticky_ = s;
    return s;
  }
  for (size_t i = 0; i < added.size(); ++i) {
    if (Status s = CheckNotTrimmed(added[i], starts[i]); !s.ok()) {
      sticky_ = s;
      return s;
    }
  }
  std::vector<PartitionPosition> positions;
  for (size_t i = 0; i < added.size(); ++i) {
    Cursor c{added[i], log_.begin(added[i]), starts[i]};
    if (starts[i]) c.index = log_.LowerBound(added[i], *starts[i]);
    cursors_.push_back(c);
    positions.push_back({added[i], starts[i]});
  }
  std::sort(cursors_.begin(), cursors_.end(),
            [](const Cursor& a, const Cursor& b) { return a.tp < b.tp; });
  if (listener_ != nullptr) listener_->OnPartitionsAssigned(positions);
  return Status::OK();
}

Status MemoryEventSource::AssignPartitions(int32_t first, int32_t last) {
  std::vector<TopicPartition> tps;
  for (Topic t : kAllTopics) {
    for (int32_t p = first; p <= last; ++p) tps.push_back({t, PartitionId(p)});
  }
  return Rebalance(std::move(tps));
}

Result<std::span<const SourceRecord>> MemoryEventSource::Poll(size_t max_records,
                                                              std::chrono::milliseconds) {
  batch_.clear();
  if (closed_) return Status::Aborted("the in-memory source is closed");
  if (!sticky_.ok()) return sticky_;
  if (!fail_next_.ok()) {
    Status s = std::move(fail_next_);
    fail_next_ = Status::OK();
    return s;
  }
  if (max_records == 0) return Status::InvalidArgument("Poll needs room for at least one record");
  ++counters_.polls;
  // Merge the owned partitions by sequence number: the order the simulator produced them in.
  for (Cursor& c : cursors_) {
    if (c.index >= log_.begin(c.tp)) continue;
    // Entries were trimmed under the cursor: fine if they were all before its position (a
    // regenerated log's catch-up), a bug of the log's owner otherwise.
    if (Status s = CheckNotTrimmed(c.tp, c.position); !s.ok()) {
      sticky_ = Status::Internal(s.message() + ", before this reader read them");
      return sticky_;
    }
    c.index = log_.begin(c.tp);
  }
  while (batch_.size() < max_records) {
    Cursor* best = nullptr;
    for (Cursor& c : cursors_) {
      const size_t end = log_.end(c.tp);
      // Entries before the cursor's position were consumed already; they may have been appended
      // after the position was set (a log that is regenerated after a restart), so skip them here.
      while (c.position && c.index < end &&
             log_.at(c.tp, c.index).seq.value() < static_cast<uint64_t>(c.position->value())) {
        ++c.index;
      }
      if (c.paused) continue;
      // Control entries are passed, not returned; the position stays after the last record (as
      // KafkaSource's does), and Lag() counts what is passed as read.
      while (c.index < end && log_.at(c.tp, c.index).control) ++c.index;
      if (c.index >= end) continue;
      if (best == nullptr || log_.at(c.tp, c.index).seq < log_.at(best->tp, best->index).seq)
        best = &c;
    }
    if (best == nullptr) break;
    const MemoryLog::Entry& e = log_.at(best->tp, best->index++);
    SourceRecord& r = batch_.emplace_back();
    r.topic = best->tp.topic;
    r.partition = best->tp.partition;
    r.position = ToSourcePosition(e.seq);
    r.key = e.key;
    r.value = e.value;
    r.source_time = e.time;
    best->position = SourcePosition(r.position.value() + 1);
    const auto t = static_cast<size_t>(r.topic);
    ++counters_.records[t];
    counters_.bytes[t] += r.key.size() + r.value.size();
  }
  if (batch_.empty()) ++counters_.empty_polls;
  return std::span<const SourceRecord>(batch_);
}

std::vector<TopicPartition> MemoryEventSource::Assignment() const {
  std::vector<TopicPartition> out;
  for (const Cursor& c : cursors_) out.push_back(c.tp);
  return out;
}

std::vector<PartitionPosition> MemoryEventSource::Positions() const {
  std::vector<PartitionPosition> out;
  for (const Cursor& c : cursors_) out.push_back({c.tp, c.position});
  return out;
}

Status MemoryEventSource::Seek(std::span<const PartitionPosition> positions) {
  if (closed_) return Status::Aborted("the in-memory source is closed");
  for (const PartitionPosition& p : positions) {
    if (FindCursor(p.tp) == nullptr) {
      return Status::InvalidArgument("cannot seek " + ToString(p.tp, TopicNames{}) +
                                     ": this member does not own it");
    }
  }
  for (const PartitionPosition& p : positions) {
    SC_RETURN_IF_ERROR(CheckNotTrimmed(p.tp, p.next));
  }
  for (const PartitionPosition& p : positions) {
    Cursor* c = FindCursor(p.tp);
    c->position = p.next;
    c->index = p.next ? log_.LowerBound(p.tp, *p.next) : log_.begin(p.tp);
  }
  return Status::OK();
}

Status MemoryEventSource::SetPaused(std::span<const TopicPartition> partitions, bool paused) {
  if (closed_) return Status::Aborted("the in-memory source is closed");
  for (const TopicPartition& tp : partitions) {
    if (FindCursor(tp) == nullptr) {
      return Status::InvalidArgument("cannot " + std::string(paused ? "pause " : "resume ") +
                                     ToString(tp, TopicNames{}) + ": this member does not own it");
    }
  }
  for (const TopicPartition& tp : partitions) FindCursor(tp)->paused = paused;
  return Status::OK();
}

Status MemoryEventSource::Pause(std::span<const TopicPartition> partitions) {
  return SetPaused(partitions, true);
}
Status MemoryEventSource::Resume(std::span<const TopicPartition> partitions) {
  return SetPaused(partitions, false);
}

std::vector<PartitionLag> MemoryEventSource::Lag() {
  std::vector<PartitionLag> out;
  for (const Cursor& c : cursors_) {
    const size_t end = log_.end(c.tp);
    const size_t next =
        std::max({c.index, log_.begin(c.tp), c.position ? log_.LowerBound(c.tp, *c.position) : 0});
    PartitionLag lag{c.tp, c.position, std::nullopt, static_cast<int64_t>(end - next)};
    if (lag_unknown_) lag.records_behind.reset();
    if (end > log_.begin(c.tp)) {
      lag.end = SourcePosition(ToSourcePosition(log_.at(c.tp, end - 1).seq).value() + 1);
    } else if (log_.trimmed_to(c.tp).value() > 0) {
      lag.end = log_.trimmed_to(c.tp);  // every record was trimmed: the end is after the last
    }
    out.push_back(lag);
  }
  return out;
}

Status MemoryEventSource::Close() {
  if (closed_) return Status::OK();
  batch_.clear();
  if (!cursors_.empty()) {
    ++counters_.revocations;
    if (listener_ != nullptr) listener_->OnPartitionsRevoked(Assignment(), /*lost=*/false);
    cursors_.clear();
  }
  closed_ = true;
  return Status::OK();
}

}  // namespace smartcity
