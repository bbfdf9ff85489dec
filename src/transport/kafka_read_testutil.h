// Test support: read a whole topic back with a plain librdkafka consumer (no code of the sink under
// test on the read path), to check what a producer really stored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smartcity {

struct StoredRecord {
  std::string key;
  std::string value;
  int32_t partition = 0;
  int64_t offset = 0;
};

// Every record of `topic` (partitions 0..partitions-1, from the beginning to the end as of now), in
// (partition, offset) order. Adds a gtest failure when a partition's end is not reached in 120 s.
std::vector<StoredRecord> ReadWholeTopic(const std::string& bootstrap, const std::string& topic,
                                         int partitions);

}  // namespace smartcity
