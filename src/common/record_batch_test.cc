#include "common/record_batch.h"

#include <gtest/gtest.h>

namespace smartcity {
namespace {

TEST(RecordBatchTest, AppendsAndReadsEveryType) {
  auto schema = std::make_shared<Schema>(Schema{{{"s", ColumnType::kString, true},
                                                 {"i", ColumnType::kInt32},
                                                 {"l", ColumnType::kInt64},
                                                 {"d", ColumnType::kDouble},
                                                 {"t", ColumnType::kTimestamp},
                                                 {"b", ColumnType::kBool}}});
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
}

}  // namespace
}  // namespace smartcity
