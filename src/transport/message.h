// The unit the transport moves: one event as a Kafka message (topic, key = deviceId, JSON value).
//
// A Message borrows its key and value: they point into a buffer owned by whoever built the batch
// (the simulator's arena, a Kafka consumer's message), valid until that owner reuses it. Sinks that
// keep bytes past Write() must copy them.
//
// The Topic vocabulary (the five streams, their default names, TopicNames) is the model's
// (model/topic.h): the transport indexes by it and never looks inside a payload.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/time.h"
#include "model/topic.h"

namespace smartcity {

struct Message {
  Topic topic;
  std::string_view key;    // deviceId
  std::string_view value;  // the JSON payload (possibly malformed, when faults are injected)
  EventTime event_time;    // the event's own timestamp as generated (before any fault)
  bool json_ok = true;     // false when the producer knows `value` is not well-formed JSON
};

}  // namespace smartcity
