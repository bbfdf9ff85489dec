// --memory-limit and the parts derived from it.
#include "cli/pipeline_options.h"

#include <gtest/gtest.h>

namespace smartcity::cli {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

TEST(MemoryBudgetTest, TheDefaultLimitIsSharedAndTheEpochKnobWins) {
  PipelineArgs a;
  EXPECT_EQ(a.memory_mib, 256);
  MemoryBudget b = MemoryBudgetOf(a);
  EXPECT_EQ(b.transport, 32 * kMiB);
  EXPECT_EQ(b.epoch_input, 8 * kMiB);
  EXPECT_EQ(b.epoch_rows, 8 * kMiB);
  EXPECT_EQ(b.writer_duckdb, 48 * kMiB);  // the floors
  EXPECT_EQ(b.warehouse_duckdb, 64 * kMiB);
  EXPECT_EQ(b.warehouse_reader, 16 * kMiB);
  EXPECT_EQ(ProcessorOptionsOf(a).max_epoch_bytes, 8 * kMiB);
  EXPECT_EQ(WriterDatabaseOptionsOf(a).settings.at("memory_limit"), "48MiB");

  a.memory_mib = 1024;
  b = MemoryBudgetOf(a);
  EXPECT_EQ(b.transport, 128 * kMiB);
  EXPECT_EQ(b.epoch_rows, 32 * kMiB);
  EXPECT_EQ(b.writer_duckdb, 128 * kMiB);
  EXPECT_EQ(b.warehouse_duckdb, 256 * kMiB);

  a.epoch_mib = 8;  // set explicitly: not derived
  EXPECT_EQ(ProcessorOptionsOf(a).max_epoch_bytes, 8 * kMiB);
}

TEST(MemoryBudgetTest, LimitsOutsideTheRangeAreRefused) {
  PipelineArgs a;
  EXPECT_TRUE(ValidatePipeline(a).ok());
  a.memory_mib = 64;
  EXPECT_EQ(ValidatePipeline(a).kind(), ErrorKind::kInvalidArgument);
  a.memory_mib = 256;
  a.epoch_mib = -1;
  EXPECT_EQ(ValidatePipeline(a).kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace smartcity::cli
