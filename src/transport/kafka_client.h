// The one place librdkafka is wrapped: configuration, handle ownership, error mapping and the
// Java-compatible partitioner. Producers, consumers and the admin client all build on this.
//
// Error messages never contain secrets: property values are only echoed for non-secret keys.
//
// Thread-safety: the helpers are stateless; librdkafka handles are thread-safe as librdkafka documents.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using RdKafkaConfPtr = std::unique_ptr<rd_kafka_conf_t, RdKafkaConfDeleter>;
using RdKafkaPtr = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
using RdKafkaPartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, RdKafkaTopicPartitionListDeleter>;

// Builds a configuration: bootstrap servers and client id from `options`, then `defaults` (the
// caller's settings, e.g. enable.idempotence=true), then options.properties. An unknown property or
// bad value is an InvalidArgument naming the property.
Result<RdKafkaConfPtr> MakeKafkaConf(const KafkaOptions& options,
                                     const std::vector<std::pair<std::string, std::string>>& defaults);

// Creates a producer or consumer handle; takes ownership of `conf` in every case.
Result<RdKafkaPtr> MakeKafkaHandle(rd_kafka_type_t type, RdKafkaConfPtr conf);

// Maps a librdkafka error to a Status with a sentence a user can act on; `context` says what was being
// done ("producing to vehicle_data"). Transport-level errors (broker down, timeouts) are kUnavailable
// or kTimeout so callers know a retry can help.
Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail = {});

// True for property names whose values must never be printed (passwords, keys, tokens).
bool IsSecretKafkaProperty(std::string_view name);

// Kafka's murmur2 (the Java client's Utils.murmur2) and the partition the Java client's default
// partitioner picks for a non-null key: (murmur2(key) & 0x7fffffff) % partitions. librdkafka's
// "murmur2_random" partitioner computes the same for keyed messages.
uint32_t KafkaMurmur2(std::string_view key);
int32_t JavaPartitionForKey(std::string_view key, int32_t partition_count);

}  // namespace smartcity
