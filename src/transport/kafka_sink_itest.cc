// KafkaSink and KafkaAdmin against a real 3-node Apache Kafka cluster (LocalKafkaCluster): topics
// with replication factor 3 are created through our admin wrapper, then events are produced while
// one node is SIGKILLed and later restarted. Whatever the sink reports as delivered must be in
// Kafka exactly once, in per-key order, on the Java client's partition for its key: the killed
// node's in-flight batches are retried against new leaders, and only the idempotent producer keeps
// a batch that was appended before its acknowledgement was lost from being written twice.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "transport/kafka_cluster_testutil.h"
#include "transport/kafka_read_testutil.h"
#include "transport/kafka_sink.h"

namespace smartcity {
namespace {

using std::chrono::milliseconds;

class KafkaSinkITest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = LocalKafkaCluster::Start(3);
    ASSERT_TRUE(c.ok()) << c.status().message();
    cluster_ = std::move(*c).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    if (cluster_ == nullptr) GTEST_SKIP() << "no cluster";
  }
  static KafkaOptions Options() {
    KafkaOptions o;
    o.bootstrap_servers = cluster_->bootstrap();
    return o;
  }
  static LocalKafkaCluster* cluster_;
};
LocalKafkaCluster* KafkaSinkITest::cluster_ = nullptr;

std::vector<NewTopicSpec> FiveTopics(int partitions, int16_t replication) {
  std::vector<NewTopicSpec> specs;
  for (Topic t : kAllTopics) {
    specs.push_back({std::string(DefaultTopicName(t)),
                     partitions,
                     replication,
                     {{"min.insync.replicas", "2"}}});
  }
  return specs;
}

// Our admin wrapper on a real cluster: create (idempotent), describe, impossible settings, delete.
void CheckAdmin(const KafkaOptions& options) {
  auto admin = KafkaAdmin::Open(options);
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  std::vector<NewTopicSpec> specs = {{"admin_probe", 4, 3, {{"retention.ms", "3600000"}}}};
  auto first = (*admin)->CreateTopics(specs, milliseconds(30'000));
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_TRUE((*first)[0].status.ok()) << (*first)[0].status.message();
  auto again = (*admin)->CreateTopics(specs, milliseconds(30'000));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].status.kind(), ErrorKind::kAlreadyExists);

  // Metadata is eventually consistent across brokers: the one answering may learn of the new topic
  // a moment after the one that created it. Wait (bounded) until it lists it.
  auto md = (*admin)->Metadata(milliseconds(10'000));
  ASSERT_TRUE(md.ok()) << md.status().message();
  for (int i = 0; i < 100 && md->Find("admin_probe") == nullptr; ++i) {
    std::this_thread::sleep_for(milliseconds(200));
    md = (*admin)->Metadata(milliseconds(10'000));
    ASSERT_TRUE(md.ok()) << md.status().message();
  }
  EXPECT_EQ(md->brokers.size(), 3u);
  const TopicMetadata* tm = md->Find("admin_probe");
  ASSERT_NE(tm, nullptr);
  ASSERT_EQ(tm->partitions.size(), 4u);
  for (const PartitionMetadata& p : tm->partitions) EXPECT_EQ(p.replicas.size(), 3u);

  // Configs are eventually consistent too: the answering broker may not have applied the topic's
  // config record yet (seen on a loaded machine). Ask again (bounded) until it shows the override.
  bool saw_retention = false;
  for (int i = 0; i < 100 && !saw_retention; ++i) {
    if (i > 0) std::this_thread::sleep_for(milliseconds(200));
    auto configs = (*admin)->DescribeTopicConfigs({"admin_probe"}, milliseconds(30'000));
    ASSERT_TRUE(configs.ok()) << configs.status().message();
    for (const ConfigValue& v : (*configs)[0].entries) {
      if (v.name == "retention.ms" && !v.is_default) {
        saw_retention = true;
        EXPECT_EQ(v.value, "3600000");
      }
    }
  }
  EXPECT_TRUE(saw_retention) << "retention.ms=3600000 never showed as the topic's own setting";

  auto impossible = (*admin)->CreateTopics({{"too_many_replicas", 1, 4, {}}}, milliseconds(30'000));
  ASSERT_TRUE(impossible.ok());
  EXPECT_EQ((*impossible)[0].status.kind(), ErrorKind::kInvalidArgument)
      << (*impossible)[0].status.message();

  auto deleted = (*admin)->DeleteTopics({"admin_probe"}, milliseconds(30'000));
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE((*deleted)[0].status.ok()) << (*deleted)[0].status.message();
  auto gone = (*admin)->DeleteTopics({"admin_probe"}, milliseconds(30'000));
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ((*gone)[0].status.kind(), ErrorKind::kNotFound) << (*gone)[0].status.message();
}

// Produces through a SIGKILL and restart of node 2 and checks what Kafka holds.
void CheckProduceAcrossNodeKill(LocalKafkaCluster* cluster, const KafkaOptions& options) {
  constexpr int kPartitions = 6;
  auto admin = KafkaAdmin::Open(options);
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  auto created = (*admin)->CreateTopics(FiveTopics(kPartitions, 3), milliseconds(60'000));
  ASSERT_TRUE(created.ok()) << created.status().message();
  for (const TopicOutcome& o : *created) ASSERT_TRUE(o.status.ok()) << o.status.message();

  KafkaSinkOptions so;
  so.delivery_timeout = milliseconds(180'000);  // outlasts the node's fencing and restart
  so.connect_timeout = milliseconds(30'000);
  auto sink = KafkaSink::Open(options, so);
  ASSERT_TRUE(sink.ok()) << sink.status().message();

  // 120 rounds of 25 devices x 5 topics, spread over time so the kill lands mid-stream.
  constexpr int kRounds = 120, kDevices = 25;
  std::vector<std::string> keys, values;
  std::vector<Message> batch;
  for (int round = 0; round < kRounds; ++round) {
    keys.clear();
    values.clear();
    batch.clear();
    for (Topic t : kAllTopics) {
      for (int d = 0; d < kDevices; ++d) {
        keys.push_back("vehicle-" + std::to_string(d));
        values.push_back(std::string(DefaultTopicName(t)) + "|" + keys.back() + "|" +
                         std::to_string(round));
      }
    }
    size_t k = 0;
    for (Topic t : kAllTopics) {
      for (int d = 0; d < kDevices; ++d, ++k)
        batch.push_back(Message{t, keys[k], values[k], EventTime{}, true});
    }
    const Status w = (*sink)->Write(batch);
    ASSERT_TRUE(w.ok()) << "round " << round << ": " << w.message();
    if (round == 30) {
      ASSERT_TRUE(cluster->KillNode(2).ok());
    }
    if (round == 90) {
      ASSERT_TRUE(cluster->StartNode(2).ok());
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  const Status flushed = (*sink)->Flush(milliseconds(240'000));
  ASSERT_TRUE(flushed.ok()) << flushed.message();
  const SinkCounters& c = (*sink)->counters();
  for (size_t t = 0; t < kTopicCount; ++t) {
    EXPECT_EQ(c.delivered[t], static_cast<uint64_t>(kRounds * kDevices));
    EXPECT_EQ(c.failed[t], 0u);
  }

  for (Topic t : kAllTopics) {
    const std::string topic(DefaultTopicName(t));
    const auto records = ReadWholeTopic(cluster->bootstrap(), topic, kPartitions);
    EXPECT_EQ(records.size(), static_cast<size_t>(kRounds * kDevices)) << topic;
    std::set<std::string> distinct;
    std::map<std::string, std::vector<int>> rounds_of;  // per key, in log order
    for (const StoredRecord& r : records) {
      distinct.insert(r.value);
      EXPECT_EQ(r.partition, JavaPartitionForKey(r.key, kPartitions)) << r.key;
      rounds_of[r.key].push_back(std::stoi(r.value.substr(r.value.rfind('|') + 1)));
    }
    EXPECT_EQ(distinct.size(), records.size()) << "duplicates in " << topic;
    ASSERT_EQ(rounds_of.size(), static_cast<size_t>(kDevices)) << topic;
    for (const auto& [key, rounds] : rounds_of) {
      ASSERT_EQ(rounds.size(), static_cast<size_t>(kRounds)) << topic << " " << key;
      for (int i = 0; i < kRounds; ++i)
        ASSERT_EQ(rounds[i], i) << topic << " " << key << ": order broken";
    }
  }
}

// One test, so the suite starts the 3-node cluster once (each test runs in its own process).
TEST_F(KafkaSinkITest, AdminAndExactlyOnceProduceAcrossAKilledNode) {
  CheckAdmin(Options());
  if (HasFatalFailure()) return;
  CheckProduceAcrossNodeKill(cluster_, Options());
}

}  // namespace
}  // namespace smartcity
