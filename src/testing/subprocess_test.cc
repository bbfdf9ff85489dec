#include "testing/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "testing/files.h"

namespace smartcity::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RunProcessTest, CollectsStdoutStderrAndTheExitCode) {
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_TRUE(r->status.ExitedWith(3));
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->status.ToString(), "exit 3");
}

TEST(RunProcessTest, FeedsStdinLargerThanAPipe) {
  std::string input;
  for (int i = 0; i < 200'000; ++i) input += std::to_string(i) + "\n";
  auto r = RunProcess({"cat"}, {.input = input});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->out, input);
  EXPECT_TRUE(r->status.ExitedWith(0));
}

TEST(RunProcessTest, FeedsStdinWhileCollectingBothOutputs) {
  std::string big(1 << 20, 'x');  // larger than a pipe buffer: stdin and stdout must interleave
  auto r = RunProcess({"sh", "-c", "cat; echo done >&2; exit 3"}, {.input = big});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, big);
  EXPECT_EQ(r->err, "done\n");
}

TEST(RunProcessTest, ChildThatIgnoresItsInputDoesNotKillTheCaller) {
  auto r = RunProcess({"true"}, {.input = std::string(1 << 20, 'y')});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcessTest, MergesStderrInOrder) {
  auto r = RunProcess({"sh", "-c", "echo 1; echo 2 >&2; echo 3"}, {.merge_stderr = true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "1\n2\n3\n");
  EXPECT_EQ(r->err, "");
}

TEST(RunProcessTest, EnvironmentAndWorkingDirectory) {
  TempDir dir;
  ::setenv("SMARTCITY_TESTING_INHERITED", "from-parent", 1);
  ::setenv("SMARTCITY_TESTING_REPLACED", "old", 1);
  auto r = RunProcess(
      {"sh", "-c",
       "echo $SMARTCITY_TESTING_INHERITED $SMARTCITY_TESTING_REPLACED "
       "$SMARTCITY_TESTING_NEW; pwd -P"},
      {.env = {{"SMARTCITY_TESTING_REPLACED", "new"}, {"SMARTCITY_TESTING_NEW", "added"}},
       .cwd = dir.path()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out,
            "from-parent new added\n" + std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST(RunProcessTest, ReportsADeathBySignal) {
  auto r = RunProcess({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->status.KilledBy(SIGKILL));
  EXPECT_EQ(r->exit_code, 137);
  EXPECT_NE(r->status.ToString().find("killed by signal 9"), std::string::npos);
}

TEST(RunProcessTest, TimeoutKillsTheChild) {
  const auto start = std::chrono::steady_clock::now();
  auto r =
      RunProcess({"sh", "-c", "echo started >&2; exec sleep 30"}, {.timeout = milliseconds(300)});
  EXPECT_EQ(r.status().kind(), ErrorKind::kTimeout);
  EXPECT_NE(r.status().message().find("started"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST(RunProcessTest, DeadlineHoldsForAChildThatClosedItsOutput) {
  auto slow =
      RunProcess({"sh", "-c", "exec >/dev/null 2>&1; exec sleep 30"}, {.timeout = seconds(1)});
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().kind(), ErrorKind::kTimeout);
}

TEST(RunProcessTest, DoesNotWaitForABackgroundGrandchild) {
  // The grandchild inherits stdout and keeps it open for 5 s; the child itself is done at once.
  const auto start = std::chrono::steady_clock::now();
  auto r = RunProcess({"sh", "-c", "sleep 5 & echo started"}, {.timeout = seconds(20)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->out, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(4));
}

TEST(RunProcessTest, MissingProgramIsNotFound) {
  EXPECT_EQ(RunProcess({"/no/such/program"}).status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(RunProcess({"smartcity-no-such-program"}).status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(RunProcess({}).status().kind(), ErrorKind::kInvalidArgument);
}

TEST(SubprocessTest, KillIsSigkillAndTheStatusIsKept) {
  TempDir dir;
  auto p = Subprocess::Start({"sh", "-c", "echo ready; echo oops >&2; exec sleep 30"},
                             {.output_file = dir / "log"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_GT(p->pid(), 0);
  EXPECT_TRUE(p->Running());
  EXPECT_EQ(p->Wait(milliseconds(20)).status().kind(), ErrorKind::kTimeout);
  const ExitStatus s = p->Kill();
  EXPECT_TRUE(s.KilledBy(SIGKILL)) << s.ToString();
  EXPECT_FALSE(p->Running());
  ASSERT_TRUE(p->status().has_value());
  EXPECT_EQ(p->Kill().ShellCode(), 137) << "a second Kill reports the same status";
  EXPECT_FALSE(p->Signal(SIGTERM).ok()) << "a reaped child is not signalled";
  EXPECT_EQ(ReadFile(dir / "log"), "ready\noops\n");
}

TEST(SubprocessTest, KillOfAProcessThatHadEndedShowsItsExit) {
  auto p = Subprocess::Start({"true"});
  ASSERT_TRUE(p.ok());
  auto s = p->Wait(seconds(30));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->ExitedWith(0));
  EXPECT_FALSE(p->Kill().KilledBy(SIGKILL));
}

TEST(SubprocessTest, StopSendsSigtermFirst) {
  auto p = Subprocess::Start({"sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.05; done"});
  ASSERT_TRUE(p.ok());
  std::this_thread::sleep_for(milliseconds(200));  // let the shell install its trap
  EXPECT_TRUE(p->Stop(seconds(30)).ExitedWith(7));
  auto stubborn = Subprocess::Start({"sh", "-c", "trap '' TERM; exec sleep 30"});
  ASSERT_TRUE(stubborn.ok());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(stubborn->Stop(milliseconds(100)).KilledBy(SIGKILL));
}

TEST(SubprocessTest, DestructorKillsAChildThatStillRuns) {
  pid_t pid = -1;
  {
    auto p = Subprocess::Start({"sleep", "30"});
    ASSERT_TRUE(p.ok());
    pid = p->pid();
    Subprocess moved = std::move(*p);
    EXPECT_EQ(moved.pid(), pid);
  }
  EXPECT_NE(::kill(pid, 0), 0) << "pid " << pid << " still exists";
}

TEST(SubprocessTest, ForkRunsAFunctionInACopy) {
  int in_parent = 1;
  auto p = Subprocess::Fork([&] {
    in_parent = 2;  // the copy's memory, not ours
    return 42;
  });
  ASSERT_TRUE(p.ok());
  auto s = p->Wait(seconds(30));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->ExitedWith(42)) << s->ToString();
  EXPECT_EQ(in_parent, 1);
}

}  // namespace
}  // namespace smartcity::test
