// CheckpointStore: the processor's own files in the lake, per partition group p of query q
// (docs/processor.md, "Commit sequence"; docs/checkpoint_format.md):
//
//   _checkpoints/<q>/p<p>/offsets/<E>  the offsets log of epoch E: one JSON line with the end
//                                      position of each of the five partitions, wm(E) and whether
//                                      the input ended there. Written before any table commit.
//   _checkpoints/<q>/p<p>/state/<E>    the state checkpoint after epoch E: a JSON header line
//                                      (epoch, group, positions, watermark), then the join state
//                                      (StreamCore::SerializeState). Written after every table.
//
// <E> is the epoch number in 20 digits, so the newest file sorts last. Both are written
// put-if-absent. A damaged file (truncated, garbage, a field missing or of the wrong type) is
// reported as a Corruption Status naming the file and the way out, never as an exception.
//
// Ownership: borrows the object store (it must outlive this). Thread-safety: the methods keep no
// state of their own; the store is thread-safe, so the processor and committer threads may call
// them for different epochs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/retry.h"
#include "common/status.h"
#include "common/time.h"
#include "lake/object_store.h"
#include "transport/event_source.h"
#include "transport/message.h"

namespace smartcity::pipeline {

// A position in a source partition (transport's; not stream::SourcePosition, the parser's record
// id).
using Position = ::smartcity::SourcePosition;
// One position per topic of a partition group, in Topic order, then one per repartition topic of
// the join inputs (vehicle, weather, emergency: PositionSlot); nullopt: nothing read there yet. The
// files hold the last three only when one is set (older files have five).
inline constexpr size_t kPositionSlots = kTopicCount + 3;
using Positions = std::array<std::optional<Position>, kPositionSlots>;
// The index of a partition's position in Positions.
constexpr size_t PositionSlot(const TopicPartition& tp) {
  if (!tp.repartition) return static_cast<size_t>(tp.topic);
  switch (tp.topic) {
    case Topic::kWeather:
      return kTopicCount + 1;
    case Topic::kEmergency:
      return kTopicCount + 2;
    default:
      return kTopicCount;
  }
}
// The partition of slot `slot` of group p.
constexpr TopicPartition SlotPartition(size_t slot, int32_t p) {
  if (slot < kTopicCount) return TopicPartition{static_cast<Topic>(slot), PartitionId(p), false};
  constexpr Topic kInputs[3] = {Topic::kVehicle, Topic::kWeather, Topic::kEmergency};
  return TopicPartition{kInputs[slot - kTopicCount], PartitionId(p), true};
}

// The offsets log of one epoch: what fixes its content before the lake is written.
struct OffsetsLog {
  int64_t epoch = 0;
  int32_t group = 0;
  Positions end;  // the next position per topic after the epoch's last record
  EventTime watermark{};
  bool final = false;  // the input ended with this epoch
};

// The header of a state checkpoint, and the join state after it.
struct StateCheckpoint {
  int64_t epoch = 0;
  int32_t group = 0;
  Positions positions;
  EventTime watermark{};
  std::string_view state;  // StreamCore::SerializeState's bytes (a view into the decoded blob)
};

std::string EncodeOffsetsLog(const OffsetsLog& log);
// Corruption (without the file's name) when `body` is not an offsets log.
Result<OffsetsLog> DecodeOffsetsLog(std::string_view body);

// Appends the header line of a state checkpoint to *out; the caller appends the join state.
void AppendStateCheckpointHeader(const StateCheckpoint& checkpoint, std::string* out);
// Splits a state checkpoint into its header's fields and the join state; Corruption (without the
// file's name) when `blob` is not one. The result's `state` points into `blob`.
Result<StateCheckpoint> DecodeStateCheckpoint(std::string_view blob);

class CheckpointStore {
 public:
  // REQUIRES: `query` is non-empty and has no '/'. `retry` (borrowed, must outlive the store)
  // retries the reads and writes that fail transiently.
  CheckpointStore(lake::ObjectStore* store, std::string query, const RetryPolicy* retry);

  const std::string& query() const { return query_; }
  // "_checkpoints/<query>/p<p>/<kind>/<epoch, 20 digits>"; kind is "offsets" or "state".
  std::string Key(int32_t p, std::string_view kind, int64_t epoch) const;

  // The newest state checkpoint of group p (nullopt: none, the group starts empty). Its bytes are
  // kept in *blob, which the result's `state` points into. Listing and reading are retried
  // (retries counted in *retries).
  Result<std::optional<StateCheckpoint>> LoadNewestState(int32_t p, std::string* blob,
                                                         uint64_t* retries) const;
  // The offsets log of epoch `epoch` of group p (nullopt: not written).
  Result<std::optional<OffsetsLog>> LoadOffsetsLog(int32_t p, int64_t epoch) const;

  // Writes the offsets log of `epoch` (retried). The same bytes already there are fine (a replay);
  // different ones mean another processor works on group p: Aborted.
  Status PutOffsetsLog(int32_t p, int64_t epoch, std::string_view body, uint64_t* retries) const;
  // Writes the state checkpoint after `epoch` (retried; one already there is fine), then deletes
  // the files no restart can need any more (state E-2 and offsets E-1; best effort).
  Status PutState(int32_t p, int64_t epoch, std::string_view body, uint64_t* retries) const;

 private:
  lake::ObjectStore* store_;
  std::string query_;
  const RetryPolicy* retry_;
};

}  // namespace smartcity::pipeline
