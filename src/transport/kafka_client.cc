#include "transport/kafka_client.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/time.h"

namespace smartcity {

bool IsSecretKafkaProperty(std::string_view name) {
  for (std::string_view s : {"password", "secret", "token", "key.pem", "keystore",
                             "sasl.oauthbearer.config", "ssl.key", "jaas"}) {
    if (name.find(s) != std::string_view::npos) return true;
  }
  return false;
}

Result<RdKafkaConfPtr> MakeKafkaConf(
    const KafkaOptions& options, const std::vector<std::pair<std::string, std::string>>& defaults) {
  RdKafkaConfPtr conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      const std::string shown = IsSecretKafkaProperty(k) ? "<hidden>" : v;
      return Status::InvalidArgument("Kafka property " + k + "=" + shown +
                                     " is not accepted: " + err);
    }
    return Status::OK();
  };
  if (options.bootstrap_servers.empty()) {
    return Status::InvalidArgument(
        "no Kafka bootstrap servers given: set --bootstrap-servers or KAFKA_BOOTSTRAP_SERVERS");
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
                                   (type == RD_KAFKA_PRODUCER ? "producer" : "consumer") + ": " +
                                   err);
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
      return Status::Unavailable(
          m + " (is the broker running? check --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS)");
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return Status::Timeout(m +
                             " (the cluster did not answer in time: is it reachable and healthy?)");
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
      return Status::ResourceExhausted(m +
                                       " (raise message.max.bytes on the topic and the client)");
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
                 (static_cast<uint32_t>(data[i4 + 2]) << 16) |
                 (static_cast<uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(data[(length & ~3u) + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[(length & ~3u) + 1]) << 8;
      [[fallthrough]];
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
  return static_cast<int32_t>((KafkaMurmur2(key) & 0x7fffffffu) %
                              static_cast<uint32_t>(partition_count));
}

}  // namespace smartcity

// ---- Cluster metadata -------------------------------------------------------------------------

namespace smartcity {

namespace {

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

bool IsUnreachable(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE;
}

AdminOptionsPtr MakeAdminOptions(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                                 std::chrono::milliseconds timeout) {
  AdminOptionsPtr o(rd_kafka_AdminOptions_new(rk, op));
  char err[256];
  const int ms = static_cast<int>(timeout.count());
  (void)rd_kafka_AdminOptions_set_request_timeout(o.get(), ms, err, sizeof err);
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
    // Wait until the controller has finished the change, so a following describe sees it.
    (void)rd_kafka_AdminOptions_set_operation_timeout(o.get(), ms, err, sizeof err);
  }
  return o;
}

std::vector<TopicOutcome> TopicResults(const rd_kafka_topic_result_t** results, size_t n,
                                       std::string_view verb) {
  std::vector<TopicOutcome> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_topic_result_t* r = results[i];
    TopicOutcome o;
    o.name = rd_kafka_topic_result_name(r);
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(r);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* detail = rd_kafka_topic_result_error_string(r);
      o.status = KafkaStatus(err, std::string("cannot ") + std::string(verb) + " topic " + o.name,
                             detail != nullptr && *detail != '\0' ? detail : rd_kafka_err2str(err));
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

const TopicMetadata* ClusterMetadata::Find(std::string_view name) const {
  for (const TopicMetadata& t : topics) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Status KafkaUnreachable(std::string_view bootstrap_servers, std::chrono::milliseconds waited,
                        std::string_view detail) {
  std::string m = "cannot reach Kafka at " + std::string(bootstrap_servers) + " within " +
                  FormatDuration(waited);
  if (!detail.empty()) m += " (" + std::string(detail) + ")";
  m += ": is the broker running? set --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS";
  return Status::Unavailable(std::move(m));
}

Result<ClusterMetadata> FetchClusterMetadata(rd_kafka_t* rk, std::string_view bootstrap_servers,
                                             std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 1, nullptr, &raw, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (IsUnreachable(err)) return KafkaUnreachable(bootstrap_servers, timeout);
    return KafkaStatus(err, "cannot read metadata from Kafka at " + std::string(bootstrap_servers));
  }
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> md(raw);
  ClusterMetadata out;
  for (int i = 0; i < md->broker_cnt; ++i) {
    out.brokers.push_back({md->brokers[i].id, md->brokers[i].host, md->brokers[i].port});
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    TopicMetadata tm;
    tm.name = t.topic;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) tm.error = KafkaStatus(t.err, "topic " + tm.name);
    for (int p = 0; p < t.partition_cnt; ++p) {
      const rd_kafka_metadata_partition_t& mp = t.partitions[p];
      PartitionMetadata pm;
      pm.id = PartitionId(mp.id);
      pm.leader = mp.leader;
      pm.replicas.assign(mp.replicas, mp.replicas + mp.replica_cnt);
      pm.isr.assign(mp.isrs, mp.isrs + mp.isr_cnt);
      if (mp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        pm.error = KafkaStatus(mp.err, "partition " + std::to_string(mp.id) + " of " + tm.name);
      }
      tm.partitions.push_back(std::move(pm));
    }
    std::sort(tm.partitions.begin(), tm.partitions.end(),
              [](const PartitionMetadata& a, const PartitionMetadata& b) { return a.id < b.id; });
    out.topics.push_back(std::move(tm));
  }
  return out;
}

// ---- Admin -------------------------------------------------------------------------------------

Result<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Open(const KafkaOptions& options) {
  // Connection failures come back as one clear Status; librdkafka's log lines would only repeat
  // them.
  SC_ASSIGN_OR_RETURN(RdKafkaConfPtr conf, MakeKafkaConf(options, {{"log_level", "2"}}));
  SC_ASSIGN_OR_RETURN(RdKafkaPtr rk, MakeKafkaHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(std::move(rk), options.bootstrap_servers));
}

Result<ClusterMetadata> KafkaAdmin::Metadata(std::chrono::milliseconds timeout) {
  return FetchClusterMetadata(rk_.get(), bootstrap_, timeout);
}

Result<rd_kafka_event_t*> KafkaAdmin::AwaitResult(rd_kafka_queue_t* queue,
                                                  std::chrono::milliseconds timeout,
                                                  std::string_view what) {
  // The request itself is bounded by the admin options' timeout; the extra second lets its own
  // timeout result arrive before we give up waiting for it.
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  if (ev == nullptr)
    return KafkaUnreachable(bootstrap_, timeout, std::string(what) + " got no answer");
  const rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const std::string detail = rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
    if (IsUnreachable(err))
      return KafkaUnreachable(bootstrap_, timeout, std::string(what) + " timed out");
    return KafkaStatus(err, std::string(what) + " failed", detail);
  }
  return ev;
}

Result<std::vector<TopicOutcome>> KafkaAdmin::CreateTopics(const std::vector<NewTopicSpec>& specs,
                                                           std::chrono::milliseconds timeout) {
  std::vector<rd_kafka_NewTopic_t*> topics;
  auto free_topics = [&] { rd_kafka_NewTopic_destroy_array(topics.data(), topics.size()); };
  char err[512];
  for (const NewTopicSpec& s : specs) {
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(s.name.c_str(), s.partitions, s.replication_factor, err, sizeof err);
    if (t == nullptr) {
      free_topics();
      return Status::InvalidArgument("cannot create topic " + s.name + ": " + err);
    }
    topics.push_back(t);
    for (const auto& [k, v] : s.configs) {
      const rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(t, k.c_str(), v.c_str());
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        free_topics();
        return KafkaStatus(e, "cannot set " + k + "=" + v + " on topic " + s.name);
      }
    }
  }
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  AdminOptionsPtr opts = MakeAdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  rd_kafka_CreateTopics(rk_.get(), topics.data(), topics.size(), opts.get(), queue.get());
  free_topics();
  SC_ASSIGN_OR_RETURN(rd_kafka_event_t * raw, AwaitResult(queue.get(), timeout, "creating topics"));
  EventPtr ev(raw);
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
  std::vector<TopicOutcome> outcomes = TopicResults(results, n, "create");
  // The controller has created them; wait until the brokers' metadata shows every partition with a
  // leader, so that a producer started right after this sees the topics.
  std::vector<std::string> created;
  for (const TopicOutcome& o : outcomes) {
    if (o.status.ok()) created.push_back(o.name);
  }
  if (!created.empty()) SC_RETURN_IF_ERROR(WaitForTopics(created, timeout));
  return outcomes;
}

Status KafkaAdmin::WaitForTopics(const std::vector<std::string>& names,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string waiting_for;
  while (true) {
    SC_ASSIGN_OR_RETURN(ClusterMetadata md, Metadata(timeout));
    waiting_for.clear();
    for (const std::string& n : names) {
      const TopicMetadata* t = md.Find(n);
      bool ready = t != nullptr && t->error.ok() && !t->partitions.empty();
      if (ready) {
        for (const PartitionMetadata& p : t->partitions) ready = ready && p.leader >= 0;
      }
      if (!ready) waiting_for = n;
    }
    if (waiting_for.empty()) return Status::OK();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Timeout(
          "topic " + waiting_for + " was created but has no leader for every partition after " +
          FormatDuration(timeout) + ": check the brokers' health (smartcity topics describe)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<std::vector<TopicOutcome>> KafkaAdmin::DeleteTopics(const std::vector<std::string>& names,
                                                           std::chrono::milliseconds timeout) {
  std::vector<rd_kafka_DeleteTopic_t*> topics;
  for (const std::string& n : names) topics.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  AdminOptionsPtr opts = MakeAdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout);
  rd_kafka_DeleteTopics(rk_.get(), topics.data(), topics.size(), opts.get(), queue.get());
  rd_kafka_DeleteTopic_destroy_array(topics.data(), topics.size());
  SC_ASSIGN_OR_RETURN(rd_kafka_event_t * raw, AwaitResult(queue.get(), timeout, "deleting topics"));
  EventPtr ev(raw);
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
  return TopicResults(results, n, "delete");
}

Result<std::vector<TopicConfigs>> KafkaAdmin::DescribeTopicConfigs(
    const std::vector<std::string>& names, std::chrono::milliseconds timeout) {
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const std::string& n : names)
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, n.c_str()));
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  AdminOptionsPtr opts = MakeAdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  rd_kafka_DescribeConfigs(rk_.get(), resources.data(), resources.size(), opts.get(), queue.get());
  rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size());
  SC_ASSIGN_OR_RETURN(rd_kafka_event_t * raw,
                      AwaitResult(queue.get(), timeout, "describing topic configs"));
  EventPtr ev(raw);
  size_t n = 0;
  const rd_kafka_ConfigResource_t** res = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(ev.get()), &n);
  std::vector<TopicConfigs> out;
  for (size_t i = 0; i < n; ++i) {
    TopicConfigs tc;
    tc.name = rd_kafka_ConfigResource_name(res[i]);
    const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* detail = rd_kafka_ConfigResource_error_string(res[i]);
      tc.status =
          KafkaStatus(err, "cannot describe the configs of topic " + tc.name,
                      detail != nullptr && *detail != '\0' ? detail : rd_kafka_err2str(err));
    }
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(res[i], &cnt);
    for (size_t j = 0; j < cnt; ++j) {
      ConfigValue v;
      v.name = rd_kafka_ConfigEntry_name(entries[j]);
      const char* value = rd_kafka_ConfigEntry_value(entries[j]);
      v.value = rd_kafka_ConfigEntry_is_sensitive(entries[j]) ? "<hidden>"
                                                              : (value != nullptr ? value : "");
      v.is_default = rd_kafka_ConfigEntry_is_default(entries[j]) != 0;
      v.source = rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(entries[j]));
      tc.entries.push_back(std::move(v));
    }
    std::sort(tc.entries.begin(), tc.entries.end(),
              [](const ConfigValue& a, const ConfigValue& b) { return a.name < b.name; });
    out.push_back(std::move(tc));
  }
  return out;
}

}  // namespace smartcity
