#include "transport/kafka_client.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace smartcity {
namespace {

// Known values of the Java client's org.apache.kafka.common.utils.Utils.murmur2, as signed Java
// ints.
struct Murmur2Case {
  const char* key;
  int32_t java_hash;
};

// From Apache Kafka's own test, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
// (testMurmur2).
constexpr Murmur2Case kKafkaUtilsTest[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

// Published as "expected correct hash values from the kafka murmur2 impl" in Akka's
// cluster-sharding-typed Murmur2Spec (used for its Kafka-compatible shard allocation); they cover
// every tail length (1, 2, 3, 0 and 1 bytes past a 4-byte block).
constexpr Murmur2Case kAkkaMurmur2Spec[] = {
    {"1", -1993445489},    {"12", 126087238},      {"123", -267702483},
    {"1234", -1614185708}, {"12345", -1188365604},
};

TEST(KafkaMurmur2Test, MatchesKafkaUtilsTestVectors) {
  for (const auto& c : kKafkaUtilsTest) {
    EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2(c.key)), c.java_hash) << c.key;
  }
}

TEST(KafkaMurmur2Test, MatchesPublishedJavaValuesForEveryTailLength) {
  for (const auto& c : kAkkaMurmur2Spec) {
    EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2(c.key)), c.java_hash) << c.key;
  }
}

TEST(JavaPartitionForKeyTest, IsToPositiveOfMurmur2ModuloPartitions) {
  // The Java producer's partition for a keyed record (BuiltInPartitioner.partitionForKey):
  // Utils.toPositive(Utils.murmur2(key)) % numPartitions, toPositive(x) = x & 0x7fffffff.
  // Expected partitions below are derived by that formula from UtilsTest's hash values.
  struct Case {
    const char* key;
    int32_t partitions;
    int32_t expected;
  };
  constexpr Case kCases[] = {
      {"21", 6, 0},
      {"foobar", 12, 6},
      {"a-little-bit-long-string", 6, 2},
      {"a-little-bit-long-string", 12, 8},
      {"a-little-bit-longer-string", 6, 5},
      {"a-little-bit-longer-string", 12, 11},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 3, 2},
      {"abc", 6, 3},
      {"abc", 1, 0},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(JavaPartitionForKey(c.key, c.partitions), c.expected)
        << c.key << " over " << c.partitions;
  }
}

TEST(JavaPartitionForKeyTest, NegativeHashesStayInRange) {
  // A negative Java hash must be masked, not negated (-x % n would give another partition).
  for (const auto& c : kKafkaUtilsTest) {
    const int32_t p = JavaPartitionForKey(c.key, 7);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 7);
    EXPECT_EQ(p, static_cast<int32_t>((static_cast<uint32_t>(c.java_hash) & 0x7fffffffu) % 7u));
  }
}

TEST(KafkaConfTest, UnknownPropertyIsInvalidArgumentNamingIt) {
  KafkaOptions o;
  o.properties.push_back({"no.such.property", "1"});
  auto conf = MakeKafkaConf(o, {});
  ASSERT_FALSE(conf.ok());
  EXPECT_EQ(conf.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(conf.status().message().find("no.such.property"), std::string::npos);
}

TEST(KafkaConfTest, SecretValuesAreNeverEchoed) {
  KafkaOptions o;
  o.properties.push_back({"sasl.password", "hunter2"});
  o.properties.push_back({"ssl.key.password", "hunter3"});
  o.properties.push_back({"acks", "sometimes"});  // fails after the secrets were accepted
  auto conf = MakeKafkaConf(o, {});
  ASSERT_FALSE(conf.ok());
  EXPECT_EQ(conf.status().message().find("hunter"), std::string::npos);
  EXPECT_TRUE(IsSecretKafkaProperty("sasl.password"));
  EXPECT_FALSE(IsSecretKafkaProperty("bootstrap.servers"));
}

TEST(KafkaStatusTest, MapsKindsSoCallersKnowWhetherToRetry) {
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR__TRANSPORT, "x").kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "x").kind(), ErrorKind::kTimeout);
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "x").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR, "x").kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "x").kind(),
            ErrorKind::kAlreadyExists);
  EXPECT_TRUE(KafkaStatus(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
}

TEST(KafkaUnreachableTest, NamesTheAddressTheWaitAndTheFix) {
  const Status s = KafkaUnreachable("127.0.0.1:1", std::chrono::milliseconds(2500));
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(s.message(),
            "cannot reach Kafka at 127.0.0.1:1 within 2.5s: is the broker running? set "
            "--bootstrap-servers / "
            "KAFKA_BOOTSTRAP_SERVERS");
}

}  // namespace
}  // namespace smartcity
