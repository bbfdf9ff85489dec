// The unit the transport moves: one event as a Kafka message (topic, key = deviceId, JSON value).
//
// A Message borrows its key and value: they point into a buffer owned by whoever built the batch
// (the simulator's arena, a Kafka consumer's message), valid until that owner reuses it. Sinks that
// keep bytes past Write() must copy them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/time.h"

namespace smartcity {

// The five event streams of SPEC section 2, in a fixed order used for arrays indexed by topic.
enum class Topic : uint8_t { kVehicle = 0, kGps = 1, kTraffic = 2, kWeather = 3, kEmergency = 4 };
inline constexpr size_t kTopicCount = 5;
inline constexpr std::array<Topic, kTopicCount> kAllTopics = {
    Topic::kVehicle, Topic::kGps, Topic::kTraffic, Topic::kWeather, Topic::kEmergency};

// The default Kafka topic name of each stream ("vehicle_data", ...), which is also its table name.
std::string_view DefaultTopicName(Topic t);
// The environment variable the seeds use to rename the topic ("VEHICLE_TOPIC", ...).
std::string_view TopicEnvVar(Topic t);
// Parses a default topic name back ("gps_data" -> kGps).
std::optional<Topic> TopicFromDefaultName(std::string_view name);

// Topic names in use: defaults, overridable per stream (config / environment).
struct TopicNames {
  std::array<std::string, kTopicCount> names{std::string(DefaultTopicName(Topic::kVehicle)),
                                             std::string(DefaultTopicName(Topic::kGps)),
                                             std::string(DefaultTopicName(Topic::kTraffic)),
                                             std::string(DefaultTopicName(Topic::kWeather)),
                                             std::string(DefaultTopicName(Topic::kEmergency))};
  const std::string& operator[](Topic t) const { return names[static_cast<size_t>(t)]; }
  std::string& operator[](Topic t) { return names[static_cast<size_t>(t)]; }
  std::optional<Topic> Find(std::string_view name) const;
};

struct Message {
  Topic topic;
  std::string_view key;    // deviceId
  std::string_view value;  // the JSON payload (possibly malformed, when faults are injected)
  EventTime event_time;    // the event's own timestamp as generated (before any fault)
  bool json_ok = true;     // false when the producer knows `value` is not well-formed JSON
};

}  // namespace smartcity
