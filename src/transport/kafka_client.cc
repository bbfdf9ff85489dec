#include "transport/kafka_client.h"

#include <cstring>

namespace smartcity {

bool IsSecretKafkaProperty(std::string_view name) {
  for (std::string_view s : {"password", "secret", "token", "key.pem", "keystore", "sasl.oauthbearer.config",
                             "ssl.key", "jaas"}) {
    if (name.find(s) != std::string_view::npos) return true;
  }
  return false;
}

Result<RdKafkaConfPtr> MakeKafkaConf(const KafkaOptions& options,
                                     const std::vector<std::pair<std::string, std::string>>& defaults) {
  RdKafkaConfPtr conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      const std::string shown = IsSecretKafkaProperty(k) ? "<hidden>" : v;
      return Status::InvalidArgument("Kafka property " + k + "=" + shown + " is not accepted: " + err);
    }
    return Status::OK();
  };
  if (options.bootstrap_servers.empty()) {
    return Status::InvalidArgument("no Kafka bootstrap servers given: set --bootstrap-servers or KAFKA_BOOTSTRAP_SERVERS");
  }
  SC_RETURN_IF_ERROR(set("bootstrap.servers", options.bootstrap_servers));
  SC_RETURN_IF_ERROR(set("client.id", options.client_id));
  // librdkafka logs to stderr by default; keep it quiet unless it matters.
  SC_RETURN_IF_ERROR(set("log_level", "3"));
  for (const auto& [k, v] : defaults) SC_RETURN_IF_ERROR(set(k, v));
  for (const auto& [k, v] : options.properties) SC_RETURN_IF_ERROR(set(k, v));
  return conf;
}

Result<RdKafkaPtr> MakeKafkaHandle(rd_kafka_type_t type, RdKafkaConfPtr conf) {
  char err[512];
  // rd_kafka_new takes ownership of conf only on success.
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) {
    return Status::InvalidArgument(std::string("cannot create the Kafka ") +
                                   (type == RD_KAFKA_PRODUCER ? "producer" : "consumer") + ": " + err);
  }
  (void)conf.release();
  return RdKafkaPtr(rk);
}

Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
  std::string m(context);
  m += ": ";
  m += detail.empty() ? rd_kafka_err2str(err) : std::string(detail);
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
      return Status::Unavailable(m + " (is the broker running? check --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS)");
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Status::Timeout(m + " (the cluster did not answer in time: is it reachable and healthy?)");
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return Status::Unavailable(m);
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::NotFound(m + " (create the topics with: smartcity topics create)");
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return Status::AlreadyExists(m);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return Status::PermissionDenied(m + " (check the credentials and ACLs for this client)");
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return Status::ResourceExhausted(m + " (raise message.max.bytes on the topic and the client)");
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return Status::InvalidArgument(m);
    default:
      return Status::Unavailable(m);
  }
}

uint32_t KafkaMurmur2(std::string_view key) {
  // Kafka's org.apache.kafka.common.utils.Utils.murmur2: seed 0x9747b28c, m = 0x5bd1e995, r = 24,
  // little-endian 4-byte blocks, tail bytes folded in reverse order.
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const uint32_t length = static_cast<uint32_t>(key.size());
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  uint32_t h = kSeed ^ length;
  const uint32_t length4 = length / 4;
  for (uint32_t i = 0; i < length4; ++i) {
    const uint32_t i4 = i * 4;
    uint32_t k = static_cast<uint32_t>(data[i4]) | (static_cast<uint32_t>(data[i4 + 1]) << 8) |
                 (static_cast<uint32_t>(data[i4 + 2]) << 16) | (static_cast<uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3: h ^= static_cast<uint32_t>(data[(length & ~3u) + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(data[(length & ~3u) + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(data[length & ~3u]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

int32_t JavaPartitionForKey(std::string_view key, int32_t partition_count) {
  return static_cast<int32_t>((KafkaMurmur2(key) & 0x7fffffffu) % static_cast<uint32_t>(partition_count));
}

}  // namespace smartcity
