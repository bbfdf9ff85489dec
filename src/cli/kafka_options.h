// Kafka options shared by every command that talks to Kafka (simulate --kafka, topics, stream):
// where the cluster is (--bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS), extra librdkafka properties
// (-X key=value, repeatable, applied last so they can override anything, e.g. security settings),
// and, for producers, compression and the delivery bounds.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"
#include "transport/kafka_client.h"
#include "transport/kafka_sink.h"

namespace smartcity::cli {

struct KafkaConnectionArgs {
  KafkaOptions kafka;
  std::vector<std::string> property_texts;  // -X key=value

  // Parses -X into kafka.properties and takes the topic names in use. InvalidArgument naming a bad
  // -X.
  Status Finish(const TopicNames& topics);
};

struct KafkaProducerArgs {
  KafkaSinkOptions sink;
  Micros delivery_timeout{std::chrono::seconds(30)};
  Micros connect_timeout{std::chrono::seconds(10)};
  Micros linger{std::chrono::milliseconds(20)};

  Status Finish();
};

void AddKafkaConnectionOptions(CLI::App* app, KafkaConnectionArgs* args);
void AddKafkaProducerOptions(CLI::App* app, KafkaProducerArgs* args);

// Splits "key=value" (the value may contain '='); InvalidArgument when there is no '=' or no key.
Result<std::pair<std::string, std::string>> ParseKafkaProperty(std::string_view text);

}  // namespace smartcity::cli
