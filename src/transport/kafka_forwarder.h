// KafkaForwarder: the RecordForwarder of a `stream` member reading Kafka (docs/kafka_source.md,
// "Keys that are not the device id"). It produces each forwarded record to the repartition topic of
// its input ("<group>-repartition-<topic>", created by KafkaSource), to the partition the caller
// chose (the device's), keyed by deviceId, with the record's first place in a header
// (kRepartitionOriginHeader). Idempotent producer, acks=all: records sent to one partition are
// stored once each and in order, across retries. Flush() waits for every acknowledgement and
// reports the first failed delivery; the processor flushes before it checkpoints the positions
// of the records it forwarded.
//
// Ownership: owns its producer handle. Thread-safety: one thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "transport/event_source.h"
#include "transport/kafka_client.h"

namespace smartcity {

class KafkaForwarder final : public RecordForwarder {
 public:
  // `group_id` names the repartition topics (they must exist: KafkaSource creates them).
  static Result<std::unique_ptr<KafkaForwarder>> Open(const KafkaOptions& kafka,
                                                      const std::string& group_id,
                                                      std::chrono::milliseconds flush_timeout);
  ~KafkaForwarder() override;
  KafkaForwarder(const KafkaForwarder&) = delete;
  KafkaForwarder& operator=(const KafkaForwarder&) = delete;

  Status Forward(Topic topic, PartitionId to, std::string_view device_id, std::string_view value,
                 PartitionId origin_partition, SourcePosition origin_position) override;
  Status Flush() override;

 private:
  KafkaForwarder(std::chrono::milliseconds flush_timeout) : flush_timeout_(flush_timeout) {}
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  std::chrono::milliseconds flush_timeout_;
  RdKafkaPtr rk_;
  std::array<std::string, kTopicCount> names_;
  std::string first_error_;  // set by the delivery callback (served inside poll/flush)
  rd_kafka_resp_err_t first_err_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  uint32_t since_poll_ = 0;  // Forward() calls since the last rd_kafka_poll
};

}  // namespace smartcity
