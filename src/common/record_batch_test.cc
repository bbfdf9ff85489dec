#include "common/record_batch.h"

#include <gtest/gtest.h>

namespace smartcity {
namespace {

TEST(RecordBatchTest, AppendsAndReadsEveryType) {
  auto schema = std::make_shared<Schema>(Schema{{{"s", LogicalType::kString, true},
                                                 {"i", LogicalType::kInt32},
                                                 {"l", LogicalType::kInt64},
                                                 {"d", LogicalType::kDouble},
                                                 {"t", LogicalType::kTimestamp},
                                                 {"b", LogicalType::kBool}}});
  RecordBatch b(schema);
  b.column(0).AppendString("hello");
  b.column(1).AppendInt32(7);
  b.column(2).AppendInt64(-9);
  b.column(3).AppendDouble(1.5);
  b.column(4).AppendTimestamp(EventTime(Micros(42)));
  b.column(5).AppendBool(true);
  b.column(0).AppendNull();
  b.column(1).AppendInt32(8);
  b.column(2).AppendNull();
  b.column(3).AppendDouble(2.5);
  b.column(4).AppendTimestamp(EventTime(Micros(43)));
  b.column(5).AppendBool(false);
  ASSERT_EQ(b.num_rows(), 2u);
  EXPECT_EQ(b.column(0).GetString(0), "hello");
  EXPECT_TRUE(b.column(0).IsNull(1));
  EXPECT_EQ(b.column(0).GetString(1), "");
  EXPECT_EQ(b.column(1).GetInt32(1), 8);
  EXPECT_TRUE(b.column(2).IsNull(1));
  EXPECT_EQ(b.column(4).GetTimestamp(0), EventTime(Micros(42)));
  EXPECT_FALSE(b.column(5).GetBool(1));

  RecordBatch c(schema);
  c.AppendRow(b, 1);
  c.AppendRow(b, 0);
  EXPECT_TRUE(c.column(0).IsNull(0));
  EXPECT_EQ(c.column(0).GetString(1), "hello");
  EXPECT_EQ(c.num_rows(), 2u);
  EXPECT_EQ(schema->IndexOf("t"), 4);
  EXPECT_EQ(schema->IndexOf("nope"), -1);
  c.Clear();
  EXPECT_EQ(c.num_rows(), 0u);

  RecordBatch t(schema);
  t.AppendRows(b, 0, 2);
  t.Truncate(1);
  ASSERT_EQ(t.num_rows(), 1u);
  t.AppendRow(b, 1);  // appends after the kept row, as if the dropped one had never been there
  EXPECT_EQ(t.column(0).GetString(0), "hello");
  EXPECT_TRUE(t.column(0).IsNull(1));
  EXPECT_EQ(t.column(1).GetInt32(1), 8);
  EXPECT_EQ(t.column(4).GetTimestamp(1), EventTime(Micros(43)));
  t.Truncate(0);
  EXPECT_EQ(t.num_rows(), 0u);
  t.AppendRow(b, 0);
  EXPECT_EQ(t.column(0).GetString(0), "hello");
}

TEST(RecordBatchTest, DateColumnsHoldDaysSinceTheEpoch) {
  auto schema = std::make_shared<Schema>(Schema{{{"day", LogicalType::kDate, true}}});
  RecordBatch b(schema);
  b.column(0).Reserve(3);
  b.column(0).AppendDate(20458);  // 2026-01-05
  b.column(0).AppendNull();
  b.column(0).AppendDate(-1);  // 1969-12-31
  RecordBatch c(schema);
  c.AppendRow(b, 2);
  c.AppendRows(b, 0, 2);
  ASSERT_EQ(c.num_rows(), 3u);
  EXPECT_EQ(c.column(0).GetDate(0), -1);
  EXPECT_EQ(c.column(0).GetDate(1), 20458);
  EXPECT_TRUE(c.column(0).IsNull(2));
  EXPECT_EQ(LogicalTypeName(LogicalType::kDate), "date");
}

TEST(RecordBatchTest, SliceRowsCountsRowsAcrossRanges) {
  auto schema = std::make_shared<Schema>();
  schema->columns = {{"x", LogicalType::kInt64, false}};
  RecordBatch a(schema), b(schema);
  for (int64_t i = 0; i < 10; ++i) a.column(0).AppendInt64(i);
  for (int64_t i = 0; i < 5; ++i) b.column(0).AppendInt64(100 + i);
  // Rows 2..9 of a, none of b, all of b: 13 rows.
  const std::vector<RowRange> ranges{{&a, 2, 10}, {&b, 0, 0}, {&b, 0, 5}};
  EXPECT_EQ(CountRows(ranges), 13u);
  auto values = [](const std::vector<RowRange>& rs) {
    std::vector<int64_t> out;
    for (const RowRange& r : rs) {
      for (size_t i = r.begin; i < r.end; ++i) out.push_back(r.batch->column(0).GetInt64(i));
    }
    return out;
  };
  EXPECT_EQ(values(SliceRows(ranges, 0, 13)), values(ranges));
  EXPECT_EQ(values(SliceRows(ranges, 6, 10)), (std::vector<int64_t>{8, 9, 100, 101}));
  EXPECT_EQ(values(SliceRows(ranges, 8, 8)), (std::vector<int64_t>{}));
  EXPECT_EQ(values(SliceRows(ranges, 11, 20)), (std::vector<int64_t>{103, 104}));
  EXPECT_EQ(SliceRows(ranges, 0, 3).size(), 1u);  // no empty range in a slice
  EXPECT_TRUE(SliceRows(ranges, 5, 3).empty());   // backwards: nothing
  EXPECT_EQ(values(SliceRows(ranges, 12, 99)), (std::vector<int64_t>{104}));  // clipped at the end
  EXPECT_TRUE(SliceRows(ranges, 13, 99).empty());
  // Every cut of the rows into files gives back each row once, in order.
  for (size_t per = 1; per <= 13; ++per) {
    std::vector<int64_t> all;
    for (size_t begin = 0; begin < 13; begin += per) {
      for (int64_t v : values(SliceRows(ranges, begin, std::min<size_t>(13, begin + per))))
        all.push_back(v);
    }
    EXPECT_EQ(all, values(ranges)) << per;
  }
}

TEST(RecordBatchTest, AppendRowsEqualsAppendingRowByRow) {
  auto schema = std::make_shared<Schema>(Schema{{{"s", LogicalType::kString, true},
                                                 {"i", LogicalType::kInt32, true},
                                                 {"l", LogicalType::kInt64},
                                                 {"d", LogicalType::kDouble},
                                                 {"t", LogicalType::kTimestamp},
                                                 {"b", LogicalType::kBool}}});
  RecordBatch src(schema);
  for (int r = 0; r < 50; ++r) {
    if (r % 7 == 3)
      src.column(0).AppendNull();
    else
      src.column(0).AppendString(std::string(r % 5, 'a' + r % 26));
    if (r % 4 == 1)
      src.column(1).AppendNull();
    else
      src.column(1).AppendInt32(r * 3);
    src.column(2).AppendInt64(-r);
    src.column(3).AppendDouble(r / 4.0);
    src.column(4).AppendTimestamp(EventTime(Micros(1000 + r)));
    src.column(5).AppendBool(r % 2 == 0);
  }
  // A destination that already holds rows: the string offsets must be rebased.
  RecordBatch bulk(schema), rows(schema);
  bulk.AppendRow(src, 9);
  rows.AppendRow(src, 9);
  bulk.AppendRows(src, 11, 40);
  bulk.AppendRows(src, 5, 5);  // empty range: nothing
  bulk.AppendRows(src, 0, 3);
  for (size_t r = 11; r < 40; ++r) rows.AppendRow(src, r);
  for (size_t r = 0; r < 3; ++r) rows.AppendRow(src, r);
  ASSERT_EQ(bulk.num_rows(), rows.num_rows());
  ASSERT_EQ(bulk.num_rows(), 33u);
  EXPECT_EQ(bulk.ByteSize(), rows.ByteSize());
  for (size_t r = 0; r < bulk.num_rows(); ++r) {
    for (size_t c = 0; c < 6; ++c)
      ASSERT_EQ(bulk.column(c).IsNull(r), rows.column(c).IsNull(r)) << r << "," << c;
    EXPECT_EQ(bulk.column(0).GetString(r), rows.column(0).GetString(r)) << r;
    EXPECT_EQ(bulk.column(1).GetInt32(r), rows.column(1).GetInt32(r)) << r;
    EXPECT_EQ(bulk.column(2).GetInt64(r), rows.column(2).GetInt64(r)) << r;
    EXPECT_EQ(bulk.column(3).GetDouble(r), rows.column(3).GetDouble(r)) << r;
    EXPECT_EQ(bulk.column(4).GetTimestamp(r), rows.column(4).GetTimestamp(r)) << r;
    EXPECT_EQ(bulk.column(5).GetBool(r), rows.column(5).GetBool(r)) << r;
  }
}

}  // namespace
}  // namespace smartcity
