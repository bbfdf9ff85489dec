// KafkaSink: the simulator's messages to Kafka through librdkafka, with the guarantees SPEC section
// 2 promises: an idempotent producer (acks=all, so a retried batch is never written twice and
// per-key order holds across retries), the Java client's murmur2 partitioner (key = deviceId, so
// the five topics stay co-partitioned with any Java or Spark producer), compression and delivery
// reports.
//
// Accounting: every message accepted by Write() ends as exactly one of delivered (acknowledged by
// the cluster) or failed (its delivery timed out, its topic went away, the producer hit a fatal
// error, or it was still unacknowledged when Flush() gave up and purged it). So after Flush(), sent
// == delivered + failed per topic.
//
// Failure behaviour: Open() checks, within a bounded time, that the cluster answers and that the
// five topics exist, and says what to do when not. After the first failed delivery, Write() and
// Flush() return that error (a Status naming the topic and the cause) and Write() accepts nothing
// more: the run stops instead of silently losing events. A full producer queue is backpressure:
// Write() serves delivery reports until there is room, it never drops.
//
// Ownership: owns its librdkafka producer. Thread-safety: one thread (delivery reports are served
// from Write()/Flush() on the caller's thread, so the counters need no lock).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "transport/kafka_client.h"
#include "transport/sink.h"

namespace smartcity {

struct KafkaSinkOptions {
  // compression.codec of the producer: lz4 (default), zstd, snappy, gzip or none.
  std::string compression = "lz4";
  // Bound on one message's delivery, retries included (message.timeout.ms). A message not
  // acknowledged by then is counted as failed.
  std::chrono::milliseconds delivery_timeout{30'000};
  // Bound on the pre-flight metadata check in Open().
  std::chrono::milliseconds connect_timeout{10'000};
  // Time librdkafka waits to fill a batch (linger.ms): larger batches compress better and cost
  // fewer requests; 20 ms keeps latency low enough for a live dashboard.
  std::chrono::milliseconds linger{20};
  // Verify in Open() that the five topics exist (refuse to start otherwise).
  bool require_topics = true;
};

class KafkaSink final : public Sink {
 public:
  // Creates the producer and runs the pre-flight check. Errors: InvalidArgument for a bad option or
  // -X property, Unavailable when the cluster does not answer within connect_timeout, NotFound
  // naming a missing topic.
  static Result<std::unique_ptr<KafkaSink>> Open(const KafkaOptions& kafka,
                                                 const KafkaSinkOptions& options);
  ~KafkaSink() override;

  Status Write(std::span<const Message> batch) override;
  // Waits until every accepted message is acknowledged or failed, at most `timeout`; what is still
  // outstanding then is purged and counted as failed. Returns the first delivery error, if any.
  Status Flush(std::chrono::milliseconds timeout) override;
  const SinkCounters& counters() const override { return counters_; }
  std::string Describe() const override;

  // Partition count of each topic as the pre-flight check found it (0 when unchecked).
  int32_t partition_count(Topic t) const { return partitions_[static_cast<size_t>(t)]; }

 private:
  KafkaSink(RdKafkaPtr rk, const KafkaOptions& kafka, const KafkaSinkOptions& options);
  Status CheckTopics();
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void RecordFailure(Status s);
  uint64_t Outstanding() const;

  struct TopicDeleter {
    void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
  };

  RdKafkaPtr rk_;
  KafkaOptions kafka_;
  KafkaSinkOptions options_;
  std::array<std::unique_ptr<rd_kafka_topic_t, TopicDeleter>, kTopicCount> topics_;
  std::array<int32_t, kTopicCount> partitions_{};
  SinkCounters counters_;
  Status first_error_;          // the first failed delivery or fatal producer error
  std::string last_transient_;  // the last broker-level complaint, to explain a delivery timeout
};

}  // namespace smartcity
