// KafkaSink against librdkafka's mock cluster (an in-process Kafka protocol implementation on
// loopback): delivery accounting, the Java partition of each key, retries without loss, duplicates
// or reordering, and the clear errors for an unreachable cluster or a missing topic. The mock
// checks idempotent sequence numbers only for transactional producers, so "the broker appended but
// its answer was lost, the retry must not duplicate" is proven against the real broker
// (kafka_sink_itest.cc, broker killed mid-run), not here.
#include "transport/kafka_sink.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "transport/kafka_read_testutil.h"

namespace smartcity {
namespace {

using std::chrono::milliseconds;

constexpr int16_t kProduceApiKey = 0;

// A mock cluster of `brokers` brokers with the five topics.
class MockCluster {
 public:
  explicit MockCluster(int brokers, int partitions = 6, bool with_emergency_topic = true) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc_ = rd_kafka_mock_cluster_new(rk_, brokers);
    for (Topic t : kAllTopics) {
      if (t == Topic::kEmergency && !with_emergency_topic) continue;
      rd_kafka_mock_topic_create(mc_, std::string(DefaultTopicName(t)).c_str(), partitions,
                                 brokers >= 3 ? 3 : 1);
    }
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  rd_kafka_mock_cluster_t* get() { return mc_; }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* mc_;
};

// Messages for `devices` devices round-robin, `per_topic` per topic; the value carries the topic,
// device and a per-device sequence number so order and duplicates can be checked.
struct Batch {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<Message> messages;
};

Batch MakeBatch(int per_topic, int devices, int first_seq = 0) {
  Batch b;
  for (Topic t : kAllTopics) {
    for (int i = 0; i < per_topic; ++i) {
      const int device = i % devices;
      const int seq = first_seq + i / devices;
      b.keys.push_back("vehicle-" + std::to_string(device));
      b.values.push_back("{\"topic\":\"" + std::string(DefaultTopicName(t)) +
                         "\",\"deviceId\":\"vehicle-" + std::to_string(device) +
                         "\",\"seq\":" + std::to_string(seq) + "}");
    }
  }
  size_t k = 0;
  for (Topic t : kAllTopics) {
    for (int i = 0; i < per_topic; ++i, ++k) {
      b.messages.push_back(Message{t, b.keys[k], b.values[k], EventTime{}, true});
    }
  }
  return b;
}

int SeqOf(const std::string& value) {
  return std::stoi(value.substr(value.rfind(':') + 1));
}

KafkaOptions OptionsFor(const MockCluster& c) {
  KafkaOptions o;
  o.bootstrap_servers = c.bootstraps();
  return o;
}

// A loopback port nobody listens on.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

uint64_t Sum(const std::array<uint64_t, kTopicCount>& a) {
  uint64_t n = 0;
  for (uint64_t v : a) n += v;
  return n;
}

TEST(KafkaSinkTest, CountsEveryDeliveryPerTopic) {
  MockCluster cluster(1);
  auto sink = KafkaSink::Open(OptionsFor(cluster), KafkaSinkOptions{});
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  Batch b = MakeBatch(500, 10);
  ASSERT_TRUE((*sink)->Write(b.messages).ok());
  ASSERT_TRUE((*sink)->Flush(milliseconds(30'000)).ok());
  const SinkCounters& c = (*sink)->counters();
  uint64_t bytes = 0;
  for (const auto& v : b.values) bytes += v.size();
  for (size_t t = 0; t < kTopicCount; ++t) {
    EXPECT_EQ(c.sent[t], 500u);
    EXPECT_EQ(c.delivered[t], 500u);
    EXPECT_EQ(c.failed[t], 0u);
  }
  EXPECT_EQ(c.bytes, bytes);
  EXPECT_EQ((*sink)->partition_count(Topic::kGps), 6);
  EXPECT_NE((*sink)->Describe().find(cluster.bootstraps()), std::string::npos);
}

TEST(KafkaSinkTest, KeysLandOnTheJavaPartitionInOrderExactlyOnce) {
  MockCluster cluster(1);
  auto sink = KafkaSink::Open(OptionsFor(cluster), KafkaSinkOptions{});
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  const int kPerTopic = 3000, kDevices = 37;
  // Several writes, as the simulator does tick by tick.
  for (int part = 0; part < 3; ++part) {
    Batch b = MakeBatch(kPerTopic / 3, kDevices, part * (kPerTopic / 3 / kDevices + 1));
    ASSERT_TRUE((*sink)->Write(b.messages).ok());
  }
  ASSERT_TRUE((*sink)->Flush(milliseconds(30'000)).ok());

  for (Topic t : {Topic::kVehicle, Topic::kWeather}) {
    const auto records = ReadWholeTopic(cluster.bootstraps(), std::string(DefaultTopicName(t)), 6);
    ASSERT_EQ(records.size(), static_cast<size_t>(kPerTopic));
    std::map<std::string, std::vector<int>> seqs;  // per key, in (partition, offset) order
    std::set<std::string> distinct;
    std::set<int32_t> used_partitions;
    for (const StoredRecord& r : records) {
      EXPECT_EQ(r.partition, JavaPartitionForKey(r.key, 6)) << r.key;
      used_partitions.insert(r.partition);
      seqs[r.key].push_back(SeqOf(r.value));
      distinct.insert(r.value);
    }
    EXPECT_EQ(distinct.size(), records.size()) << "duplicates in " << DefaultTopicName(t);
    EXPECT_GT(used_partitions.size(), 1u)
        << "37 keys all on one partition: the partitioner is not murmur2";
    for (const auto& [key, s] : seqs) {
      EXPECT_TRUE(std::is_sorted(s.begin(), s.end())) << "order broken for " << key;
    }
  }
}

TEST(KafkaSinkTest, RetriesInjectedProduceErrorsWithoutDuplicatesOrLoss) {
  MockCluster cluster(1);
  // The next produce requests fail with retriable errors, and one connection is dropped.
  rd_kafka_mock_push_request_errors(
      cluster.get(), kProduceApiKey, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  auto sink = KafkaSink::Open(OptionsFor(cluster), KafkaSinkOptions{});
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  Batch b = MakeBatch(2000, 11);
  ASSERT_TRUE((*sink)->Write(b.messages).ok());
  ASSERT_TRUE((*sink)->Flush(milliseconds(30'000)).ok());
  EXPECT_EQ(Sum((*sink)->counters().delivered), 5u * 2000u);
  EXPECT_EQ(Sum((*sink)->counters().failed), 0u);

  const auto records = ReadWholeTopic(cluster.bootstraps(), "vehicle_data", 6);
  std::set<std::string> distinct;
  std::map<std::string, std::vector<int>> seqs;
  for (const StoredRecord& r : records) {
    distinct.insert(r.value);
    seqs[r.key].push_back(SeqOf(r.value));
  }
  EXPECT_EQ(records.size(), 2000u);
  EXPECT_EQ(distinct.size(), 2000u);
  for (const auto& [key, s] : seqs) EXPECT_TRUE(std::is_sorted(s.begin(), s.end())) << key;
}

TEST(KafkaSinkTest, SurvivesAFullQueueByWaitingNotDropping) {
  MockCluster cluster(1);
  KafkaOptions o = OptionsFor(cluster);
  o.properties.push_back({"queue.buffering.max.messages", "64"});
  KafkaSinkOptions so;
  so.linger = milliseconds(1);
  auto sink = KafkaSink::Open(o, so);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  Batch b = MakeBatch(2000, 5);
  ASSERT_TRUE((*sink)->Write(b.messages).ok());
  ASSERT_TRUE((*sink)->Flush(milliseconds(30'000)).ok());
  EXPECT_EQ(Sum((*sink)->counters().delivered), 10'000u);
  EXPECT_EQ(ReadWholeTopic(cluster.bootstraps(), "gps_data", 6).size(), 2000u);
}

TEST(KafkaSinkTest, UnreachableClusterIsAClearErrorWithinTheBound) {
  KafkaOptions o;
  o.bootstrap_servers = "127.0.0.1:" + std::to_string(ClosedPort());
  KafkaSinkOptions so;
  so.connect_timeout = milliseconds(1500);
  auto sink = KafkaSink::Open(o, so);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(sink.status().message(),
            "cannot reach Kafka at " + o.bootstrap_servers +
                " within 1.5s: is the broker running? set --bootstrap-servers / "
                "KAFKA_BOOTSTRAP_SERVERS");
}

TEST(KafkaSinkTest, MissingTopicIsNotFoundNamingItAndTheFix) {
  MockCluster cluster(1, 6, /*with_emergency_topic=*/false);
  auto sink = KafkaSink::Open(OptionsFor(cluster), KafkaSinkOptions{});
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().kind(), ErrorKind::kNotFound);
  EXPECT_NE(sink.status().message().find("topic 'emergency_data' does not exist"),
            std::string::npos)
      << sink.status().message();
  EXPECT_NE(sink.status().message().find("create it with: smartcity topics create"),
            std::string::npos);
}

TEST(KafkaSinkTest, RenamedTopicsAreTheOnesChecked) {
  MockCluster cluster(1);
  KafkaOptions o = OptionsFor(cluster);
  o.topics[Topic::kGps] = "gps_v2";
  auto sink = KafkaSink::Open(o, KafkaSinkOptions{});
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("'gps_v2'"), std::string::npos) << sink.status().message();
}

TEST(KafkaSinkTest, BrokerGoneMidRunFailsEveryUnacknowledgedEventWithinTheDeliveryTimeout) {
  MockCluster cluster(1);
  KafkaSinkOptions so;
  so.delivery_timeout = milliseconds(1500);
  auto sink = KafkaSink::Open(OptionsFor(cluster), so);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  Batch first = MakeBatch(200, 4);
  ASSERT_TRUE((*sink)->Write(first.messages).ok());
  ASSERT_TRUE((*sink)->Flush(milliseconds(30'000)).ok());
  rd_kafka_mock_broker_set_down(cluster.get(), 1);
  Batch second = MakeBatch(200, 4, 1000);
  Status w = (*sink)->Write(second.messages);  // may already see failures, or not yet
  const Status flushed = (*sink)->Flush(milliseconds(30'000));
  ASSERT_FALSE(flushed.ok());
  EXPECT_EQ(flushed.kind(), ErrorKind::kTimeout) << flushed.message();
  EXPECT_NE(flushed.message().find("were not acknowledged"), std::string::npos)
      << flushed.message();
  const SinkCounters& c = (*sink)->counters();
  EXPECT_EQ(Sum(c.delivered), 1000u);
  EXPECT_EQ(Sum(c.failed), Sum(c.sent) - 1000u);
  EXPECT_GT(Sum(c.failed), 0u);
  // Once failed, the sink refuses more work with the same error instead of losing it silently.
  Status again = (*sink)->Write(first.messages);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.message(), flushed.message());
  (void)w;
}

TEST(KafkaSinkTest, FlushThatRunsOutOfTimeCountsTheRestAsFailed) {
  MockCluster cluster(1);
  auto sink = KafkaSink::Open(OptionsFor(cluster), KafkaSinkOptions{});  // 30 s delivery timeout
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  rd_kafka_mock_broker_set_down(cluster.get(), 1);
  Batch b = MakeBatch(100, 3);
  ASSERT_TRUE((*sink)->Write(b.messages).ok());
  const Status flushed = (*sink)->Flush(milliseconds(500));
  ASSERT_FALSE(flushed.ok());
  EXPECT_EQ(flushed.kind(), ErrorKind::kTimeout);
  const SinkCounters& c = (*sink)->counters();
  EXPECT_EQ(Sum(c.sent), 500u);
  EXPECT_EQ(Sum(c.delivered) + Sum(c.failed), 500u) << "every message has an outcome";
}

TEST(KafkaSinkTest, BadPropertyOrCodecIsInvalidArgument) {
  MockCluster cluster(1);
  KafkaOptions o = OptionsFor(cluster);
  o.properties.push_back({"linger.ms", "soon"});
  auto sink = KafkaSink::Open(o, KafkaSinkOptions{});
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(sink.status().message().find("linger.ms"), std::string::npos);

  KafkaSinkOptions so;
  so.compression = "brotli";
  auto sink2 = KafkaSink::Open(OptionsFor(cluster), so);
  ASSERT_FALSE(sink2.ok());
  EXPECT_EQ(sink2.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(sink2.status().message().find("compression"), std::string::npos)
      << sink2.status().message();
}

}  // namespace
}  // namespace smartcity
