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

}  // namespace
}  // namespace smartcity
