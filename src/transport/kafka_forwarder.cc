#include "transport/kafka_forwarder.h"

#include <cstdio>

#include "transport/kafka_source.h"

namespace smartcity {

Result<std::unique_ptr<KafkaForwarder>> KafkaForwarder::Open(
    const KafkaOptions& kafka, const std::string& group_id,
    std::chrono::milliseconds flush_timeout) {
  const std::vector<std::pair<std::string, std::string>> defaults = {
      // Once per partition and in order across retries: the receivers' dedupe rests on the order.
      {"enable.idempotence", "true"},        {"acks", "all"},
      {"compression.codec", "lz4"},          {"linger.ms", "5"},
      {"batch.num.messages", "100000"},      {"batch.size", "1000000"},
      {"allow.auto.create.topics", "false"}, {"log_level", "2"},
  };
  SC_ASSIGN_OR_RETURN(RdKafkaConfPtr conf, MakeKafkaConf(kafka, defaults));
  std::unique_ptr<KafkaForwarder> f(new KafkaForwarder(flush_timeout));
  rd_kafka_conf_set_opaque(conf.get(), f.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaForwarder::OnDelivery);
  SC_ASSIGN_OR_RETURN(f->rk_, MakeKafkaHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  for (Topic t : kAllTopics) {
    if (IsJoinInputTopic(t))
      f->names_[static_cast<size_t>(t)] = RepartitionTopicName(group_id, kafka.topics[t]);
  }
  return f;
}

KafkaForwarder::~KafkaForwarder() {
  if (rk_ == nullptr) return;
  // Not flushed: whatever is unacknowledged is forwarded again after the restart (the positions
  // that cover it were not checkpointed), so nothing is lost by dropping it.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(rk_.get(), 1000);
}

void KafkaForwarder::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaForwarder*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && self->first_err_ == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->first_err_ = m->err;
    self->first_error_ = rd_kafka_err2str(m->err);
  }
}

Status KafkaForwarder::Forward(Topic topic, PartitionId to, std::string_view device_id,
                               std::string_view value, PartitionId origin_partition,
                               SourcePosition origin_position) {
  const std::string& name = names_[static_cast<size_t>(topic)];
  if (name.empty()) return Status::InvalidArgument("only join inputs are repartitioned");
  char origin[48];
  const int n = std::snprintf(origin, sizeof origin, "%d:%lld", origin_partition.value(),
                              static_cast<long long>(origin_position.value()));
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(to.value()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(device_id.data()), device_id.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADER(kRepartitionOriginHeader, origin, n), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_.get(), 100);  // backpressure: wait for acknowledgements
      continue;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return KafkaStatus(err, "forwarding a record to " + name);
    break;
  }
  // Delivery reports are served now and then (each serve takes the queue's lock), and by Flush().
  if (++since_poll_ >= 1024) {
    since_poll_ = 0;
    rd_kafka_poll(rk_.get(), 0);
  }
  if (first_err_ != RD_KAFKA_RESP_ERR_NO_ERROR)
    return KafkaStatus(first_err_, "forwarding records to the repartition topics", first_error_);
  return Status::OK();
}

Status KafkaForwarder::Flush() {
  const rd_kafka_resp_err_t err =
      rd_kafka_flush(rk_.get(), static_cast<int>(flush_timeout_.count()));
  if (first_err_ != RD_KAFKA_RESP_ERR_NO_ERROR)
    return KafkaStatus(first_err_, "forwarding records to the repartition topics", first_error_);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return KafkaStatus(err, "waiting for forwarded records to be stored");
  return Status::OK();
}

}  // namespace smartcity
