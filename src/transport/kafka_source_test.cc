// KafkaSource against librdkafka's in-process mock cluster: the real consumer-group protocol
// (join, sync, range assignment, fetch) without a JVM. The real-broker proofs are in
// kafka_source_itest.cc.
#include "transport/kafka_source.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "transport/kafka_source_testutil.h"

namespace smartcity {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TopicPartition TP(Topic t, int32_t p) {
  return {t, PartitionId(p)};
}

struct Cluster {
  std::unique_ptr<MockKafkaCluster> mock;
  std::vector<TestRecord> records;
};

Cluster StartCluster(int32_t partitions, int devices, int per_device) {
  Cluster c;
  auto mock = MockKafkaCluster::Start();
  EXPECT_TRUE(mock.ok()) << mock.status().message();
  c.mock = std::move(mock).value();
  for (Topic t : kAllTopics)
    EXPECT_TRUE(c.mock->CreateTopic(std::string(DefaultTopicName(t)), partitions).ok());
  c.records = MakeTestRecords(devices, per_device, partitions);
  Status s = ProduceTestRecords(c.mock->bootstrap(), c.records);
  EXPECT_TRUE(s.ok()) << s.message();
  return c;
}

KafkaSourceOptions Options(const std::string& bootstrap, const std::string& group) {
  KafkaSourceOptions o;
  o.kafka.bootstrap_servers = bootstrap;
  o.group_id = group;
  o.connect_timeout = milliseconds(5000);
  // The mock cluster's group coordinator: keep joins quick.
  o.kafka.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  return o;
}

// For the tests of declined assignments: a rejoin on the mock cluster waits the session timeout
// less a second, so a short one keeps them quick.
KafkaSourceOptions RejoinOptions(const std::string& bootstrap, const std::string& group,
                                 milliseconds connect_timeout) {
  KafkaSourceOptions o = Options(bootstrap, group);
  o.connect_timeout = connect_timeout;
  o.kafka.properties = {{"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "500"}};
  return o;
}

// What a partition holds, in offset order, as produced.
std::map<TopicPartition, std::vector<std::string>> ExpectedByPartition(
    const std::vector<TestRecord>& records) {
  std::map<TopicPartition, std::vector<std::string>> m;
  for (const TestRecord& r : records) m[TP(r.topic, r.partition)].push_back(r.value);
  return m;
}

struct Read {
  std::string key;
  std::string value;
  bool has_time;
};

// Polls until `want` records arrived in total or the deadline passes.
void PollUntil(const std::vector<KafkaSource*>& sources, size_t want,
               std::map<std::tuple<Topic, int32_t, int64_t>, Read>& got, size_t max_batch,
               milliseconds limit = milliseconds(30000), int* duplicates = nullptr) {
  const auto deadline = steady_clock::now() + limit;
  size_t n = got.size();
  while (n < want && steady_clock::now() < deadline) {
    for (KafkaSource* s : sources) {
      auto batch = s->Poll(max_batch, milliseconds(50));
      ASSERT_TRUE(batch.ok()) << batch.status().message();
      ASSERT_LE(batch->size(), max_batch);
      for (const SourceRecord& r : *batch) {
        auto [it, fresh] =
            got.emplace(std::make_tuple(r.topic, r.partition.value(), r.position.value()),
                        Read{std::string(r.key), std::string(r.value), r.source_time.has_value()});
        if (!fresh && duplicates != nullptr) ++*duplicates;
        if (fresh) ++n;
      }
    }
  }
}

// Every produced record was read at its offset, with its value, key and timestamp.
void ExpectEveryRecordAsProduced(const std::vector<TestRecord>& records,
                                 const std::map<std::tuple<Topic, int32_t, int64_t>, Read>& got) {
  for (const auto& [tp, values] : ExpectedByPartition(records)) {
    for (size_t i = 0; i < values.size(); ++i) {
      auto it = got.find({tp.topic, tp.partition.value(), static_cast<int64_t>(i)});
      ASSERT_NE(it, got.end());
      EXPECT_EQ(it->second.value, values[i]);
      EXPECT_EQ(it->second.key.substr(0, 8), "vehicle-");
      EXPECT_TRUE(it->second.has_time);
    }
  }
}

TEST(KafkaSourceTest, ReadsEveryRecordOnceInBatches) {
  Cluster c = StartCluster(3, 12, 20);  // 12 devices x 20 x 5 topics = 1200 records
  MemoryCheckpoint ckpt;
  auto src = KafkaSource::Open(Options(c.mock->bootstrap(), "g-read"), ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  EXPECT_EQ((*src)->partition_count(), 3);
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  int duplicates = 0;
  PollUntil({src->get()}, c.records.size(), got, 37, milliseconds(30000), &duplicates);
  ASSERT_EQ(got.size(), c.records.size());
  EXPECT_EQ(duplicates, 0);
  ExpectEveryRecordAsProduced(c.records, got);
  // One assignment of all 15 partitions from the earliest offset; positions at the ends; no lag.
  ASSERT_EQ(ckpt.assigned.size(), 1u);
  EXPECT_EQ(ckpt.assigned[0].size(), 15u);
  for (const auto& p : ckpt.assigned[0]) EXPECT_FALSE(p.next.has_value());
  const auto expected = ExpectedByPartition(c.records);
  for (const PartitionPosition& p : (*src)->Positions()) {
    ASSERT_TRUE(p.next.has_value());
    EXPECT_EQ(p.next->value(), static_cast<int64_t>(expected.at(p.tp).size()));
  }
  auto lag = (*src)->QueryLag();
  ASSERT_TRUE(lag.ok()) << lag.status().message();
  for (const PartitionLag& l : *lag) EXPECT_EQ(l.records_behind, 0) << ToString(l.tp, TopicNames{});
  EXPECT_EQ((*src)->counters().TotalRecords(), c.records.size());
  EXPECT_GT((*src)->counters().TotalBytes(), 0u);
  const std::vector<PartitionPosition> before_close = (*src)->Positions();
  ASSERT_TRUE((*src)->Close().ok());
  ASSERT_EQ(ckpt.revoked.size(), 1u);
  EXPECT_FALSE(ckpt.revoked_lost[0]);
  EXPECT_EQ(ckpt.revoked[0].size(), 15u);
  EXPECT_EQ(ckpt.positions_at_revoke[0], before_close);  // the owner checkpoints what it was given
  EXPECT_TRUE((*src)->Assignment().empty());
  EXPECT_EQ((*src)->Poll(10, milliseconds(0)).status().kind(), ErrorKind::kAborted);
}

// A bounded run confirms it caught up with QueryLag. Each round trip waits behind the consumer's
// fetch in flight (up to fetch.wait.max.ms when nothing is new), so it must ask for every partition
// at once: one ListOffsets request for the ends, not two per partition, and none for the starts
// once every partition's position is known.
// librdkafka 2.0 stops fetching while its prefetch queue is over queued.max.messages.kbytes and
// decides again only at its broker thread's next wake-up, up to a second later when nothing else
// happens on the connection: with a queue a small fraction of the backlog, a drain went in
// one-second steps (docs/kafka_source.md, "Waking the fetcher"; bench/stream.sh measures the
// speed). The source wakes the fetcher whenever the queue runs low while a partition still has
// records to fetch: with a queue of a few dozen records the backlog is read, every record once and
// in order, with wake-ups; once everything is read, polling sends none.
TEST(KafkaSourceTest, PrefetchQueueRunningLowWithRecordsToFetchWakesTheFetcher) {
  Cluster c = StartCluster(2, 6, 60);  // 6 devices x 60 x 5 topics = 1800 records
  MemoryCheckpoint ckpt;
  KafkaSourceOptions o = Options(c.mock->bootstrap(), "g-wake");
  // A queue of 4 KiB (a few dozen records) and one partition's fetch at most 1 KiB a time.
  o.kafka.properties.emplace_back("queued.max.messages.kbytes", "4");
  o.kafka.properties.emplace_back("max.partition.fetch.bytes", "1024");
  auto src = KafkaSource::Open(o, ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  int duplicates = 0;
  PollUntil({src->get()}, c.records.size(), got, 16, milliseconds(30000), &duplicates);
  ASSERT_EQ(got.size(), c.records.size());
  EXPECT_EQ(duplicates, 0);
  ExpectEveryRecordAsProduced(c.records, got);
  const uint64_t wakeups = (*src)->counters().fetch_wakeups;
  EXPECT_GT(wakeups, 0u);
  // Caught up: nothing past what was read, so nothing to wake the fetcher for.
  std::this_thread::sleep_for(milliseconds(600));  // the fetches see the ends (fetch.wait.max.ms)
  const uint64_t settled = (*src)->counters().fetch_wakeups;
  for (int i = 0; i < 10; ++i) {
    auto batch = (*src)->Poll(16, milliseconds(50));
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    EXPECT_TRUE(batch->empty());
  }
  EXPECT_EQ((*src)->counters().fetch_wakeups, settled);
  ASSERT_TRUE((*src)->Close().ok());
}

// On a multi-broker cluster a broker learns of a topic just created (a repartition topic) a little
// after the others, and the group leader may assign from its metadata: the assignment then has
// partitions of every topic but that one. The member declines it, tells its owner nothing, and
// rejoins until the metadata lists the topic; then it reads everything once.
TEST(KafkaSourceTest, AssignmentMissingATopicIsDeclinedUntilTheMetadataListsIt) {
  Cluster c = StartCluster(3, 12, 20);  // 1200 records in 15 partitions
  MemoryCheckpoint ckpt;
  const KafkaSourceOptions o =
      RejoinOptions(c.mock->bootstrap(), "g-incomplete", milliseconds(20000));
  auto src = KafkaSource::Open(o, ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  // Before the mock group's first join completes (it waits 3 s for members).
  c.mock->SetTopicError("weather_data", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  const auto deadline = steady_clock::now() + milliseconds(20000);
  while ((*src)->counters().declined_assignments == 0 && steady_clock::now() < deadline) {
    auto batch = (*src)->Poll(50, milliseconds(50));
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    EXPECT_TRUE(batch->empty());
  }
  ASSERT_GT((*src)->counters().declined_assignments, 0u);
  EXPECT_TRUE((*src)->Assignment().empty());
  EXPECT_TRUE(ckpt.assigned.empty());
  c.mock->SetTopicError("weather_data", RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  int duplicates = 0;
  PollUntil({src->get()}, c.records.size(), got, 50, milliseconds(30000), &duplicates);
  ASSERT_EQ(got.size(), c.records.size());
  EXPECT_EQ(duplicates, 0);
  ExpectEveryRecordAsProduced(c.records, got);
  EXPECT_EQ((*src)->Assignment().size(), 15u);
  ASSERT_FALSE(ckpt.assigned.empty());
  for (const auto& a : ckpt.assigned) EXPECT_EQ(a.size(), 15u);  // the owner saw only whole ones
  ASSERT_TRUE((*src)->Close().ok());
}

// Every assignment an owner was told about holds the same partition numbers of every topic.
void ExpectOnlyCopartitionedAssignments(const MemoryCheckpoint& ckpt) {
  for (const auto& a : ckpt.assigned) {
    std::map<Topic, std::set<int32_t>> by_topic;
    for (Topic t : kAllTopics) by_topic[t];
    for (const PartitionPosition& p : a) by_topic[p.tp.topic].insert(p.tp.partition.value());
    for (const auto& [t, parts] : by_topic)
      EXPECT_EQ(parts, by_topic.begin()->second) << "not co-partitioned";
  }
}

// Two members, the group's metadata without a topic: each gets partitions of four topics only. Both
// decline and rejoin until the metadata lists the topic; then the two share the partitions
// co-partitioned and read every record once. (When only the leader's metadata lacks it, the other
// member gets the topic's partitions on top of its own: kSplit, declined the same way; see
// CheckCoPartitioningTest.)
TEST(KafkaSourceTest, MembersDeclineAssignmentsMadeWithoutATopicUntilItIsListed) {
  Cluster c = StartCluster(3, 12, 20);
  MemoryCheckpoint shared;
  MemoryCheckpoint a_ckpt(&shared), b_ckpt(&shared);
  const KafkaSourceOptions o =
      RejoinOptions(c.mock->bootstrap(), "g-declining", milliseconds(30000));
  auto a = KafkaSource::Open(o, a_ckpt, &a_ckpt);
  ASSERT_TRUE(a.ok()) << a.status().message();
  a_ckpt.Attach(a->get());
  auto b = KafkaSource::Open(o, b_ckpt, &b_ckpt);
  ASSERT_TRUE(b.ok()) << b.status().message();
  b_ckpt.Attach(b->get());
  c.mock->SetTopicError("weather_data", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  const auto deadline = steady_clock::now() + milliseconds(30000);
  while (
      ((*a)->counters().declined_assignments == 0 || (*b)->counters().declined_assignments == 0) &&
      steady_clock::now() < deadline) {
    for (KafkaSource* s : {a->get(), b->get()}) {
      auto batch = s->Poll(50, milliseconds(50));
      ASSERT_TRUE(batch.ok()) << batch.status().message();
      EXPECT_TRUE(batch->empty());
    }
  }
  EXPECT_GT((*a)->counters().declined_assignments, 0u);
  EXPECT_GT((*b)->counters().declined_assignments, 0u);
  c.mock->SetTopicError("weather_data", RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  int duplicates = 0;
  PollUntil({a->get(), b->get()}, c.records.size(), got, 50, milliseconds(60000), &duplicates);
  ASSERT_EQ(got.size(), c.records.size());
  EXPECT_EQ(duplicates, 0);
  ExpectEveryRecordAsProduced(c.records, got);
  ExpectOnlyCopartitionedAssignments(a_ckpt);
  ExpectOnlyCopartitionedAssignments(b_ckpt);
  ASSERT_TRUE((*a)->Close().ok());
  ASSERT_TRUE((*b)->Close().ok());
}

// More members than partitions: a member given nothing at all is whole, not "not co-partitioned".
TEST(KafkaSourceTest, AMemberGivenNoPartitionIsNotAnError) {
  Cluster c = StartCluster(1, 4, 5);  // 100 records, one partition per topic
  MemoryCheckpoint shared;
  MemoryCheckpoint a_ckpt(&shared), b_ckpt(&shared);
  auto a = KafkaSource::Open(Options(c.mock->bootstrap(), "g-idle-member"), a_ckpt, &a_ckpt);
  ASSERT_TRUE(a.ok()) << a.status().message();
  a_ckpt.Attach(a->get());
  auto b = KafkaSource::Open(Options(c.mock->bootstrap(), "g-idle-member"), b_ckpt, &b_ckpt);
  ASSERT_TRUE(b.ok()) << b.status().message();
  b_ckpt.Attach(b->get());
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  int duplicates = 0;
  PollUntil({a->get(), b->get()}, c.records.size(), got, 50, milliseconds(30000), &duplicates);
  ASSERT_EQ(got.size(), c.records.size());
  EXPECT_EQ(duplicates, 0);
  // Both took their assignments: one all five partitions, the other none.
  ASSERT_FALSE(a_ckpt.assigned.empty());
  ASSERT_FALSE(b_ckpt.assigned.empty());
  EXPECT_EQ(a_ckpt.assigned.back().size() + b_ckpt.assigned.back().size(), 5u);
  EXPECT_EQ((*a)->counters().declined_assignments + (*b)->counters().declined_assignments, 0u);
  for (int i = 0; i < 20; ++i) {
    for (KafkaSource* s : {a->get(), b->get()}) {
      auto batch = s->Poll(50, milliseconds(50));
      ASSERT_TRUE(batch.ok()) << batch.status().message();
    }
  }
  ASSERT_TRUE((*a)->Close().ok());
  ASSERT_TRUE((*b)->Close().ok());
}

// A topic that stays missing from the group's assignment stops the source within connect_timeout
// of the first declined assignment, naming the topic.
TEST(KafkaSourceTest, TopicMissingFromTheAssignmentStopsTheSourceWithinTheBound) {
  Cluster c = StartCluster(2, 4, 5);
  MemoryCheckpoint ckpt;
  const KafkaSourceOptions o =
      RejoinOptions(c.mock->bootstrap(), "g-missing-later", milliseconds(3000));
  auto src = KafkaSource::Open(o, ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  c.mock->SetTopicError("emergency_data", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  const auto deadline = steady_clock::now() + milliseconds(40000);
  Status stopped;
  while (stopped.ok() && steady_clock::now() < deadline) {
    auto batch = (*src)->Poll(50, milliseconds(50));
    if (!batch.ok()) {
      stopped = batch.status();
    } else {
      EXPECT_TRUE(batch->empty());
    }
  }
  ASSERT_FALSE(stopped.ok()) << "still polling after 40 s";
  EXPECT_EQ(stopped.kind(), ErrorKind::kUnavailable) << stopped.message();
  EXPECT_NE(stopped.message().find("emergency_data"), std::string::npos) << stopped.message();
  EXPECT_NE(stopped.message().find("smartcity topics describe"), std::string::npos);
  EXPECT_GT((*src)->counters().declined_assignments, 1u);  // it rejoined before giving up
  EXPECT_TRUE(ckpt.assigned.empty());
  ASSERT_TRUE((*src)->Close().ok());
}

TEST(KafkaSourceTest, QueryLagAsksForAllPartitionsInOneRoundPerEnd) {
  constexpr int16_t kListOffsets = 2;  // the Kafka protocol's ApiKey
  Cluster c = StartCluster(3, 12, 4);
  MemoryCheckpoint ckpt;
  KafkaSourceOptions o = Options(c.mock->bootstrap(), "g-query-lag");
  o.wake_fetcher = false;  // its ListOffsets requests would take the errors pushed below
  auto src = KafkaSource::Open(o, ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  PollUntil({src->get()}, c.records.size(), got, 100);
  ASSERT_EQ(got.size(), c.records.size());
  ASSERT_EQ((*src)->Positions().size(), 15u);

  // A failed request fails the query, naming the cause.
  c.mock->PushRequestErrors(kListOffsets, {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED});
  auto failed = (*src)->QueryLag();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("uthoriz"), std::string::npos)
      << failed.status().message();

  // One request is served (every position is known: the starts are not asked for); any further
  // one would fail.
  std::vector<rd_kafka_resp_err_t> errors(30, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  errors[0] = RD_KAFKA_RESP_ERR_NO_ERROR;
  c.mock->PushRequestErrors(kListOffsets, errors);
  auto lag = (*src)->QueryLag();
  ASSERT_TRUE(lag.ok()) << lag.status().message();
  ASSERT_EQ(lag->size(), 15u);
  const auto expected = ExpectedByPartition(c.records);
  for (const PartitionLag& l : *lag) {
    ASSERT_TRUE(l.end.has_value());
    EXPECT_EQ(l.end->value(), static_cast<int64_t>(expected.at(l.tp).size()));
    EXPECT_EQ(l.records_behind, 0) << ToString(l.tp, TopicNames{});
  }
  EXPECT_TRUE((*src)->Close().ok());
}

// A partition read from its beginning whose leader cannot say where it begins (it answers "Unknown
// topic or partition": a broker that has not learnt of a topic just created, or one deleted):
// librdkafka gives up on it (auto.offset.reset=error). That stops the source, saying what it could
// not find; not that records were deleted by retention, as it does for a checkpointed position.
TEST(KafkaSourceTest, ABeginningThatCannotBeFoundIsNotReportedAsRecordsDeleted) {
  constexpr int16_t kListOffsets = 2;
  Cluster c = StartCluster(2, 4, 10);
  MemoryCheckpoint ckpt;
  KafkaSourceOptions o = Options(c.mock->bootstrap(), "g-beginning");
  o.wake_fetcher = false;  // its ListOffsets requests would take the errors pushed below
  c.mock->PushRequestErrors(
      kListOffsets, std::vector<rd_kafka_resp_err_t>(100, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
  auto src = KafkaSource::Open(o, ckpt, &ckpt);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ckpt.Attach(src->get());
  Status stopped;
  const auto deadline = steady_clock::now() + milliseconds(30000);
  while (stopped.ok() && steady_clock::now() < deadline) {
    auto batch = (*src)->Poll(50, milliseconds(50));
    if (!batch.ok()) stopped = batch.status();
  }
  ASSERT_FALSE(stopped.ok()) << "still polling after 30 s";
  EXPECT_EQ(stopped.kind(), ErrorKind::kUnavailable) << stopped.message();
  EXPECT_NE(stopped.message().find("begins"), std::string::npos) << stopped.message();
  EXPECT_EQ(stopped.message().find("retention"), std::string::npos) << stopped.message();
  (void)(*src)->Close();
}

TEST(KafkaSourceTest, StartsFromCheckpointedPositionsNotGroupOffsets) {
  Cluster c = StartCluster(2, 4, 10);
  const auto expected = ExpectedByPartition(c.records);
  MemoryCheckpoint ckpt;
  const PartitionPosition saved[] = {{TP(Topic::kVehicle, 0), SourcePosition(7)},
                                     {TP(Topic::kGps, 1), SourcePosition(3)}};
  ckpt.Save(saved);
  {
    // Another run of the same group committed offsets at the very end: they must be ignored.
    MemoryCheckpoint ignored;
    auto first = KafkaSource::Open(Options(c.mock->bootstrap(), "g-ckpt"), ignored, &ignored);
    ASSERT_TRUE(first.ok());
    std::map<std::tuple<Topic, int32_t, int64_t>, Read> all;
    PollUntil({first->get()}, c.records.size(), all, 500);
    ASSERT_EQ(all.size(), c.records.size());
    ASSERT_TRUE((*first)->PublishPositions().ok());
    (*first)->Poll(1, milliseconds(200)).status().ok();  // serve the commit result
    ASSERT_TRUE((*first)->Close().ok());
  }
  auto src = KafkaSource::Open(Options(c.mock->bootstrap(), "g-ckpt"), ckpt, &ckpt);
  ASSERT_TRUE(src.ok());
  const size_t want = c.records.size() - 7 - 3;
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  PollUntil({src->get()}, want, got, 100);
  ASSERT_EQ(got.size(), want);
  std::map<TopicPartition, int64_t> first_offset;
  for (const auto& [k, v] : got) {
    const TopicPartition tp = TP(std::get<0>(k), std::get<1>(k));
    if (!first_offset.contains(tp)) first_offset[tp] = std::get<2>(k);
  }
  EXPECT_EQ(first_offset[TP(Topic::kVehicle, 0)], 7);
  EXPECT_EQ(first_offset[TP(Topic::kGps, 1)], 3);
  EXPECT_EQ(first_offset[TP(Topic::kWeather, 0)], 0);
  ASSERT_EQ(ckpt.assigned.size(), 1u);
  for (const PartitionPosition& p : ckpt.assigned[0]) {
    if (p.tp == TP(Topic::kVehicle, 0)) {
      EXPECT_EQ(p.next, SourcePosition(7));
    }
  }
}

TEST(KafkaSourceTest, SeekMovesOwnedPartitionsAndRefusesOthers) {
  Cluster c = StartCluster(2, 4, 10);
  EarliestPositions earliest;
  auto src = KafkaSource::Open(Options(c.mock->bootstrap(), "g-seek"), earliest, nullptr);
  ASSERT_TRUE(src.ok());
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  PollUntil({src->get()}, c.records.size(), got, 1000);
  ASSERT_EQ(got.size(), c.records.size());
  const auto expected = ExpectedByPartition(c.records);
  const size_t gps1 = expected.at(TP(Topic::kGps, 1)).size();
  ASSERT_GT(gps1, 5u);
  const PartitionPosition back[] = {{TP(Topic::kGps, 1), SourcePosition(5)}};
  ASSERT_TRUE((*src)->Seek(back).ok());
  std::vector<int64_t> again;
  const auto deadline = steady_clock::now() + milliseconds(15000);
  while (again.size() < gps1 - 5 && steady_clock::now() < deadline) {
    auto batch = (*src)->Poll(100, milliseconds(100));
    ASSERT_TRUE(batch.ok());
    for (const SourceRecord& r : *batch) {
      EXPECT_EQ(TP(r.topic, r.partition.value()), TP(Topic::kGps, 1));
      again.push_back(r.position.value());
    }
  }
  ASSERT_EQ(again.size(), gps1 - 5);
  for (size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i], static_cast<int64_t>(5 + i));
  const PartitionPosition foreign[] = {{TP(Topic::kGps, 9), SourcePosition(0)}};
  EXPECT_EQ((*src)->Seek(foreign).kind(), ErrorKind::kInvalidArgument);

  // Pause: rewind two partitions, pause one; only the other is read until Resume, which continues
  // the paused one at its position.
  const PartitionPosition rewind[] = {{TP(Topic::kVehicle, 0), SourcePosition(0)},
                                      {TP(Topic::kGps, 0), SourcePosition(0)}};
  ASSERT_TRUE((*src)->Seek(rewind).ok());
  const TopicPartition gps0[] = {TP(Topic::kGps, 0)};
  ASSERT_TRUE((*src)->Pause(gps0).ok());
  const size_t vehicle0 = expected.at(TP(Topic::kVehicle, 0)).size();
  const size_t gps0_size = expected.at(TP(Topic::kGps, 0)).size();
  std::map<TopicPartition, std::vector<int64_t>> seen;
  auto read_until = [&](const TopicPartition& tp, size_t n) {
    const auto until = steady_clock::now() + milliseconds(15000);
    while (seen[tp].size() < n && steady_clock::now() < until) {
      auto batch = (*src)->Poll(100, milliseconds(100));
      ASSERT_TRUE(batch.ok());
      for (const SourceRecord& r : *batch)
        seen[TP(r.topic, r.partition.value())].push_back(r.position.value());
    }
  };
  read_until(TP(Topic::kVehicle, 0), vehicle0);
  EXPECT_EQ(seen[TP(Topic::kVehicle, 0)].size(), vehicle0);
  EXPECT_TRUE(seen[TP(Topic::kGps, 0)].empty());
  ASSERT_TRUE((*src)->Resume(gps0).ok());
  read_until(TP(Topic::kGps, 0), gps0_size);
  ASSERT_EQ(seen[TP(Topic::kGps, 0)].size(), gps0_size);
  for (size_t i = 0; i < gps0_size; ++i)
    EXPECT_EQ(seen[TP(Topic::kGps, 0)][i], static_cast<int64_t>(i));
}

// Two members of one group: the range assignor gives each the same partition numbers of all five
// topics; with checkpoint-on-revoke, every record is read once in total even across the rebalances
// of B joining and then A leaving.
TEST(KafkaSourceTest, TwoMembersShareCopartitionedPartitionsAndHandOver) {
  Cluster c = StartCluster(4, 40, 10);  // 2000 records
  MemoryCheckpoint shared;
  MemoryCheckpoint a_ckpt(&shared), b_ckpt(&shared);
  auto a = KafkaSource::Open(Options(c.mock->bootstrap(), "g-two"), a_ckpt, &a_ckpt);
  ASSERT_TRUE(a.ok());
  a_ckpt.Attach(a->get());
  std::map<std::tuple<Topic, int32_t, int64_t>, Read> got;
  int duplicates = 0;
  PollUntil({a->get()}, 300, got, 50, milliseconds(30000), &duplicates);  // A alone reads a part
  ASSERT_GE(got.size(), 300u);
  auto b = KafkaSource::Open(Options(c.mock->bootstrap(), "g-two"), b_ckpt, &b_ckpt);
  ASSERT_TRUE(b.ok());
  b_ckpt.Attach(b->get());
  // Poll both (slowly, 10 per batch) until the group settles with both members owning partitions.
  const auto deadline = steady_clock::now() + milliseconds(30000);
  while (steady_clock::now() < deadline &&
         ((*a)->Assignment().empty() || (*b)->Assignment().empty())) {
    for (KafkaSource* s : {a->get(), b->get()}) {
      auto batch = s->Poll(10, milliseconds(50));
      ASSERT_TRUE(batch.ok()) << batch.status().message();
      for (const SourceRecord& r : *batch) {
        if (!got.emplace(std::make_tuple(r.topic, r.partition.value(), r.position.value()),
                         Read{std::string(r.key), std::string(r.value), true})
                 .second) {
          ++duplicates;
        }
      }
    }
  }
  ASSERT_FALSE((*a)->Assignment().empty());
  ASSERT_FALSE((*b)->Assignment().empty());
  for (KafkaSource* s : {a->get(), b->get()}) {
    std::map<Topic, std::set<int32_t>> by_topic;
    for (const TopicPartition& tp : s->Assignment())
      by_topic[tp.topic].insert(tp.partition.value());
    ASSERT_EQ(by_topic.size(), kTopicCount);
    for (const auto& [t, parts] : by_topic)
      EXPECT_EQ(parts, by_topic.begin()->second) << "not co-partitioned";
    EXPECT_EQ(by_topic.begin()->second.size(), 2u);
  }
  const std::vector<TopicPartition> a_assignment = (*a)->Assignment();
  const std::set<TopicPartition> a_parts(a_assignment.begin(), a_assignment.end());
  for (const TopicPartition& tp : (*b)->Assignment()) EXPECT_FALSE(a_parts.contains(tp));
  // A was revoked (eager) when B joined and checkpointed then; B resumed from that checkpoint.
  ASSERT_GE(a_ckpt.revoked.size(), 1u);
  EXPECT_FALSE(a_ckpt.revoked_lost[0]);
  // Read on in both, then A leaves: B takes over A's partitions from A's checkpoint.
  PollUntil({a->get(), b->get()}, 1200, got, 25, milliseconds(30000), &duplicates);
  ASSERT_TRUE((*a)->Close().ok());
  PollUntil({b->get()}, c.records.size(), got, 200, milliseconds(30000), &duplicates);
  EXPECT_EQ(got.size(), c.records.size());
  // A may have read everything in its partitions before it left: then B has every record before the
  // rebalance that gives it A's partitions. It comes within the session timeout.
  const auto handed_over = steady_clock::now() + milliseconds(30000);
  while ((*b)->Assignment().size() != 20u && steady_clock::now() < handed_over) {
    auto batch = (*b)->Poll(200, milliseconds(50));
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    EXPECT_TRUE(batch->empty()) << "a record read twice";
  }
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ((*b)->Assignment().size(), 20u);
  ASSERT_FALSE(b_ckpt.assigned.empty());
  EXPECT_EQ(b_ckpt.assigned.back().size(), 20u);
  for (const PartitionPosition& p : b_ckpt.assigned.back()) {
    // Every partition A had read from starts at A's checkpoint.
    if (a_parts.contains(p.tp)) {
      EXPECT_EQ(p.next, shared.Get(p.tp));
    }
  }
}

TEST(KafkaSourceTest, MissingTopicIsNotFoundWithinTheBound) {
  auto mock = MockKafkaCluster::Start();
  ASSERT_TRUE(mock.ok());
  ASSERT_TRUE((*mock)->CreateTopic("vehicle_data", 2).ok());
  KafkaSourceOptions o = Options((*mock)->bootstrap(), "g-missing");
  o.connect_timeout = milliseconds(1500);
  EarliestPositions earliest;
  const auto start = steady_clock::now();
  auto src = KafkaSource::Open(o, earliest, nullptr);
  ASSERT_FALSE(src.ok());
  EXPECT_LT(steady_clock::now() - start, milliseconds(10000));
  EXPECT_EQ(src.status().kind(), ErrorKind::kNotFound);
  EXPECT_NE(src.status().message().find("gps_data"), std::string::npos) << src.status().message();
  EXPECT_NE(src.status().message().find("smartcity topics create"), std::string::npos);
}

TEST(KafkaSourceTest, TopicsWithDifferentPartitionCountsAreRefused) {
  auto mock = MockKafkaCluster::Start();
  ASSERT_TRUE(mock.ok());
  for (Topic t : kAllTopics) {
    ASSERT_TRUE(
        (*mock)->CreateTopic(std::string(DefaultTopicName(t)), t == Topic::kWeather ? 3 : 6).ok());
  }
  EarliestPositions earliest;
  auto src = KafkaSource::Open(Options((*mock)->bootstrap(), "g-uneven"), earliest, nullptr);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(src.status().message().find("weather_data has 3"), std::string::npos)
      << src.status().message();
  EXPECT_NE(src.status().message().find("co-partitioned"), std::string::npos);
}

TEST(KafkaSourceTest, AssignorsThatSplitPartitionGroupsAreRefused) {
  auto mock = MockKafkaCluster::Start();
  ASSERT_TRUE(mock.ok());
  KafkaSourceOptions o = Options((*mock)->bootstrap(), "g-strategy");
  o.kafka.properties.emplace_back("partition.assignment.strategy", "cooperative-sticky");
  EarliestPositions earliest;
  auto src = KafkaSource::Open(o, earliest, nullptr);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(src.status().message().find("needs range"), std::string::npos)
      << src.status().message();
}

TEST(KafkaSourceTest, UnreachableBrokerFailsWithinTheBound) {
  KafkaSourceOptions o;
  o.kafka.bootstrap_servers = "127.0.0.1:1";
  o.connect_timeout = milliseconds(1500);
  EarliestPositions earliest;
  const auto start = steady_clock::now();
  auto src = KafkaSource::Open(o, earliest, nullptr);
  ASSERT_FALSE(src.ok());
  EXPECT_LT(steady_clock::now() - start, milliseconds(10000));
  EXPECT_EQ(src.status().kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(src.status().IsRetryable());
  EXPECT_NE(src.status().message().find("is the broker running"), std::string::npos)
      << src.status().message();
}

TEST(KafkaSourceTest, CheckpointPastTheLogIsAnErrorNotASkip) {
  Cluster c = StartCluster(1, 2, 5);  // 10 records per topic partition
  MemoryCheckpoint ckpt;
  const PartitionPosition saved[] = {{TP(Topic::kVehicle, 0), SourcePosition(1000)}};
  ckpt.Save(saved);
  auto src = KafkaSource::Open(Options(c.mock->bootstrap(), "g-range"), ckpt, &ckpt);
  ASSERT_TRUE(src.ok());
  Status failure;
  const auto deadline = steady_clock::now() + milliseconds(20000);
  while (failure.ok() && steady_clock::now() < deadline) {
    auto batch = (*src)->Poll(100, milliseconds(100));
    if (!batch.ok()) failure = batch.status();
  }
  EXPECT_EQ(failure.kind(), ErrorKind::kCorruption) << failure.message();
  EXPECT_NE(failure.message().find("vehicle_data[0]"), std::string::npos) << failure.message();
  // It stays failed.
  EXPECT_EQ((*src)->Poll(1, milliseconds(0)).status().kind(), ErrorKind::kCorruption);
}

TEST(KafkaSourceTest, PositionStoreErrorStopsTheSource) {
  Cluster c = StartCluster(1, 2, 2);
  MemoryCheckpoint ckpt;
  ckpt.load_error = Status::IOError("cannot read checkpoint /x: permission denied");
  auto src = KafkaSource::Open(Options(c.mock->bootstrap(), "g-store"), ckpt, &ckpt);
  ASSERT_TRUE(src.ok());
  Status failure;
  const auto deadline = steady_clock::now() + milliseconds(20000);
  while (failure.ok() && steady_clock::now() < deadline) {
    auto batch = (*src)->Poll(100, milliseconds(100));
    if (!batch.ok()) failure = batch.status();
    if (batch.ok()) {
      EXPECT_TRUE(batch->empty());
    }
  }
  EXPECT_EQ(failure.kind(), ErrorKind::kIOError);
  EXPECT_TRUE((*src)->Assignment().empty());
}

// The prefetch budget sizes the fetches and the queue so that their sum stays within it; without
// one, the measured defaults.
// The lag rule over transaction markers: a member at any position between the last record returned
// before a PARTITION_EOF and the end that fetch reached has nothing left to read.
TEST(CheckCoPartitioningTest, TellsWholeFromMissingTopicsFromSplit) {
  using S = std::set<int32_t>;
  const auto check = [](std::vector<S> sets) { return CheckCoPartitioning(sets); };
  EXPECT_EQ(check({{0, 1}, {0, 1}, {0, 1}}), CoPartitioning::kWhole);
  EXPECT_EQ(check({{}, {}, {}}), CoPartitioning::kWhole);  // more members than partitions
  EXPECT_EQ(check({{}}), CoPartitioning::kWhole);
  EXPECT_EQ(check({{2}, {}, {2}}), CoPartitioning::kTopicsMissing);  // a leader without topic 2
  EXPECT_EQ(check({{}, {0, 1, 2}}), CoPartitioning::kTopicsMissing);
  EXPECT_EQ(check({{0, 1}, {0, 1, 2}, {0, 1}}), CoPartitioning::kSplit);  // another member's view
  EXPECT_EQ(check({{0}, {1}}), CoPartitioning::kSplit);
  EXPECT_EQ(check({{0}, {}, {1}}), CoPartitioning::kSplit);
}

TEST(RecordsBehindTest, SeesThroughWhatTheFetchPassedAtTheEnd) {
  const auto P = [](int64_t v) { return std::optional<SourcePosition>(SourcePosition(v)); };
  // No EOF yet: end - position, or end - earliest; unknown when neither is known.
  EXPECT_EQ(RecordsBehind(P(7), 0, 10, std::nullopt), 3);
  EXPECT_EQ(RecordsBehind(std::nullopt, 2, 10, std::nullopt), 8);
  EXPECT_EQ(RecordsBehind(std::nullopt, -1, 10, std::nullopt), std::nullopt);
  EXPECT_EQ(RecordsBehind(P(12), 0, 10, std::nullopt), 0);
  // Records up to offset 8 (position 9), then a commit marker at 9: the fetch reached 10.
  const EndReached marker{P(9), SourcePosition(10)};
  EXPECT_EQ(RecordsBehind(P(9), 0, 10, marker), 0);
  // Reading again from before the stretch (a replay, a seek back): the records before 9 count.
  EXPECT_EQ(RecordsBehind(P(4), 0, 10, marker), 6);
  // More was written since: the stretch counts as read, what follows it does not.
  EXPECT_EQ(RecordsBehind(P(9), 0, 25, marker), 15);
  EXPECT_EQ(RecordsBehind(P(20), 0, 25, marker), 5);
  // An aborted transaction and its marker are all the partition holds: nothing returned since the
  // start of the log.
  const EndReached only_markers{std::nullopt, SourcePosition(6)};
  EXPECT_EQ(RecordsBehind(std::nullopt, 0, 6, only_markers), 0);
  EXPECT_EQ(RecordsBehind(std::nullopt, -1, 6, only_markers), 0);
  EXPECT_EQ(RecordsBehind(P(3), 0, 6, only_markers), 0);
}

TEST(KafkaSourcePrefetchTest, PropertiesStayWithinTheBudget) {
  auto props = [](uint64_t bytes) {
    std::map<std::string, uint64_t> m;
    for (const auto& [k, v] : PrefetchProperties(bytes)) m[k] = std::stoull(v);
    return m;
  };
  auto d = props(0);
  EXPECT_EQ(d["max.partition.fetch.bytes"], 4u << 20);
  EXPECT_EQ(d["fetch.max.bytes"], 16u << 20);
  EXPECT_EQ(d["queued.max.messages.kbytes"], 96u << 10);
  // The client holds several times its limits: under a budget they take at most half of it.
  for (uint64_t mib : {8, 32, 64, 256, 4096}) {
    SCOPED_TRACE(std::to_string(mib) + " MiB");
    auto m = props(mib << 20);
    EXPECT_LE(m["fetch.max.bytes"] + (m["queued.max.messages.kbytes"] << 10), (mib << 20) / 2);
    EXPECT_GE(m["fetch.max.bytes"], 1u << 20);  // librdkafka's floor (message.max.bytes)
    EXPECT_LE(m["max.partition.fetch.bytes"], m["fetch.max.bytes"]);
    EXPECT_GE(m["max.partition.fetch.bytes"], 256u << 10);
  }
  EXPECT_EQ(props(4096ull << 20)["queued.max.messages.kbytes"], 96u << 10);  // as without a budget
  auto share = props(32ull << 20);  // --memory-limit 256: the transport's eighth
  EXPECT_EQ(share["fetch.max.bytes"], 2u << 20);
  EXPECT_EQ(share["max.partition.fetch.bytes"], 512u << 10);
  EXPECT_EQ(share["queued.max.messages.kbytes"], 8u << 10);
}

}  // namespace
}  // namespace smartcity
