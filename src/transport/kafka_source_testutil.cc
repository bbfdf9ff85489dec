#include "transport/kafka_source_testutil.h"

#include <cstdio>
#include <thread>

namespace smartcity {

Result<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start(int brokers) {
  std::unique_ptr<MockKafkaCluster> c(new MockKafkaCluster());
  KafkaOptions opts;
  opts.bootstrap_servers =
      "127.0.0.1:1";  // never contacted: this handle only hosts the mock cluster
  SC_ASSIGN_OR_RETURN(RdKafkaConfPtr conf, MakeKafkaConf(opts, {{"log_level", "0"}}));
  SC_ASSIGN_OR_RETURN(c->owner_, MakeKafkaHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  c->cluster_ = rd_kafka_mock_cluster_new(c->owner_.get(), brokers);
  if (c->cluster_ == nullptr) return Status::Internal("cannot start librdkafka's mock cluster");
  c->bootstrap_ = rd_kafka_mock_cluster_bootstraps(c->cluster_);
  return c;
}

MockKafkaCluster::~MockKafkaCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

Status MockKafkaCluster::CreateTopic(const std::string& name, int partitions, int replication) {
  return KafkaStatus(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication),
                     "creating mock topic " + name);
}

void MockKafkaCluster::PushRequestErrors(int16_t api_key,
                                         const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
}

void MockKafkaCluster::SetTopicError(const std::string& topic, rd_kafka_resp_err_t err) {
  rd_kafka_mock_topic_set_error(cluster_, topic.c_str(), err);
}

void MemoryCheckpoint::Save(std::span<const PartitionPosition> positions) {
  if (shared_ != nullptr) return shared_->Save(positions);
  for (const PartitionPosition& p : positions) {
    if (!p.next) continue;
    bool found = false;
    for (PartitionPosition& s : saved_) {
      if (s.tp == p.tp) {
        s.next = p.next;
        found = true;
      }
    }
    if (!found) saved_.push_back(p);
  }
}

std::optional<SourcePosition> MemoryCheckpoint::Get(const TopicPartition& tp) const {
  if (shared_ != nullptr) return shared_->Get(tp);
  for (const PartitionPosition& s : saved_) {
    if (s.tp == tp) return s.next;
  }
  return std::nullopt;
}

Status MemoryCheckpoint::LoadPositions(std::span<const TopicPartition> partitions,
                                       std::span<std::optional<SourcePosition>> out) {
  if (!load_error.ok()) return load_error;
  for (size_t i = 0; i < partitions.size(); ++i) {
    loaded.push_back(partitions[i]);
    out[i] = Get(partitions[i]);
  }
  return Status::OK();
}

void MemoryCheckpoint::OnPartitionsRevoked(std::span<const TopicPartition> partitions, bool lost) {
  revoked.emplace_back(partitions.begin(), partitions.end());
  revoked_lost.push_back(lost);
  std::vector<PartitionPosition> now;
  if (source_ != nullptr) now = source_->Positions();
  positions_at_revoke.push_back(now);
  if (!lost) Save(now);
}

void MemoryCheckpoint::OnPartitionsAssigned(std::span<const PartitionPosition> positions) {
  assigned.emplace_back(positions.begin(), positions.end());
}

std::vector<TestRecord> MakeTestRecords(int devices, int per_device, int32_t partitions,
                                        const TopicNames& names) {
  std::vector<TestRecord> out;
  out.reserve(static_cast<size_t>(devices) * static_cast<size_t>(per_device) * kTopicCount);
  char key[32];
  for (int n = 0; n < per_device; ++n) {
    for (int d = 0; d < devices; ++d) {
      std::snprintf(key, sizeof key, "vehicle-%04d", d);
      const int32_t p = JavaPartitionForKey(key, partitions);
      for (Topic t : kAllTopics) {
        TestRecord r;
        r.topic = t;
        r.partition = p;
        r.key = key;
        r.value = "{\"topic\":\"" + names[t] + "\",\"deviceId\":\"" + key +
                  "\",\"n\":" + std::to_string(n) + "}";
        out.push_back(std::move(r));
      }
    }
  }
  return out;
}

namespace {
struct DeliveryTally {
  size_t delivered = 0;
  size_t failed = 0;
  std::string first_error;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* tally = static_cast<DeliveryTally*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++tally->delivered;
  } else {
    if (tally->failed++ == 0) tally->first_error = rd_kafka_err2str(m->err);
  }
}
}  // namespace

Status ProduceTestRecords(const std::string& bootstrap, std::span<const TestRecord> records,
                          const TopicNames& names, std::chrono::milliseconds timeout) {
  KafkaOptions opts;
  opts.bootstrap_servers = bootstrap;
  opts.client_id = "smartcity-test-producer";
  SC_ASSIGN_OR_RETURN(RdKafkaConfPtr conf,
                      MakeKafkaConf(opts, {{"enable.idempotence", "true"},
                                           {"acks", "all"},
                                           {"linger.ms", "5"},
                                           {"batch.num.messages", "10000"},
                                           {"queue.buffering.max.messages", "200000"},
                                           {"message.timeout.ms", "60000"}}));
  DeliveryTally tally;
  rd_kafka_conf_set_opaque(conf.get(), &tally);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &OnDelivery);
  SC_ASSIGN_OR_RETURN(RdKafkaPtr rk, MakeKafkaHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const TestRecord& r : records) {
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk.get(), RD_KAFKA_V_TOPIC(names[r.topic].c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return KafkaStatus(err, "producing test records to " + names[r.topic]);
      if (std::chrono::steady_clock::now() >= deadline)
        return Status::Timeout("producing test records timed out");
      rd_kafka_poll(rk.get(), 50);
    }
    rd_kafka_poll(rk.get(), 0);
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  rd_kafka_flush(rk.get(), static_cast<int>(std::max<int64_t>(1, left.count())));
  rd_kafka_poll(rk.get(), 0);
  if (tally.failed > 0) {
    return Status::Unavailable(std::to_string(tally.failed) +
                               " test records failed: " + tally.first_error);
  }
  if (tally.delivered != records.size()) {
    return Status::Timeout("only " + std::to_string(tally.delivered) + " of " +
                           std::to_string(records.size()) +
                           " test records were acknowledged in time");
  }
  return Status::OK();
}

Status ProduceTransaction(const std::string& bootstrap, std::span<const TestRecord> records,
                          const TopicNames& names, bool commit,
                          const std::string& transactional_id) {
  KafkaOptions opts;
  opts.bootstrap_servers = bootstrap;
  opts.client_id = "smartcity-test-txn-producer";
  SC_ASSIGN_OR_RETURN(RdKafkaConfPtr conf,
                      MakeKafkaConf(opts, {{"transactional.id", transactional_id},
                                           {"linger.ms", "5"},
                                           {"message.timeout.ms", "60000"}}));
  SC_ASSIGN_OR_RETURN(RdKafkaPtr rk, MakeKafkaHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  auto check = [](rd_kafka_error_t* e, const char* what) -> Status {
    if (e == nullptr) return Status::OK();
    Status s = Status::Unavailable(std::string(what) + ": " + rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return s;
  };
  SC_RETURN_IF_ERROR(check(rd_kafka_init_transactions(rk.get(), 60'000), "init_transactions"));
  SC_RETURN_IF_ERROR(check(rd_kafka_begin_transaction(rk.get()), "begin_transaction"));
  for (const TestRecord& r : records) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk.get(), RD_KAFKA_V_TOPIC(names[r.topic].c_str()), RD_KAFKA_V_PARTITION(r.partition),
        RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return KafkaStatus(err, "producing a transaction to " + names[r.topic]);
    rd_kafka_poll(rk.get(), 0);
  }
  if (commit) {
    return check(rd_kafka_commit_transaction(rk.get(), 60'000), "commit_transaction");
  }
  // The aborted records are in the log before their abort marker.
  rd_kafka_flush(rk.get(), 60'000);
  return check(rd_kafka_abort_transaction(rk.get(), 60'000), "abort_transaction");
}

}  // namespace smartcity
