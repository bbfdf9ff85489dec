// LatencyHistogram: a fixed-size log-linear histogram of durations (microseconds), for end-to-end
// latency percentiles on hot paths. Values are bucketed by their power of two and 16 linear steps
// within it, so a reported percentile is within ~6% of the true value; recording is a few integer
// operations and never allocates. Values below 0 count as 0; values above ~2^40 us (12 days) land
// in the last bucket.
//
// Thread-safety: one writer at a time; no internal locking.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

#include "common/time.h"

namespace smartcity {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 4;  // 16 linear steps per power of two
  static constexpr int kMaxExp = 40;
  static constexpr size_t kBuckets = static_cast<size_t>(kMaxExp - kSubBits + 2) << kSubBits;

  void Record(Micros d, uint64_t count = 1) {
    buckets_[BucketOf(d.count())] += count;
    total_ += count;
    if (d.count() > max_) max_ = d.count();
  }
  void Merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }
  void Reset() { *this = LatencyHistogram(); }

  uint64_t count() const { return total_; }
  Micros max() const { return Micros(max_); }
  // The q-quantile (0 < q <= 1): the upper edge of the bucket holding it (capped at max()); 0 if
  // empty.
  Micros Quantile(double q) const {
    if (total_ == 0) return Micros(0);
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    if (rank == 0) rank = 1;
    if (rank > total_) rank = total_;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= rank) {
        if (i == kBuckets - 1) return Micros(max_);  // the overflow bucket has no upper edge
        const int64_t upper = UpperEdge(i);
        return Micros(upper < max_ ? upper : max_);
      }
    }
    return Micros(max_);
  }

  static size_t BucketOf(int64_t v) {
    if (v < (1 << kSubBits)) return v < 0 ? 0 : static_cast<size_t>(v);
    const int exp = 63 - std::countl_zero(static_cast<uint64_t>(v));  // >= kSubBits
    if (exp > kMaxExp) return kBuckets - 1;
    const int64_t sub = (v >> (exp - kSubBits)) & ((1 << kSubBits) - 1);
    return (static_cast<size_t>(exp - kSubBits + 1) << kSubBits) + static_cast<size_t>(sub);
  }
  // The largest value that falls in bucket i.
  static int64_t UpperEdge(size_t i) {
    if (i < (1u << kSubBits)) return static_cast<int64_t>(i);
    const int exp = static_cast<int>(i >> kSubBits) + kSubBits - 1;
    const int64_t sub = static_cast<int64_t>(i & ((1u << kSubBits) - 1));
    const int64_t step = int64_t{1} << (exp - kSubBits);
    return (int64_t{1} << exp) + (sub + 1) * step - 1;
  }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t total_ = 0;
  int64_t max_ = 0;
};

}  // namespace smartcity
