// Sink: where the simulator's messages go (stdout, a file, Kafka).
//
// Write() takes a batch and may buffer; Flush() returns once everything written so far is durable
// in the sink's sense (written to the fd; acknowledged by Kafka) or returns the first error. A sink
// reports, per topic, how many messages it accepted, confirmed as delivered, and saw fail.
//
// Thread-safety: a Sink is used by one thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"
#include "transport/message.h"

namespace smartcity {

struct SinkCounters {
  std::array<uint64_t, kTopicCount> sent{};       // accepted by Write()
  std::array<uint64_t, kTopicCount> delivered{};  // confirmed (written / acknowledged)
  std::array<uint64_t, kTopicCount> failed{};     // definitively not delivered
  uint64_t bytes = 0;                             // payload bytes accepted
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Write(std::span<const Message> batch) = 0;
  // Blocks until all accepted messages are delivered or failed, at most `timeout`.
  virtual Status Flush(std::chrono::milliseconds timeout) = 0;
  virtual const SinkCounters& counters() const = 0;
  // A short description for logs and summaries ("stdout (jsonl)", "kafka 127.0.0.1:9092").
  virtual std::string Describe() const = 0;
};

}  // namespace smartcity
