#include "transport/message.h"

namespace smartcity {

std::string_view DefaultTopicName(Topic t) {
  switch (t) {
    case Topic::kVehicle:
      return "vehicle_data";
    case Topic::kGps:
      return "gps_data";
    case Topic::kTraffic:
      return "traffic_data";
    case Topic::kWeather:
      return "weather_data";
    case Topic::kEmergency:
      return "emergency_data";
  }
  return "";
}

std::string_view TopicEnvVar(Topic t) {
  switch (t) {
    case Topic::kVehicle:
      return "VEHICLE_TOPIC";
    case Topic::kGps:
      return "GPS_TOPIC";
    case Topic::kTraffic:
      return "TRAFFIC_TOPIC";
    case Topic::kWeather:
      return "WEATHER_TOPIC";
    case Topic::kEmergency:
      return "EMERGENCY_TOPIC";
  }
  return "";
}

std::optional<Topic> TopicFromDefaultName(std::string_view name) {
  for (Topic t : kAllTopics) {
    if (DefaultTopicName(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<Topic> TopicNames::Find(std::string_view name) const {
  for (Topic t : kAllTopics) {
    if ((*this)[t] == name) return t;
  }
  return std::nullopt;
}

}  // namespace smartcity
