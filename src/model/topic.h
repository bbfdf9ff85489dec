// Topic: the five event streams of SPEC section 2, their default Kafka topic names and the
// environment variables that rename them, and TopicNames, the names a run uses.
//
// This header is the only part of the model the transport sees: a Message carries a Topic so that
// sinks, sources and counters can index arrays by stream without knowing what an event holds. What
// a topic's events contain is in model/schema.h.
//
// Thread-safety: constants and plain values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smartcity {

// The five event streams, in a fixed order used for arrays indexed by topic.
enum class Topic : uint8_t { kVehicle = 0, kGps = 1, kTraffic = 2, kWeather = 3, kEmergency = 4 };
inline constexpr size_t kTopicCount = 5;
inline constexpr std::array<Topic, kTopicCount> kAllTopics = {
    Topic::kVehicle, Topic::kGps, Topic::kTraffic, Topic::kWeather, Topic::kEmergency};

namespace model {
// Indexed by Topic.
inline constexpr std::array<std::string_view, kTopicCount> kDefaultTopicNames = {
    "vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data"};
inline constexpr std::array<std::string_view, kTopicCount> kTopicEnvVars = {
    "VEHICLE_TOPIC", "GPS_TOPIC", "TRAFFIC_TOPIC", "WEATHER_TOPIC", "EMERGENCY_TOPIC"};
}  // namespace model

// The default Kafka topic name of each stream ("vehicle_data", ...), which is also its raw table's
// name (model::TableName(model::TableOf(t))).
constexpr std::string_view DefaultTopicName(Topic t) {
  return model::kDefaultTopicNames[static_cast<size_t>(t)];
}
// The environment variable the seeds use to rename the topic ("VEHICLE_TOPIC", ...).
constexpr std::string_view TopicEnvVar(Topic t) {
  return model::kTopicEnvVars[static_cast<size_t>(t)];
}
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

}  // namespace smartcity
