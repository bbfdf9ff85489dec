#include "cli/kafka_options.h"

namespace smartcity::cli {

namespace {
constexpr const char* kGroup = "Kafka";
}

Result<std::pair<std::string, std::string>> ParseKafkaProperty(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument(
        "-X expects a librdkafka property as key=value, e.g. -X linger.ms=50, not '" +
        std::string(text) + "'");
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

Status KafkaConnectionArgs::Finish(const TopicNames& topics) {
  kafka.topics = topics;
  kafka.properties.clear();
  for (const std::string& t : property_texts) {
    SC_ASSIGN_OR_RETURN(auto kv, ParseKafkaProperty(t));
    kafka.properties.push_back(std::move(kv));
  }
  if (kafka.bootstrap_servers.empty()) {
    return Status::InvalidArgument(
        "--bootstrap-servers is empty: give host:port[,host:port...] of the Kafka cluster");
  }
  return Status::OK();
}

Status KafkaProducerArgs::Finish() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  if (delivery_timeout < milliseconds(1))
    return Status::InvalidArgument("--delivery-timeout must be at least 1ms");
  if (connect_timeout < milliseconds(1))
    return Status::InvalidArgument("--connect-timeout must be at least 1ms");
  sink.delivery_timeout = duration_cast<milliseconds>(delivery_timeout);
  sink.connect_timeout = duration_cast<milliseconds>(connect_timeout);
  sink.linger = duration_cast<milliseconds>(linger);
  return Status::OK();
}

void AddKafkaConnectionOptions(CLI::App* app, KafkaConnectionArgs* args) {
  app->add_option("--bootstrap-servers", args->kafka.bootstrap_servers,
                  "Kafka brokers, host:port[,host:port...]")
      ->envname("KAFKA_BOOTSTRAP_SERVERS")
      ->capture_default_str()
      ->group(kGroup);
  app->add_option("-X,--kafka-property", args->property_texts,
                  "A librdkafka property key=value, repeatable (e.g. -X "
                  "security.protocol=SASL_SSL); applied last")
      ->type_name("KEY=VALUE")
      ->check([](const std::string& v) -> std::string {
        auto kv = ParseKafkaProperty(v);
        return kv.ok() ? std::string() : kv.status().message();
      })
      ->group(kGroup);
  app->add_option("--client-id", args->kafka.client_id, "Kafka client.id, as the brokers log it")
      ->capture_default_str()
      ->group(kGroup);
}

void AddKafkaProducerOptions(CLI::App* app, KafkaProducerArgs* args) {
  app->add_option("--compression", args->sink.compression,
                  "Producer compression: lz4, zstd, snappy, gzip or none")
      ->check(CLI::IsMember({"lz4", "zstd", "snappy", "gzip", "none"}))
      ->capture_default_str()
      ->group(kGroup);
  AddDurationOption(
      app, "--delivery-timeout", &args->delivery_timeout,
      "Give up on an event not acknowledged by Kafka within this time (retries included); it is "
      "counted as failed and the run exits non-zero")
      ->group(kGroup);
  AddDurationOption(app, "--connect-timeout", &args->connect_timeout,
                    "How long to wait for the cluster to answer before starting")
      ->group(kGroup);
  AddDurationOption(app, "--linger", &args->linger,
                    "How long the producer waits to fill a batch (linger.ms)")
      ->group(kGroup);
}

}  // namespace smartcity::cli
