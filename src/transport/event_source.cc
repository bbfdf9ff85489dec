#include "transport/event_source.h"

namespace smartcity {

std::string ToString(const TopicPartition& tp, const TopicNames& names) {
  std::string s = tp.repartition ? "repartition:" : "";
  s += names[tp.topic];
  s += '[';
  s += std::to_string(tp.partition.value());
  s += ']';
  return s;
}

uint64_t SourceCounters::TotalRecords() const {
  uint64_t n = 0;
  for (uint64_t r : records) n += r;
  return n;
}

uint64_t SourceCounters::TotalBytes() const {
  uint64_t n = 0;
  for (uint64_t b : bytes) n += b;
  return n;
}

}  // namespace smartcity
