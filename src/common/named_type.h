// NamedType<T, Tag>: a strong typedef so that values that are easy to mix up (a Kafka offset and a
// simulator sequence number, a partition id and a vehicle index) cannot be passed for each other.
#pragma once

#include <compare>
#include <functional>
#include <ostream>

namespace smartcity {

template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  constexpr auto operator<=>(const NamedType&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const NamedType& n) { return os << n.v_; }

 private:
  T v_{};
};

// A Kafka partition number within one topic.
using PartitionId = NamedType<int32_t, struct PartitionIdTag>;
// A Kafka offset within one partition.
using KafkaOffset = NamedType<int64_t, struct KafkaOffsetTag>;
// A position in the simulator's own output (in-process transport): the n-th message it emitted.
using SequenceNumber = NamedType<uint64_t, struct SequenceNumberTag>;

}  // namespace smartcity

template <typename T, typename Tag>
struct std::hash<smartcity::NamedType<T, Tag>> {
  size_t operator()(const smartcity::NamedType<T, Tag>& n) const noexcept {
    return std::hash<T>{}(n.value());
  }
};
