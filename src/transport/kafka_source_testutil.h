// Test support for the Kafka source: librdkafka's in-process mock cluster (fast unit tests, no JVM)
// and a keyed test producer that fills the five topics with records that can be checked one by one.
//
// Thread-safety: single-threaded test use.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "transport/event_source.h"
#include "transport/kafka_client.h"

namespace smartcity {

// librdkafka's mock cluster: real Kafka protocol on 127.0.0.1 ephemeral ports, served by a thread
// of this process. Supports produce, fetch, consumer groups and offset commits.
class MockKafkaCluster {
 public:
  static Result<std::unique_ptr<MockKafkaCluster>> Start(int brokers = 1);
  ~MockKafkaCluster();
  const std::string& bootstrap() const { return bootstrap_; }
  Status CreateTopic(const std::string& name, int partitions, int replication = 1);
  // The next requests of kind `api_key` (the Kafka protocol's ApiKey) get these errors, in order,
  // one each; RD_KAFKA_RESP_ERR_NO_ERROR serves one normally.
  void PushRequestErrors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);
  // Metadata answers list `topic` with this error (NO_ERROR: as it is) until set again.
  void SetTopicError(const std::string& topic, rd_kafka_resp_err_t err);

 private:
  MockKafkaCluster() = default;
  RdKafkaPtr owner_;  // the handle whose thread runs the cluster
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

// A checkpoint held in memory: a PositionStore that returns what Save() recorded, and a
// RebalanceListener that, like the processor, checkpoints revoked partitions (when not lost) from
// the source's Positions(). Calls are logged for assertions.
class MemoryCheckpoint final : public PositionStore, public RebalanceListener {
 public:
  // With `shared`, positions are saved to and loaded from that one instead (members of one group
  // sharing a checkpoint); the call logs stay per instance.
  explicit MemoryCheckpoint(MemoryCheckpoint* shared = nullptr) : shared_(shared) {}
  // The source whose Positions() are saved on revocation (set after the source is built).
  void Attach(EventSource* source) { source_ = source; }
  void Save(std::span<const PartitionPosition> positions);
  std::optional<SourcePosition> Get(const TopicPartition& tp) const;
  // When set, LoadPositions fails with it.
  Status load_error;

  Status LoadPositions(std::span<const TopicPartition> partitions,
                       std::span<std::optional<SourcePosition>> out) override;
  void OnPartitionsRevoked(std::span<const TopicPartition> partitions, bool lost) override;
  void OnPartitionsAssigned(std::span<const PartitionPosition> positions) override;

  std::vector<std::vector<TopicPartition>> revoked;  // one entry per OnPartitionsRevoked
  std::vector<bool> revoked_lost;
  std::vector<std::vector<PartitionPosition>> assigned;  // one entry per OnPartitionsAssigned
  std::vector<std::vector<PartitionPosition>> positions_at_revoke;
  std::vector<TopicPartition> loaded;  // every partition LoadPositions was asked for

 private:
  MemoryCheckpoint* shared_;
  EventSource* source_ = nullptr;
  std::vector<PartitionPosition> saved_;
};

// A record to produce, with the partition chosen by the caller (JavaPartitionForKey for keyed
// data).
struct TestRecord {
  Topic topic = Topic::kVehicle;
  int32_t partition = 0;
  std::string key;
  std::string value;
};

// `devices` vehicles ("vehicle-0000", ...) times `per_device` events on each of the five topics,
// partitioned by key like the Java client over `partitions` partitions. Every value is unique:
// {"topic":"gps_data","deviceId":"vehicle-0003","n":17}.
std::vector<TestRecord> MakeTestRecords(int devices, int per_device, int32_t partitions,
                                        const TopicNames& names = {});

// Produces the records with an idempotent producer (acks=all) and waits until every one is
// acknowledged; an error names the first failure. Records of one partition keep their order.
Status ProduceTestRecords(const std::string& bootstrap, std::span<const TestRecord> records,
                          const TopicNames& names = {},
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(60'000));

// Produces the records in one transaction of a transactional producer (`transactional.id`), which
// it commits or aborts; every partition written to ends with the transaction's marker.
Status ProduceTransaction(const std::string& bootstrap, std::span<const TestRecord> records,
                          const TopicNames& names, bool commit,
                          const std::string& transactional_id = "smartcity-test-txn");

}  // namespace smartcity
