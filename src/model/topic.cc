#include "model/topic.h"

namespace smartcity {

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
