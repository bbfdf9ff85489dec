#include "common/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace smartcity {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Quantile(0.99).count(), 0);
}

TEST(LatencyHistogramTest, BucketEdgesAreMonotoneAndContainTheirValues) {
  int64_t prev_upper = -1;
  for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    const int64_t upper = LatencyHistogram::UpperEdge(i);
    ASSERT_GT(upper, prev_upper) << i;
    ASSERT_EQ(LatencyHistogram::BucketOf(upper), i) << upper;
    ASSERT_EQ(LatencyHistogram::BucketOf(prev_upper + 1), i) << prev_upper + 1;
    prev_upper = upper;
  }
}

TEST(LatencyHistogramTest, QuantilesWithinSixPercentOfExact) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(9.0, 1.5);
  std::vector<int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const int64_t v = static_cast<int64_t>(dist(rng));
    values.push_back(v);
    h.Record(Micros(v));
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = static_cast<double>(values[static_cast<size_t>(q * values.size()) - 1]);
    const double got = static_cast<double>(h.Quantile(q).count());
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact * 1.07 + 1) << q;
  }
  EXPECT_EQ(h.Quantile(1.0), h.max());
}

TEST(LatencyHistogramTest, NegativeAndHugeValuesAreClamped) {
  LatencyHistogram h;
  h.Record(Micros(-5));
  h.Record(Micros(int64_t{1} << 50), 3);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.Quantile(0.25).count(), 0);
  EXPECT_EQ(h.Quantile(1.0).count(), int64_t{1} << 50);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.Record(Micros(100), 10);
  b.Record(Micros(10000), 10);
  a.Merge(b);
  EXPECT_EQ(a.count(), 20u);
  EXPECT_LE(a.Quantile(0.5).count(), 106);
  EXPECT_GE(a.Quantile(0.51).count(), 10000);
}

}  // namespace
}  // namespace smartcity
