#include "transport/memory_event_source.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "transport/kafka_source_testutil.h"

namespace smartcity {
namespace {

using std::chrono::milliseconds;

TopicPartition TP(Topic t, int32_t p) {
  return {t, PartitionId(p)};
}

// 2 partitions; vehicle/gps records interleaved as the simulator would emit them.
void Fill(MemoryLog& log, int n) {
  for (int i = 0; i < n; ++i) {
    const int32_t p = i % 2;
    log.Append(Topic::kVehicle, PartitionId(p), "k" + std::to_string(p), "v" + std::to_string(i));
    log.Append(Topic::kGps, PartitionId(p), "k" + std::to_string(p), "g" + std::to_string(i));
  }
}

TEST(MemoryEventSourceTest, PollsInBatchesInSequenceOrder) {
  MemoryLog log(2);
  Fill(log, 10);  // 20 records, sequence 0..19
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.AssignPartitions(0, 1).ok());
  std::vector<int64_t> seen;
  std::vector<size_t> sizes;
  for (;;) {
    auto batch = src.Poll(7, milliseconds(0));
    ASSERT_TRUE(batch.ok());
    if (batch->empty()) break;
    sizes.push_back(batch->size());
    for (const SourceRecord& r : *batch) seen.push_back(r.position.value());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{7, 7, 6}));
  ASSERT_EQ(seen.size(), 20u);
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_EQ(src.counters().TotalRecords(), 20u);
  EXPECT_EQ(src.counters().records[static_cast<size_t>(Topic::kGps)], 10u);
  EXPECT_EQ(src.counters().empty_polls, 1u);
  EXPECT_EQ(src.position_kind(), PositionKind::kSequenceNumber);
}

TEST(MemoryEventSourceTest, PositionsAreAfterTheLastReturnedRecord) {
  MemoryLog log(2);
  Fill(log, 4);  // vehicle[0]: 0,4  gps[0]: 1,5  vehicle[1]: 2,6  gps[1]: 3,7
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.AssignPartitions(0, 1).ok());
  auto before = src.Positions();
  ASSERT_EQ(before.size(), 10u);  // 5 topics x 2 partitions
  for (const auto& p : before) EXPECT_FALSE(p.next.has_value());
  auto batch = src.Poll(3, milliseconds(0));  // seq 0, 1, 2
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 3u);
  std::map<TopicPartition, std::optional<SourcePosition>> pos;
  for (const auto& p : src.Positions()) pos[p.tp] = p.next;
  EXPECT_EQ(pos[TP(Topic::kVehicle, 0)], SourcePosition(1));
  EXPECT_EQ(pos[TP(Topic::kGps, 0)], SourcePosition(2));
  EXPECT_EQ(pos[TP(Topic::kVehicle, 1)], SourcePosition(3));
  EXPECT_FALSE(pos[TP(Topic::kGps, 1)].has_value());
  // Lag counts records, not sequence numbers.
  for (const PartitionLag& l : src.Lag()) {
    if (l.tp == TP(Topic::kVehicle, 0)) {
      EXPECT_EQ(l.records_behind, 1);
      EXPECT_EQ(l.end, SourcePosition(5));
    }
    if (l.tp == TP(Topic::kGps, 1)) {
      EXPECT_EQ(l.records_behind, 2);
    }
    if (l.tp.topic == Topic::kWeather) {
      EXPECT_EQ(l.records_behind, 0);
    }
  }
}

TEST(MemoryEventSourceTest, AssignStartsFromTheCheckpoint) {
  MemoryLog log(2);
  Fill(log, 6);
  MemoryCheckpoint ckpt;
  const PartitionPosition saved[] = {{TP(Topic::kVehicle, 0), SourcePosition(5)}};  // after seq 4
  ckpt.Save(saved);
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.Rebalance({TP(Topic::kVehicle, 0), TP(Topic::kGps, 0)}).ok());
  ASSERT_EQ(ckpt.assigned.size(), 1u);
  ASSERT_EQ(ckpt.assigned[0].size(), 2u);
  EXPECT_EQ(ckpt.assigned[0][0].next, SourcePosition(5));
  EXPECT_FALSE(ckpt.assigned[0][1].next.has_value());
  auto batch = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(batch.ok());
  std::vector<int64_t> vehicle;
  int gps = 0;
  for (const SourceRecord& r : *batch) {
    if (r.topic == Topic::kVehicle) vehicle.push_back(r.position.value());
    if (r.topic == Topic::kGps) ++gps;
  }
  EXPECT_EQ(vehicle, (std::vector<int64_t>{8}));  // vehicle[0] holds 0, 4, 8
  EXPECT_EQ(gps, 3);
}

TEST(MemoryEventSourceTest, SeekRereadsAndRefusesPartitionsNotOwned) {
  MemoryLog log(2);
  Fill(log, 6);
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.AssignPartitions(0, 0).ok());
  ASSERT_TRUE(src.Poll(100, milliseconds(0)).ok());
  auto empty = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  const PartitionPosition back[] = {{TP(Topic::kGps, 0), SourcePosition(2)},
                                    {TP(Topic::kVehicle, 0), std::nullopt}};
  ASSERT_TRUE(src.Seek(back).ok());
  auto again = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(again.ok());
  std::vector<std::pair<Topic, int64_t>> got;
  for (const SourceRecord& r : *again) got.emplace_back(r.topic, r.position.value());
  // gps[0] holds 1, 5, 9: from position 2 that is 5, 9; vehicle[0] from the start: 0, 4, 8.
  EXPECT_EQ(got, (std::vector<std::pair<Topic, int64_t>>{{Topic::kVehicle, 0},
                                                         {Topic::kVehicle, 4},
                                                         {Topic::kGps, 5},
                                                         {Topic::kVehicle, 8},
                                                         {Topic::kGps, 9}}));
  const PartitionPosition foreign[] = {{TP(Topic::kGps, 1), SourcePosition(0)}};
  Status s = src.Seek(foreign);
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s.message().find("gps_data[1]"), std::string::npos) << s.message();
}

TEST(MemoryEventSourceTest, RevokeSeesPositionsThenAnotherMemberResumesThere) {
  MemoryLog log(2);
  Fill(log, 10);
  MemoryCheckpoint shared;
  MemoryCheckpoint a_ckpt(&shared), b_ckpt(&shared);
  MemoryEventSource a(log, a_ckpt, &a_ckpt), b(log, b_ckpt, &b_ckpt);
  a_ckpt.Attach(&a);
  b_ckpt.Attach(&b);
  ASSERT_TRUE(a.AssignPartitions(0, 1).ok());
  std::set<int64_t> read;
  auto first = a.Poll(8, milliseconds(0));
  ASSERT_TRUE(first.ok());
  for (const SourceRecord& r : *first) read.insert(r.position.value());
  // A gives partition 1 away (as a rebalance would when B joins): it checkpoints on revoke.
  std::vector<TopicPartition> keep;
  for (Topic t : kAllTopics) keep.push_back(TP(t, 0));
  ASSERT_TRUE(a.Rebalance(keep).ok());
  ASSERT_EQ(a_ckpt.revoked.size(), 1u);
  EXPECT_FALSE(a_ckpt.revoked_lost[0]);
  EXPECT_EQ(a_ckpt.revoked[0].size(), 5u);
  ASSERT_TRUE(b.AssignPartitions(1, 1).ok());
  EXPECT_EQ(b_ckpt.assigned[0][0].tp, TP(Topic::kVehicle, 1));
  EXPECT_EQ(b_ckpt.assigned[0][0].next,
            SourcePosition(7));  // A returned seq 0..7; vehicle[1] last had 6
  for (EventSource* s : {static_cast<EventSource*>(&a), static_cast<EventSource*>(&b)}) {
    for (;;) {
      auto batch = s->Poll(5, milliseconds(0));
      ASSERT_TRUE(batch.ok());
      if (batch->empty()) break;
      for (const SourceRecord& r : *batch)
        EXPECT_TRUE(read.insert(r.position.value()).second) << r.position;
    }
  }
  EXPECT_EQ(read.size(), 20u);
}

TEST(MemoryEventSourceTest, StoreErrorStopsTheSourceAndInjectedFailureIsOnce) {
  MemoryLog log(1);
  Fill(log, 1);
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  src.FailNextPoll(Status::Unavailable("injected"));
  EXPECT_EQ(src.Poll(1, milliseconds(0)).status().kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(src.Poll(1, milliseconds(0)).ok());
  ckpt.load_error = Status::IOError("checkpoint unreadable");
  EXPECT_EQ(src.AssignPartitions(0, 0).kind(), ErrorKind::kIOError);
  EXPECT_EQ(src.Poll(1, milliseconds(0)).status().kind(), ErrorKind::kIOError);
}

TEST(MemoryEventSourceTest, CloseRevokesEverythingNotLost) {
  MemoryLog log(1);
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  ckpt.Attach(&src);
  ASSERT_TRUE(src.AssignPartitions(0, 0).ok());
  ASSERT_TRUE(src.Close().ok());
  ASSERT_EQ(ckpt.revoked.size(), 1u);
  EXPECT_EQ(ckpt.revoked[0].size(), 5u);
  EXPECT_FALSE(ckpt.revoked_lost[0]);
  EXPECT_TRUE(src.Assignment().empty());
  EXPECT_EQ(src.Poll(1, milliseconds(0)).status().kind(), ErrorKind::kAborted);
}

TEST(MemoryEventSourceTest, PausedPartitionsWaitAndResumeWhereTheyStood) {
  MemoryLog log(2);
  Fill(log, 6);  // vehicle[0]: 0,4,8  gps[0]: 1,5,9
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.AssignPartitions(0, 0).ok());
  auto first = src.Poll(2, milliseconds(0));  // 0, 1
  ASSERT_TRUE(first.ok());
  const TopicPartition vehicle0[] = {TP(Topic::kVehicle, 0)};
  ASSERT_TRUE(src.Pause(vehicle0).ok());
  EXPECT_EQ(first->size(), 2u);  // the batch stays valid across Pause
  EXPECT_EQ((*first)[0].value, "v0");
  auto paused = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(paused.ok());
  std::vector<int64_t> got;
  for (const SourceRecord& r : *paused) got.push_back(r.position.value());
  EXPECT_EQ(got, (std::vector<int64_t>{5, 9}));
  ASSERT_TRUE(src.Resume(vehicle0).ok());
  auto resumed = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(resumed.ok());
  got.clear();
  for (const SourceRecord& r : *resumed) got.push_back(r.position.value());
  EXPECT_EQ(got, (std::vector<int64_t>{4, 8}));
  const TopicPartition foreign[] = {TP(Topic::kVehicle, 1)};
  EXPECT_EQ(src.Pause(foreign).kind(), ErrorKind::kInvalidArgument);
}

TEST(MemoryEventSourceTest, ControlEntriesAreSkippedAndTheirTailIsNotLag) {
  MemoryLog log(2);
  log.Append(Topic::kVehicle, PartitionId(0), "k", "v0");
  log.AppendControl(Topic::kVehicle, PartitionId(0));  // a commit marker between two records
  log.Append(Topic::kVehicle, PartitionId(0), "k", "v1");
  log.AppendControl(Topic::kVehicle, PartitionId(0));  // the partition ends with markers
  log.AppendControl(Topic::kVehicle, PartitionId(0));
  log.AppendControl(Topic::kWeather, PartitionId(1));  // a partition of markers only
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.Rebalance({TP(Topic::kVehicle, 0), TP(Topic::kWeather, 1)}).ok());
  std::vector<std::string> values;
  for (;;) {
    auto batch = src.Poll(1, milliseconds(0));
    ASSERT_TRUE(batch.ok());
    if (batch->empty()) break;
    for (const SourceRecord& r : *batch) values.emplace_back(r.value);
  }
  EXPECT_EQ(values, (std::vector<std::string>{"v0", "v1"}));
  for (const PartitionLag& l : src.Lag()) {
    EXPECT_EQ(l.records_behind, std::optional<int64_t>(0)) << ToString(l.tp, TopicNames{});
  }
  // The position stays after the last record returned, as a Kafka consumer's does.
  EXPECT_EQ(src.Positions()[0].next, std::optional<SourcePosition>(SourcePosition(3)));
  src.SetLagUnknown(true);
  for (const PartitionLag& l : src.Lag()) EXPECT_FALSE(l.records_behind.has_value());
}

TEST(MemoryLogTest, TrimDropsWhatIsBeforeThePositionsAndReadingGoesOn) {
  MemoryLog log(2);
  Fill(log, 10);  // vehicle[p]: p*2, p*2+4, ...  gps[p]: p*2+1, ...; sequence 0..19
  const uint64_t full = log.bytes();
  EXPECT_EQ(full, 20 * (4 + MemoryLog::kEntryOverhead));  // keys "k0", values "v0".."g9"
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.AssignPartitions(0, 1).ok());
  auto first = src.Poll(8, milliseconds(0));  // 0..7
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 8u);
  // What the reader consumed goes (as `run` drops what its checkpoints cover).
  log.Trim(src.Positions());
  EXPECT_EQ(log.begin(TP(Topic::kVehicle, 0)), 2u);  // 0 and 4 dropped
  EXPECT_EQ(log.end(TP(Topic::kVehicle, 0)), 5u);    // indexes stay: 8, 12, 16 remain
  EXPECT_EQ(log.at(TP(Topic::kVehicle, 0), 2).seq, SequenceNumber(8));
  EXPECT_EQ(log.trimmed_to(TP(Topic::kVehicle, 0)), SourcePosition(5));
  EXPECT_EQ(log.trimmed_to(TP(Topic::kWeather, 0)), SourcePosition(0));
  EXPECT_LT(log.bytes(), full);
  for (const PartitionLag& l : src.Lag()) {
    if (l.tp == TP(Topic::kGps, 1)) {
      EXPECT_EQ(l.records_behind, 3);  // 11, 15, 19
    }
  }
  auto rest = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(rest.ok());
  std::vector<int64_t> seen;
  for (const SourceRecord& r : *rest) seen.push_back(r.position.value());
  EXPECT_EQ(seen, (std::vector<int64_t>{8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
  log.Trim(src.Positions());
  EXPECT_EQ(log.bytes(), 0u);
  for (const PartitionLag& l : src.Lag()) {
    EXPECT_EQ(l.records_behind, 0);
    if (l.tp == TP(Topic::kVehicle, 1)) {
      EXPECT_EQ(l.end, SourcePosition(19));
    }
  }
  // Appending goes on after everything was trimmed.
  log.Append(Topic::kVehicle, PartitionId(0), "k0", "v20");
  auto more = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(more.ok());
  ASSERT_EQ(more->size(), 1u);
  EXPECT_EQ((*more)[0].position, SourcePosition(20));
}

TEST(MemoryLogTest, ReadingFromBeforeTheTrimmedRecordsIsAnError) {
  MemoryLog log(2);
  Fill(log, 6);  // vehicle[0]: 0,4,8
  const PartitionPosition upto[] = {{TP(Topic::kVehicle, 0), SourcePosition(5)}};
  log.Trim(upto);
  MemoryCheckpoint ckpt;
  MemoryEventSource src(log, ckpt, &ckpt);
  // From the beginning: 0 and 4 are gone.
  Status s = src.Rebalance({TP(Topic::kVehicle, 0)});
  EXPECT_EQ(s.kind(), ErrorKind::kNotFound);
  EXPECT_NE(s.message().find("trimmed"), std::string::npos) << s.message();

  MemoryCheckpoint saved;
  saved.Save(upto);
  MemoryEventSource ok(log, saved, &saved);
  ASSERT_TRUE(ok.Rebalance({TP(Topic::kVehicle, 0)}).ok());
  const PartitionPosition back[] = {{TP(Topic::kVehicle, 0), SourcePosition(3)}};
  EXPECT_EQ(ok.Seek(back).kind(), ErrorKind::kNotFound);
  const PartitionPosition at[] = {{TP(Topic::kVehicle, 0), SourcePosition(5)}};
  ASSERT_TRUE(ok.Seek(at).ok());
  auto batch = ok.Poll(100, milliseconds(0));
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0].position, SourcePosition(8));
}

TEST(MemoryLogTest, RecordsRegeneratedBelowTheReadersPositionMayBeTrimmedUnderIt) {
  // `run` after a restart: the reader starts at its checkpoint on an empty log, the feed then
  // regenerates the records before it, and they are trimmed before the reader skipped them.
  MemoryLog log(1);
  const PartitionPosition start[] = {{TP(Topic::kVehicle, 0), SourcePosition(3)}};
  MemoryCheckpoint ckpt;
  ckpt.Save(start);
  MemoryEventSource src(log, ckpt, &ckpt);
  ASSERT_TRUE(src.Rebalance({TP(Topic::kVehicle, 0)}).ok());
  for (int i = 0; i < 5; ++i) log.Append(Topic::kVehicle, PartitionId(0), "k", std::to_string(i));
  log.Trim(start);
  auto batch = src.Poll(100, milliseconds(0));
  ASSERT_TRUE(batch.ok());
  std::vector<int64_t> seen;
  for (const SourceRecord& r : *batch) seen.push_back(r.position.value());
  EXPECT_EQ(seen, (std::vector<int64_t>{3, 4}));
}

}  // namespace
}  // namespace smartcity
