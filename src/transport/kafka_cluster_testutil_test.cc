// RunProcess, the subprocess runner the Kafka integration tests drive kcat and scripts/kafka.sh
// with.
#include "transport/kafka_cluster_testutil.h"

#include <gtest/gtest.h>

#include <string>

namespace smartcity {
namespace {

TEST(RunProcess, FeedsStdinAndCollectsBothOutputs) {
  std::string big(1 << 20, 'x');  // larger than a pipe buffer: stdin and stdout must interleave
  auto r = RunProcess({"sh", "-c", "cat; echo done >&2; exit 3"}, big);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, big);
  EXPECT_EQ(r->err, "done\n");
}

TEST(RunProcess, ChildThatIgnoresItsInputDoesNotKillTheCaller) {
  auto r = RunProcess({"true"}, std::string(1 << 20, 'y'));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcess, ReportsSignalsMissingProgramsAndTimeouts) {
  auto killed = RunProcess({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit_code, 128 + 9);

  auto missing = RunProcess({"smartcity-no-such-program"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), ErrorKind::kNotFound);

  // Output closed but still running: the deadline still applies.
  auto slow =
      RunProcess({"sh", "-c", "exec >/dev/null 2>&1; exec sleep 30"}, {}, std::chrono::seconds(1));
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().kind(), ErrorKind::kTimeout);
}

}  // namespace
}  // namespace smartcity
