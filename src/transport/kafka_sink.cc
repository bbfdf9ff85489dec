#include "transport/kafka_sink.h"

#include <cstdint>
#include <cstdio>
#include <thread>

#include "common/time.h"

namespace smartcity {

namespace {

// The topic index travels as the message's opaque pointer: no per-message allocation.
void* TopicOpaque(size_t t) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(t));
}
size_t TopicFromOpaque(void* p) {
  return static_cast<size_t>(reinterpret_cast<uintptr_t>(p));
}

}  // namespace

KafkaSink::KafkaSink(RdKafkaPtr rk, const KafkaOptions& kafka, const KafkaSinkOptions& options)
    : rk_(std::move(rk)), kafka_(kafka), options_(options) {}

Result<std::unique_ptr<KafkaSink>> KafkaSink::Open(const KafkaOptions& kafka,
                                                   const KafkaSinkOptions& options) {
  if (options.delivery_timeout.count() <= 0) {
    return Status::InvalidArgument("the Kafka delivery timeout must be more than zero");
  }
  const std::vector<std::pair<std::string, std::string>> defaults = {
      // Exactly once per partition and in order, across retries and broker restarts.
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // The Java client's partition for a key; for a null key, random (we always send a key).
      {"partitioner", "murmur2_random"},
      {"compression.codec", options.compression},
      {"linger.ms", std::to_string(options.linger.count())},
      // Big batches: the broker and the compressor like them. batch.size bounds one partition's
      // batch.
      {"batch.num.messages", "100000"},
      {"batch.size", "1000000"},
      // Room for about a second of full-speed output; beyond that Write() waits (backpressure).
      {"queue.buffering.max.messages", "500000"},
      {"queue.buffering.max.kbytes", "262144"},
      {"message.timeout.ms", std::to_string(options.delivery_timeout.count())},
      // A deleted topic must stay deleted: never let a producer's metadata request re-create it
      // with the broker's default partition count (that would silently break co-partitioning).
      {"allow.auto.create.topics", "false"},
      // Connection trouble reaches us through the error callback and ends in one clear Status;
      // librdkafka's own log lines would only repeat it on stderr (-X log_level=7 brings them
      // back).
      {"log_level", "2"},
  };
  SC_ASSIGN_OR_RETURN(RdKafkaConfPtr conf, MakeKafkaConf(kafka, defaults));
  // The callbacks need the sink; the sink needs the handle: build the sink first, then the handle.
  std::unique_ptr<KafkaSink> sink(new KafkaSink(nullptr, kafka, options));
  rd_kafka_conf_set_opaque(conf.get(), sink.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::OnError);
  SC_ASSIGN_OR_RETURN(sink->rk_, MakeKafkaHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  // Check before creating topic handles: a handle asks for its topic's metadata, which some
  // clusters answer by creating the topic.
  if (options.require_topics) SC_RETURN_IF_ERROR(sink->CheckTopics());
  for (Topic t : kAllTopics) {
    const std::string& name = kafka.topics[t];
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(sink->rk_.get(), name.c_str(), nullptr);
    if (rkt == nullptr) {
      return KafkaStatus(rd_kafka_last_error(), "cannot use Kafka topic '" + name + "'");
    }
    sink->topics_[static_cast<size_t>(t)].reset(rkt);
  }
  return sink;
}

KafkaSink::~KafkaSink() {
  if (rk_ == nullptr) return;
  if (Outstanding() > 0) {
    // Whoever owned us did not Flush(): do not block for long on the way out.
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_.get(), 1000);
  }
  for (auto& t : topics_) t.reset();  // topic handles before the producer
}

Status KafkaSink::CheckTopics() {
  // Brokers learn about a topic a moment after its creation: a missing topic is asked about again
  // for a short while before it is reported.
  constexpr auto kGrace = std::chrono::seconds(2);
  const auto give_up = std::chrono::steady_clock::now() + kGrace;
  while (true) {
    SC_ASSIGN_OR_RETURN(
        ClusterMetadata md,
        FetchClusterMetadata(rk_.get(), kafka_.bootstrap_servers, options_.connect_timeout));
    Status missing;
    for (Topic t : kAllTopics) {
      const std::string& name = kafka_.topics[t];
      const TopicMetadata* tm = md.Find(name);
      if (tm == nullptr || tm->error.kind() == ErrorKind::kNotFound) {
        missing = Status::NotFound("topic '" + name + "' does not exist in Kafka at " +
                                   kafka_.bootstrap_servers +
                                   ": create it with: smartcity topics create");
        break;
      }
      if (!tm->error.ok()) return tm->error;
      partitions_[static_cast<size_t>(t)] = static_cast<int32_t>(tm->partitions.size());
    }
    if (missing.ok()) return Status::OK();
    if (std::chrono::steady_clock::now() >= give_up) return missing;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string KafkaSink::Describe() const {
  return "kafka " + kafka_.bootstrap_servers + " (" + options_.compression +
         ", acks=all, idempotent)";
}

uint64_t KafkaSink::Outstanding() const {
  uint64_t n = 0;
  for (size_t t = 0; t < kTopicCount; ++t)
    n += counters_.sent[t] - counters_.delivered[t] - counters_.failed[t];
  return n;
}

void KafkaSink::RecordFailure(Status s) {
  if (first_error_.ok()) first_error_ = std::move(s);
}

void KafkaSink::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const size_t t = TopicFromOpaque(m->_private);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->counters_.delivered[t]++;
    return;
  }
  self->counters_.failed[t]++;
  if (!self->first_error_.ok()) return;
  const std::string& topic = self->kafka_.topics.names[t];
  switch (m->err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
      self->RecordFailure(Status::Timeout(
          "events to topic " + topic + " were not acknowledged by Kafka at " +
          self->kafka_.bootstrap_servers + " within the delivery timeout of " +
          FormatDuration(self->options_.delivery_timeout) +
          (self->last_transient_.empty() ? std::string()
                                         : " (last broker error: " + self->last_transient_ + ")") +
          ": is the broker running and the topic healthy? (--delivery-timeout raises the bound)"));
      break;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      self->RecordFailure(Status::NotFound(
          "topic " + topic + " no longer exists in Kafka at " + self->kafka_.bootstrap_servers +
          " (was it deleted?): create it with: smartcity topics create"));
      break;
    default:
      self->RecordFailure(KafkaStatus(m->err, "delivery to topic " + topic + " failed"));
  }
}

void KafkaSink::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    // The idempotent producer can no longer guarantee order or exactly-once: stop.
    char detail[512];
    const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, detail, sizeof detail);
    self->RecordFailure(KafkaStatus(orig, "the Kafka producer stopped on a fatal error", detail));
    return;
  }
  // Transient (a broker restarting, a connection refused): librdkafka retries by itself within the
  // delivery timeout. Kept only to explain a later timeout.
  self->last_transient_ = reason != nullptr ? reason : rd_kafka_err2str(code);
}

Status KafkaSink::Write(std::span<const Message> batch) {
  if (!first_error_.ok()) return first_error_;
  rd_kafka_t* rk = rk_.get();
  for (const Message& m : batch) {
    const auto t = static_cast<size_t>(m.topic);
    rd_kafka_topic_t* rkt = topics_[t].get();
    while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                            const_cast<char*>(m.value.data()), m.value.size(), m.key.data(),
                            m.key.size(), TopicOpaque(t)) != 0) {
      const rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        // Backpressure: serve delivery reports until the queue has room. Bounded: queued messages
        // are acknowledged or fail within the delivery timeout.
        rd_kafka_poll(rk, 5);
        if (!first_error_.ok()) return first_error_;
        continue;
      }
      counters_.sent[t]++;
      counters_.failed[t]++;
      if (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
          err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        RecordFailure(
            Status::NotFound("topic " + kafka_.topics.names[t] + " no longer exists in Kafka at " +
                             kafka_.bootstrap_servers +
                             " (was it deleted?): create it with: smartcity topics create"));
      } else {
        RecordFailure(KafkaStatus(err, "cannot produce to topic " + kafka_.topics.names[t]));
      }
      return first_error_;
    }
    counters_.sent[t]++;
    counters_.bytes += m.value.size();
  }
  rd_kafka_poll(rk, 0);  // serve the delivery reports that are ready
  return first_error_;
}

Status KafkaSink::Flush(std::chrono::milliseconds timeout) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT && Outstanding() > 0) {
    const uint64_t outstanding = Outstanding();
    RecordFailure(Status::Timeout(
        std::to_string(outstanding) + " events were not acknowledged by Kafka at " +
        kafka_.bootstrap_servers + " within " + FormatDuration(timeout) +
        " and are counted as failed" +
        (last_transient_.empty() ? std::string()
                                 : " (last broker error: " + last_transient_ + ")")));
    // Give every message a definite outcome: purged ones are reported (and counted) as failed.
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_.get(), 1000);
  }
  return first_error_;
}

}  // namespace smartcity
