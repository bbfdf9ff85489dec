// The one place librdkafka is wrapped: configuration, handle ownership, error mapping and the
// Java-compatible partitioner. Producers, consumers and the admin client all build on this.
//
// Error messages never contain secrets: property values are only echoed for non-secret keys.
//
// Thread-safety: the helpers are stateless; librdkafka handles are thread-safe as librdkafka
// documents.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/named_type.h"
#include "common/status.h"
#include "transport/message.h"

namespace smartcity {

// Where Kafka is and how to talk to it; shared by every Kafka command.
struct KafkaOptions {
  std::string bootstrap_servers = "127.0.0.1:9092";  // KAFKA_BOOTSTRAP_SERVERS
  std::string client_id = "smartcity";
  // Extra librdkafka properties ("-X key=value"), applied last so a user can override anything,
  // e.g. security.protocol=SASL_SSL for a managed cluster.
  std::vector<std::pair<std::string, std::string>> properties;
  TopicNames topics;
};

struct RdKafkaConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct RdKafkaDeleter {
  void operator()(rd_kafka_t* k) const { rd_kafka_destroy(k); }
};
struct RdKafkaTopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using RdKafkaConfPtr = std::unique_ptr<rd_kafka_conf_t, RdKafkaConfDeleter>;
using RdKafkaPtr = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
using RdKafkaPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, RdKafkaTopicPartitionListDeleter>;

// Builds a configuration: bootstrap servers and client id from `options`, then `defaults` (the
// caller's settings, e.g. enable.idempotence=true), then options.properties. An unknown property or
// bad value is an InvalidArgument naming the property.
Result<RdKafkaConfPtr> MakeKafkaConf(
    const KafkaOptions& options, const std::vector<std::pair<std::string, std::string>>& defaults);

// Creates a producer or consumer handle; takes ownership of `conf` in every case.
Result<RdKafkaPtr> MakeKafkaHandle(rd_kafka_type_t type, RdKafkaConfPtr conf);

// Maps a librdkafka error to a Status with a sentence a user can act on; `context` says what was
// being done ("producing to vehicle_data"). Transport-level errors (broker down, timeouts) are
// kUnavailable or kTimeout so callers know a retry can help.
Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail = {});

// True for property names whose values must never be printed (passwords, keys, tokens).
bool IsSecretKafkaProperty(std::string_view name);

// ---- Cluster metadata -------------------------------------------------------------------------

struct PartitionMetadata {
  PartitionId id{0};
  int32_t leader = -1;  // broker id, -1 when the partition has no leader now
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  Status error;  // e.g. LEADER_NOT_AVAILABLE while a broker is down
};

struct TopicMetadata {
  std::string name;
  Status error;  // NotFound when the topic does not exist
  std::vector<PartitionMetadata> partitions;
};

struct BrokerMetadata {
  int32_t id = 0;
  std::string host;
  int port = 0;
};

struct ClusterMetadata {
  std::vector<BrokerMetadata> brokers;
  std::vector<TopicMetadata> topics;  // every topic the cluster reported
  // The topic named `name`, or nullptr when the cluster did not report it.
  const TopicMetadata* Find(std::string_view name) const;
};

// Asks the cluster for its brokers and topics (all of them: asking for one by name could
// auto-create it on brokers with auto.create.topics.enable). Bounded by `timeout`; a cluster that
// cannot be reached in that time is an Unavailable "cannot reach Kafka at <bootstrap> within Ns:
// ...".
Result<ClusterMetadata> FetchClusterMetadata(rd_kafka_t* rk, std::string_view bootstrap_servers,
                                             std::chrono::milliseconds timeout);

// The sentence every Kafka command uses when the cluster does not answer.
Status KafkaUnreachable(std::string_view bootstrap_servers, std::chrono::milliseconds waited,
                        std::string_view detail = {});

// ---- Admin -------------------------------------------------------------------------------------

struct NewTopicSpec {
  std::string name;
  int32_t partitions = 6;
  int16_t replication_factor = 1;
  std::vector<std::pair<std::string, std::string>> configs;  // e.g. retention.ms, compression.type
};

// The outcome of an admin operation for one topic: OK, or why not (AlreadyExists, NotFound,
// InvalidArgument for an impossible setting, ...).
struct TopicOutcome {
  std::string name;
  Status status;
};

struct ConfigValue {
  std::string name;
  std::string value;  // "<hidden>" for sensitive entries
  bool is_default = false;
  std::string
      source;  // librdkafka's name of where the value comes from (DYNAMIC_TOPIC_CONFIG, ...)
};

struct TopicConfigs {
  std::string name;
  Status status;
  std::vector<ConfigValue> entries;
};

// KafkaAdmin: topic administration over librdkafka's Admin API (CreateTopics, DeleteTopics,
// DescribeConfigs) plus metadata. Each call waits for its result at most `timeout`.
// Thread-safety: one thread at a time.
class KafkaAdmin {
 public:
  static Result<std::unique_ptr<KafkaAdmin>> Open(const KafkaOptions& options);

  Result<ClusterMetadata> Metadata(std::chrono::milliseconds timeout);
  // One outcome per spec, in order. An error of the whole request (cluster unreachable) is the
  // Result's. Returns once the created topics have leaders in the cluster's metadata.
  Result<std::vector<TopicOutcome>> CreateTopics(const std::vector<NewTopicSpec>& specs,
                                                 std::chrono::milliseconds timeout);
  // Waits until the metadata shows each topic with a leader for every partition (Timeout after
  // `timeout`). CreateTopics does this for the topics it created.
  Status WaitForTopics(const std::vector<std::string>& names, std::chrono::milliseconds timeout);
  Result<std::vector<TopicOutcome>> DeleteTopics(const std::vector<std::string>& names,
                                                 std::chrono::milliseconds timeout);
  Result<std::vector<TopicConfigs>> DescribeTopicConfigs(const std::vector<std::string>& names,
                                                         std::chrono::milliseconds timeout);

  const std::string& bootstrap_servers() const { return bootstrap_; }

 private:
  KafkaAdmin(RdKafkaPtr rk, std::string bootstrap)
      : rk_(std::move(rk)), bootstrap_(std::move(bootstrap)) {}
  // Waits for the admin result event of one request; returns it (caller destroys) or the error.
  Result<rd_kafka_event_t*> AwaitResult(rd_kafka_queue_t* queue, std::chrono::milliseconds timeout,
                                        std::string_view what);

  RdKafkaPtr rk_;
  std::string bootstrap_;
};

// Kafka's murmur2 (the Java client's Utils.murmur2) and the partition the Java client's default
// partitioner picks for a non-null key: (murmur2(key) & 0x7fffffff) % partitions. librdkafka's
// "murmur2_random" partitioner computes the same for keyed messages.
uint32_t KafkaMurmur2(std::string_view key);
int32_t JavaPartitionForKey(std::string_view key, int32_t partition_count);

}  // namespace smartcity
