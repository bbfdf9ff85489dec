// The checkpoint files round-trip, and a damaged one (truncated, garbage, a field missing or of the
// wrong type) is a Corruption Status naming the file and the way out: never an exception.
#include "pipeline/checkpoint_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipeline/processor.h"

namespace smartcity::pipeline {
namespace {

Positions SomePositions() {
  Positions p;
  p[0] = Position(10);
  p[1] = Position(0);
  p[3] = Position(7);
  return p;
}

TEST(OffsetsLogTest, RoundTrips) {
  const OffsetsLog log{4, 2, SomePositions(), EventTime(Micros(1'700'000'000'000'000)), true};
  auto back = DecodeOffsetsLog(EncodeOffsetsLog(log));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->epoch, 4);
  EXPECT_EQ(back->group, 2);
  EXPECT_EQ(back->end, log.end);
  EXPECT_EQ(back->watermark, log.watermark);
  EXPECT_TRUE(back->final);
}

TEST(OffsetsLogTest, RepartitionPositionsRoundTripAndOnlyThenTakeRoom) {
  // Five positions as before while no repartition topic was read; eight once one was.
  EXPECT_NE(EncodeOffsetsLog(OffsetsLog{1, 0, SomePositions(), EventTime{}, false})
                .find("\"end\":[10,0,null,7,null]"),
            std::string::npos);
  Positions p = SomePositions();
  p[PositionSlot(TopicPartition{Topic::kWeather, PartitionId(2), true})] = Position(42);
  EXPECT_EQ(PositionSlot(TopicPartition{Topic::kWeather, PartitionId(2), true}), kTopicCount + 1);
  EXPECT_EQ(SlotPartition(kTopicCount + 1, 2),
            (TopicPartition{Topic::kWeather, PartitionId(2), true}));
  EXPECT_EQ(SlotPartition(3, 2), (TopicPartition{Topic::kWeather, PartitionId(2), false}));
  const OffsetsLog log{2, 2, p, EventTime{}, false};
  auto back = DecodeOffsetsLog(EncodeOffsetsLog(log));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->end, p);
  std::string blob;
  AppendStateCheckpointHeader(StateCheckpoint{2, 2, p, EventTime{}, {}}, &blob);
  blob += "state";
  auto state = DecodeStateCheckpoint(blob);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state->positions, p);
}

TEST(OffsetsLogTest, DamagedBodiesAreCorruption) {
  const std::string good = EncodeOffsetsLog(OffsetsLog{3, 0, SomePositions(), EventTime{}, false});
  const std::vector<std::string> damaged = {
      "",
      "\x01\x02garbage",
      good.substr(0, good.size() / 2),  // truncated
      "[1, 2, 3]",
      "null",
      R"({"end":[1,2,3,4,5],"watermark":0})",                          // no epoch
      R"({"epoch":"3","end":[1,2,3,4,5],"watermark":0})",              // epoch a string
      R"({"epoch":0,"end":[1,2,3,4,5],"watermark":0})",                // epoch not positive
      R"({"epoch":3,"watermark":0})",                                  // no end
      R"({"epoch":3,"end":[1,2,3],"watermark":0})",                    // too few positions
      R"({"epoch":3,"end":{"a":1},"watermark":0})",                    // end an object
      R"({"epoch":3,"end":[1,2,"x",4,5],"watermark":0})",              // a position a string
      R"({"epoch":3,"end":[1,2,-4,4,5],"watermark":0})",               // a negative position
      R"({"epoch":3,"end":[1,2,3,4,5]})",                              // no watermark
      R"({"epoch":3,"end":[1,2,3,4,5],"watermark":1.5})",              // watermark a double
      R"({"epoch":3,"end":[1,2,3,4,5],"watermark":0,"final":"yes"})",  // final a string
      R"({"epoch":3,"group":"p1","end":[1,2,3,4,5],"watermark":0})",   // group a string
  };
  for (const std::string& body : damaged) {
    SCOPED_TRACE(body);
    auto r = DecodeOffsetsLog(body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), ErrorKind::kCorruption);
  }
}

TEST(StateCheckpointTest, RoundTrips) {
  std::string blob;
  AppendStateCheckpointHeader(StateCheckpoint{9, 1, SomePositions(), EventTime(Micros(5)), {}},
                              &blob);
  blob += std::string("\0state\n\xff", 8);
  auto back = DecodeStateCheckpoint(blob);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->epoch, 9);
  EXPECT_EQ(back->group, 1);
  EXPECT_EQ(back->positions, SomePositions());
  EXPECT_EQ(back->watermark, EventTime(Micros(5)));
  EXPECT_EQ(back->state, std::string_view(std::string("\0state\n\xff", 8)));
}

TEST(StateCheckpointTest, DamagedHeadersAreCorruption) {
  const std::vector<std::string> damaged = {
      "",
      "no header line at all",
      "\n",
      "garbage\nstate",
      "{\"epoch\":2,\"positions\":[1,2,3,4,5]",  // truncated inside the header
      "[]\n",
      "{\"positions\":[1,2,3,4,5]}\n",                                  // no epoch
      "{\"epoch\":2.5,\"positions\":[1,2,3,4,5]}\n",                    // epoch a double
      "{\"epoch\":2}\n",                                                // no positions
      "{\"epoch\":2,\"positions\":[1,2,3,4]}\n",                        // too few
      "{\"epoch\":2,\"positions\":[1,2,true,4,5]}\n",                   // a position a bool
      "{\"epoch\":2,\"positions\":[1,2,3,4,5],\"watermark\":\"x\"}\n",  // watermark a string
  };
  for (const std::string& blob : damaged) {
    SCOPED_TRACE(blob);
    auto r = DecodeStateCheckpoint(blob);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), ErrorKind::kCorruption);
  }
}

class CheckpointStoreTest : public ::testing::Test {
 protected:
  lake::InMemoryObjectStore store_;
  FakeClock clock_;
  RetryPolicy retry_{RetryOptions{.max_attempts = 1}, &clock_};  // no retries
  CheckpointStore checkpoints_{&store_, "q", &retry_};
  uint64_t retries_ = 0;
};

TEST_F(CheckpointStoreTest, KeysSortByEpoch) {
  EXPECT_EQ(checkpoints_.Key(3, "state", 12), "_checkpoints/q/p3/state/00000000000000000012");
  EXPECT_LT(checkpoints_.Key(0, "state", 9), checkpoints_.Key(0, "state", 10));
}

TEST_F(CheckpointStoreTest, LoadsTheNewestStateAndTheNextOffsetsLog) {
  std::string blob;
  auto none = checkpoints_.LoadNewestState(0, &blob, &retries_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (int64_t e = 1; e <= 3; ++e) {
    std::string body;
    AppendStateCheckpointHeader(StateCheckpoint{e, 0, SomePositions(), EventTime{}, {}}, &body);
    body += "state" + std::to_string(e);
    ASSERT_TRUE(checkpoints_.PutState(0, e, body, &retries_).ok());
  }
  auto newest = checkpoints_.LoadNewestState(0, &blob, &retries_);
  ASSERT_TRUE(newest.ok()) << newest.status().message();
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->epoch, 3);
  EXPECT_EQ((*newest)->state, "state3");
  // Writing state 3 dropped state 1 (and offsets 2): a restart needs only state 2 and offsets 3.
  EXPECT_FALSE(store_.Get(checkpoints_.Key(0, "state", 1)).ok());

  auto missing = checkpoints_.LoadOffsetsLog(0, 4);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  const std::string log = EncodeOffsetsLog(OffsetsLog{4, 0, SomePositions(), EventTime{}, false});
  ASSERT_TRUE(checkpoints_.PutOffsetsLog(0, 4, log, &retries_).ok());
  // The same bytes again (a replay) are fine; different ones mean a second writer.
  EXPECT_TRUE(checkpoints_.PutOffsetsLog(0, 4, log, &retries_).ok());
  EXPECT_EQ(checkpoints_.PutOffsetsLog(0, 4, log + " ", &retries_).kind(), ErrorKind::kAborted);
  auto found = checkpoints_.LoadOffsetsLog(0, 4);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->end, SomePositions());
}

TEST_F(CheckpointStoreTest, ADamagedStateCheckpointNamesTheFileAndTheFix) {
  std::string body;
  AppendStateCheckpointHeader(StateCheckpoint{1, 5, SomePositions(), EventTime{}, {}}, &body);
  ASSERT_TRUE(checkpoints_.PutState(5, 1, body, &retries_).ok());
  ASSERT_TRUE(store_
                  .Put(checkpoints_.Key(5, "state", 2), R"({"epoch":"two"})"
                                                        "\n")
                  .ok());
  std::string blob;
  auto r = checkpoints_.LoadNewestState(5, &blob, &retries_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kCorruption);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find(checkpoints_.Key(5, "state", 2)), std::string::npos) << m;
  EXPECT_NE(m.find("\"epoch\" is not an integer"), std::string::npos) << m;
  EXPECT_NE(m.find("Delete that file"), std::string::npos) << m;
}

TEST_F(CheckpointStoreTest, ADamagedOffsetsLogNamesTheFileAndTheFix) {
  ASSERT_TRUE(store_.Put(checkpoints_.Key(2, "offsets", 1), "{\"epoch\":1,\"end\":[1,").ok());
  auto r = checkpoints_.LoadOffsetsLog(2, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kCorruption);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find(checkpoints_.Key(2, "offsets", 1)), std::string::npos) << m;
  EXPECT_NE(m.find("restore the file from a backup"), std::string::npos) << m;
  EXPECT_NE(m.find("txn q-p2 of version 1"), std::string::npos) << m;
}

// The processor's writes retry what no layer below retried, for the processor's budget, on its
// clock; a failure the object store already retried for its own budget is returned at once, so
// the retries of the two layers do not multiply (docs/retries.md).
TEST(ProcessorRetryTest, RetriesAnUnretriedFailureForItsBudgetAndASpentOneNotAtAll) {
  for (bool spent : {false, true}) {
    SCOPED_TRACE(spent ? "spent" : "not spent");
    lake::InMemoryObjectStore base;
    lake::FaultInjectingObjectStore store(&base);
    lake::FaultInjectingObjectStore::Rule rule;
    rule.op = lake::FaultInjectingObjectStore::Op::kPutIfAbsent;
    rule.times = -1;
    rule.retries_spent = spent;
    store.AddRule(rule);
    FakeClock clock;
    const ProcessorOptions options;  // the defaults: a 3-minute budget
    RetryPolicy policy(RetryOptionsOf(options), &clock);
    CheckpointStore checkpoints(&store, "q", &policy);
    uint64_t retries = 0;
    Status s = checkpoints.PutState(0, 1, "state", &retries);
    EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
    EXPECT_TRUE(s.retries_spent());
    if (spent) {
      EXPECT_EQ(retries, 0u);
      EXPECT_EQ(store.calls(lake::FaultInjectingObjectStore::Op::kPutIfAbsent), 1);
      EXPECT_EQ(clock.Now(), ProcessingTime{});
    } else {
      // 100 ms doubling to 10 s: 7 waits to 12.7 s, 16 waits of 10 s to 172.7 s, and the last
      // one cut short to start the last attempt at the deadline.
      EXPECT_EQ(clock.Now() - ProcessingTime{}, options.retry_budget);
      EXPECT_EQ(retries, 7u + 16u + 1u);
      EXPECT_EQ(store.calls(lake::FaultInjectingObjectStore::Op::kPutIfAbsent),
                static_cast<int>(retries) + 1);
    }
  }
}

}  // namespace
}  // namespace smartcity::pipeline
