#include "testing/files.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "testing/network.h"
#include "testing/wait.h"

namespace smartcity::test {
namespace {

namespace fs = std::filesystem;

TEST(TempDirTest, MakesAFreshDirectoryAndRemovesItsTree) {
  fs::path kept;
  {
    TempDir a("smartcity-testing-test");
    TempDir b("smartcity-testing-test");
    ASSERT_TRUE(fs::is_directory(a.path()));
    EXPECT_NE(a.path(), b.path());
    EXPECT_EQ(a.path().filename().string().rfind("smartcity-testing-test-", 0), 0u);
    fs::create_directories(a / "x/y");
    std::ofstream(a / "x/y/z.txt") << "hello";
    EXPECT_EQ(ReadFile(a / "x/y/z.txt"), "hello");
    kept = a.path();
  }
  EXPECT_FALSE(fs::exists(kept));
}

TEST(TempDirTest, KeepLeavesItOnDisk) {
  fs::path kept;
  {
    TempDir d("smartcity-testing-keep");
    d.Keep(false);
    d.Keep(true);
    d.Keep(false);  // a later "no" does not undo an earlier "keep"
    kept = d.path();
  }
  EXPECT_TRUE(fs::is_directory(kept));
  fs::remove_all(kept);
}

TEST(ReadFileTest, MissingFileIsEmpty) {
  TempDir d;
  EXPECT_EQ(ReadFile(d / "missing"), "");
  std::ofstream(d / "bin", std::ios::binary) << std::string("a\0b", 3);
  EXPECT_EQ(ReadFile(d / "bin"), std::string("a\0b", 3));
}

TEST(WaitUntilTest, ReturnsOnceTrueAndGivesUpAtTheDeadline) {
  int calls = 0;
  EXPECT_TRUE(WaitUntil([&] { return ++calls == 3; }, std::chrono::seconds(10),
                        std::chrono::milliseconds(1)));
  EXPECT_EQ(calls, 3);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(
      WaitUntil([] { return false; }, std::chrono::milliseconds(50), std::chrono::milliseconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

TEST(UnusedLoopbackPortTest, IsAPortNumber) {
  const int port = UnusedLoopbackPort();
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
}

}  // namespace
}  // namespace smartcity::test
