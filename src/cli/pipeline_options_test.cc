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
  EXPECT_EQ(b.warehouse_duckdb, 32 * kMiB);
  EXPECT_EQ(b.warehouse_reader, 16 * kMiB);
  EXPECT_EQ(ProcessorOptionsOf(a).max_epoch_bytes, 8 * kMiB);
  EXPECT_EQ(WriterDatabaseOptionsOf(a).settings.at("memory_limit"), "48MiB");

  a.memory_mib = 1024;
  b = MemoryBudgetOf(a);
  EXPECT_EQ(b.transport, 128 * kMiB);
  EXPECT_EQ(b.epoch_rows, 32 * kMiB);
  EXPECT_EQ(b.writer_duckdb, 128 * kMiB);
  EXPECT_EQ(b.warehouse_duckdb, 128 * kMiB);

  a.epoch_mib = 8;  // set explicitly: not derived
  EXPECT_EQ(ProcessorOptionsOf(a).max_epoch_bytes, 8 * kMiB);
}

TEST(MemoryBudgetTest, WithoutAWarehouseTheWriterGetsTheLoadersShares) {
  PipelineArgs a;
  a.with_warehouse = false;
  const MemoryBudget b = MemoryBudgetOf(a);
  EXPECT_EQ(b.writer_duckdb, 112 * kMiB);  // 256 * 7/16
  EXPECT_EQ(b.warehouse_duckdb, 0u);
  EXPECT_EQ(b.warehouse_reader, 0u);
  EXPECT_EQ(WriterDatabaseOptionsOf(a).settings.at("memory_limit"), "112MiB");
}

TEST(MemoryBudgetTest, UnderALimitFreedMemoryGoesBackFiveTimesASecond) {
  PipelineArgs a;
  a.memory_mib = 0;
  EXPECT_EQ(SizeProcessAllocator(a), std::chrono::seconds(1));
  a.memory_mib = 256;  // also caps this test process's C allocator at two arenas: harmless
  EXPECT_EQ(SizeProcessAllocator(a), std::chrono::milliseconds(200));
}

TEST(MemoryBudgetTest, NoLimitLeavesEveryPartAtItsDefault) {
  PipelineArgs a;
  a.memory_mib = 0;  // stream's default
  EXPECT_TRUE(ValidatePipeline(a).ok());
  const MemoryBudget b = MemoryBudgetOf(a);
  EXPECT_EQ(b.transport, 0u);
  EXPECT_EQ(b.epoch_input, 0u);
  EXPECT_EQ(b.epoch_rows, 64 * kMiB);
  EXPECT_EQ(b.writer_duckdb, 0u);
  EXPECT_EQ(WriterDatabaseOptionsOf(a).settings.count("memory_limit"), 0u);
  a.epoch_mib = 16;
  EXPECT_EQ(ProcessorOptionsOf(a).max_epoch_bytes, 16 * kMiB);
}

TEST(MemoryBudgetTest, AnOutOfMemoryFailureSaysWhichShareAndHowToRaiseIt) {
  PipelineArgs a;
  const Status oom =
      Status::ResourceExhausted("writing Parquet file x: query failed: Out of Memory");
  const Status s = ExplainMemoryFailure(oom, a);
  EXPECT_EQ(s.kind(), ErrorKind::kResourceExhausted);
  EXPECT_NE(s.message().find("share of --memory-limit 256 MiB is 48 MiB"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("give the process more with --memory-limit"), std::string::npos);
  const Status other = Status::IOError("disk");
  EXPECT_EQ(ExplainMemoryFailure(other, a).message(), "disk");
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
