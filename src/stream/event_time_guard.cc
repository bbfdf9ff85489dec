#include "stream/event_time_guard.h"

#include <algorithm>
#include <utility>

#include "stream/state_codec.h"

namespace smartcity::stream {

namespace {
constexpr uint32_t kGuardMagic = 0x47454353;  // "SCEG"
constexpr uint32_t kGuardVersion = 1;
}  // namespace

EventTimeGuard::EventTimeGuard(EventTimeGuardOptions options) : options_(options) {}

void EventTimeGuard::Quarantine(size_t input, GuardedRecord record, int64_t reference,
                                std::string_view why, std::vector<QuarantinedRecord>* quarantined) {
  const int64_t ts = record.event_time.time_since_epoch().count();
  const bool ahead = ts > reference;
  std::string reason(kImplausibleEventTimeReason);
  reason += ' ';
  reason += FormatTimestamp(record.event_time);
  reason += ": ";
  reason += FormatDuration(Micros(ahead ? ts - reference : reference - ts));
  reason += ahead ? " ahead of " : " behind ";
  reason += "the event time its partition had reached, ";
  reason += FormatTimestamp(EventTime(Micros(reference)));
  reason += ahead ? " (limit --event-time-max-ahead " : " (limit --event-time-max-behind ";
  reason += FormatDuration(ahead ? options_.max_ahead : options_.max_behind);
  reason += "); ";
  reason += why;
  (ahead ? counters_.quarantined_ahead : counters_.quarantined_behind)[input]++;
  quarantined->push_back(QuarantinedRecord{std::move(record), std::move(reason)});
}

void EventTimeGuard::Decide(JoinInput input, GuardedRecord record,
                            std::vector<GuardedRecord>* released,
                            std::vector<QuarantinedRecord>* quarantined) {
  const size_t i = static_cast<size_t>(input);
  Input& in = inputs_[i];
  const int64_t ts = record.event_time.time_since_epoch().count();
  if (!in.has_position && !has_group_position_) {  // nothing to judge by (Admit() takes these)
    in.has_position = true;
    in.position = ts;
    released->push_back(std::move(record));
    return;
  }
  const int64_t reference = Reference(in);
  if (Within(reference, ts)) {
    // The input goes on where it was: what it held was an outlier.
    for (GuardedRecord& h : in.held) {
      Quarantine(i, std::move(h), reference,
                 "the next record of its partition (" + FormatTimestamp(record.event_time) +
                     ") went on from there",
                 quarantined);
    }
    in.held.clear();
    in.has_position = true;
    in.position = ts;
    released->push_back(std::move(record));
    return;
  }
  if (!in.held.empty() && !Within(in.held.back().event_time.time_since_epoch().count(), ts)) {
    if (in.held.size() >= 2) {
      Quarantine(i, std::move(record), reference,
                 "it contradicts the " + std::to_string(in.held.size()) +
                     " records held before it, which agree with each other",
                 quarantined);
      return;
    }
    Quarantine(i, std::move(in.held.front()), reference,
               "the next record of its partition (" + FormatTimestamp(record.event_time) +
                   ") contradicted it",
               quarantined);
    in.held.clear();
  }
  in.held.push_back(std::move(record));
  if (in.held.size() < options_.confirm) return;
  // `confirm` records in a row agree: the input did jump.
  counters_.jumps_followed[i]++;
  in.has_position = true;
  in.position = in.held.back().event_time.time_since_epoch().count();
  for (GuardedRecord& h : in.held) released->push_back(std::move(h));
  in.held.clear();
}

void EventTimeGuard::StartEpoch() {
  bool any = false;
  int64_t largest = 0;
  for (const Input& in : inputs_) {
    if (!in.has_position) continue;
    largest = any ? std::max(largest, in.position) : in.position;
    any = true;
  }
  if (!any) return;  // nothing admitted yet: no reference
  has_group_position_ = true;
  group_position_ = largest;
}

void EventTimeGuard::Flush(JoinInput input, std::vector<QuarantinedRecord>* quarantined) {
  const size_t i = static_cast<size_t>(input);
  Input& in = inputs_[i];
  const int64_t reference = Reference(in);
  for (GuardedRecord& h : in.held) {
    Quarantine(i, std::move(h), reference,
               "the input ended before " + std::to_string(options_.confirm) +
                   " records in a row confirmed the jump",
               quarantined);
  }
  in.held.clear();
}

size_t EventTimeGuard::held() const {
  size_t n = 0;
  for (const Input& in : inputs_) n += in.held.size();
  return n;
}

void EventTimeGuard::SerializeState(std::string* out) const {
  StateWriter w(out);
  w.U32(kGuardMagic);
  w.U32(kGuardVersion);
  w.U8(has_group_position_ ? 1 : 0);
  w.I64(group_position_);
  for (size_t i = 0; i < kJoinInputCount; ++i) {
    const Input& in = inputs_[i];
    w.U8(in.has_position ? 1 : 0);
    w.I64(in.position);
    w.U64(counters_.quarantined_ahead[i]);
    w.U64(counters_.quarantined_behind[i]);
    w.U64(counters_.jumps_followed[i]);
    w.U32(static_cast<uint32_t>(in.held.size()));
    for (const GuardedRecord& h : in.held) {
      w.I64(h.event_time.time_since_epoch().count());
      w.I32(h.position.partition.value());
      w.I64(h.position.offset);
      w.I64(h.received_at.time_since_epoch().count());
      w.Str(h.payload);
    }
  }
}

Status EventTimeGuard::RestoreState(std::string_view data) {
  StateReader r(data);
  SC_RETURN_IF_ERROR(
      ReadStateHeader(&r, kGuardMagic, kGuardVersion, "event-time guard checkpoint"));
  EventTimeGuard g(options_);
  g.has_group_position_ = r.U8() != 0;
  g.group_position_ = r.I64();
  for (size_t i = 0; i < kJoinInputCount && r.ok(); ++i) {
    Input& in = g.inputs_[i];
    in.has_position = r.U8() != 0;
    in.position = r.I64();
    g.counters_.quarantined_ahead[i] = r.U64();
    g.counters_.quarantined_behind[i] = r.U64();
    g.counters_.jumps_followed[i] = r.U64();
    const uint32_t n = r.U32();
    for (uint32_t k = 0; k < n && r.ok(); ++k) {
      GuardedRecord h;
      h.event_time = EventTime(Micros(r.I64()));
      h.position.partition = PartitionId(r.I32());
      h.position.offset = r.I64();
      h.received_at = EventTime(Micros(r.I64()));
      h.payload = std::string(r.Str());
      in.held.push_back(std::move(h));
    }
  }
  if (!r.ok()) return Status::Corruption("event-time guard checkpoint: truncated");
  if (!r.at_end()) return Status::Corruption("event-time guard checkpoint: trailing bytes");
  *this = std::move(g);
  return Status::OK();
}

}  // namespace smartcity::stream
