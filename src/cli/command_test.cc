// The thin cli layer: option precedence (flag > environment > TOML config file > default), exit
// code 2 with one "smartcity: ..." line for a bad flag, value or config file, and ReportError's
// line and exit code per error kind. Nothing here starts a pipeline: every command line tested
// fails validation before any work.
#include "cli/command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace smartcity::cli {
namespace {

namespace fs = std::filesystem;

class CommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cli-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    ::unsetenv("VEHICLE_TOPIC");
    ::unsetenv("SMARTCITY_CONFIG");
  }
  void TearDown() override {
    ::unsetenv("VEHICLE_TOPIC");
    ::unsetenv("SMARTCITY_CONFIG");
    fs::remove_all(dir_);
  }

  std::string WriteConfig(const std::string& text) {
    const fs::path p = dir_ / "smartcity.toml";
    std::ofstream(p) << text;
    return p.string();
  }

  // Parses `args` with a root configured as the binary's and a "run" subcommand holding the topic
  // name options; returns the vehicle topic's name it ends with.
  std::string VehicleTopicAfter(std::vector<std::string> args) {
    CLI::App root{"test"};
    std::string default_config;
    ConfigureRoot(root, &default_config);
    CLI::App* run = root.add_subcommand("run");
    TopicNames topics;
    AddTopicNameOptions(run, &topics);
    args.insert(args.begin(), "smartcity");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    root.parse(static_cast<int>(argv.size()), argv.data());
    return topics[Topic::kVehicle];
  }

  // Runs the whole command line; returns the exit code and what it printed on stderr.
  std::pair<int, std::string> Run(std::vector<std::string> args) {
    args.insert(args.begin(), "smartcity");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    ::testing::internal::CaptureStderr();
    const int code = RunCommandLine(static_cast<int>(argv.size()), argv.data());
    return {code, ::testing::internal::GetCapturedStderr()};
  }

  fs::path dir_;
};

TEST_F(CommandTest, FlagBeatsEnvironmentBeatsConfigFileBeatsDefault) {
  const std::string config = WriteConfig("[run]\nvehicle-topic = \"from_file\"\n");
  EXPECT_EQ(VehicleTopicAfter({"run"}), "vehicle_data");
  EXPECT_EQ(VehicleTopicAfter({"--config", config, "run"}), "from_file");
  ::setenv("VEHICLE_TOPIC", "from_env", 1);
  EXPECT_EQ(VehicleTopicAfter({"run"}), "from_env");
  EXPECT_EQ(VehicleTopicAfter({"--config", config, "run"}), "from_env");
  EXPECT_EQ(VehicleTopicAfter({"--config", config, "run", "--vehicle-topic", "from_flag"}),
            "from_flag");
  ::unsetenv("VEHICLE_TOPIC");
  EXPECT_EQ(VehicleTopicAfter({"--config", config, "run", "--vehicle-topic", "from_flag"}),
            "from_flag");
}

TEST_F(CommandTest, SmartcityConfigNamesTheDefaultFile) {
  ::setenv("SMARTCITY_CONFIG", WriteConfig("[run]\nvehicle-topic = \"from_file\"\n").c_str(), 1);
  EXPECT_EQ(VehicleTopicAfter({"run"}), "from_file");
}

// One line on stderr, "smartcity: <what> (see smartcity --help)", and exit code 2.
void ExpectUsageLine(const std::pair<int, std::string>& r, const std::string& what) {
  EXPECT_EQ(r.first, kExitUsage) << r.second;
  EXPECT_EQ(r.second.rfind("smartcity: ", 0), 0u) << r.second;
  EXPECT_NE(r.second.find(what), std::string::npos) << r.second;
  ASSERT_FALSE(r.second.empty());
  EXPECT_EQ(r.second.back(), '\n');
  EXPECT_EQ(r.second.find('\n'), r.second.size() - 1) << r.second;
}

TEST_F(CommandTest, ABadFlagOrValueIsExitCode2WithOneLine) {
  ExpectUsageLine(Run({"stream", "--no-such-flag"}), "--no-such-flag");
  ExpectUsageLine(Run({"run", "--trigger", "soon"}), "(see smartcity run --help)");
  ExpectUsageLine(Run({"run", "--epoch-memory", "lots"}), "--epoch-memory");
  ExpectUsageLine(Run({"no-such-command"}), "(see smartcity --help)");
}

TEST_F(CommandTest, SmartcityAlonePrintsTheHelp) {
  ::testing::internal::CaptureStdout();
  const auto r = Run({});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(r.first, kExitOk) << r.second;
  for (const char* c : {"run", "stream", "serve", "simulate", "load", "crawl", "sql"})
    EXPECT_NE(out.find(c), std::string::npos) << c << " missing from " << out;
}

TEST_F(CommandTest, AnUnknownCommandIsNamedWithTheList) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"no-such-command"}, {"lod", "--once"}}) {
    const auto r = Run(args);
    ExpectUsageLine(r, "unknown command '" + args[0] + "'");
    EXPECT_NE(r.second.find("run, stream"), std::string::npos) << r.second;
  }
  EXPECT_NE(Run({"lod"}).second.find("did you mean 'load'?"), std::string::npos);
}

TEST_F(CommandTest, AUsageErrorPointsToTheCommandsHelp) {
  for (const char* command : {"run", "stream", "load", "sql", "crawl", "serve", "simulate"})
    ExpectUsageLine(Run({command, "--no-such-flag"}),
                    std::string("(see smartcity ") + command + " --help)");
}

TEST_F(CommandTest, AnInvalidCombinationIsExitCode2BeforeAnyWork) {
  ExpectUsageLine(Run({"stream", "--final"}), "--final needs --stop-when-idle");
  ExpectUsageLine(Run({"run", "--trigger", "1ms"}), "--trigger must be at least 10ms");
}

TEST_F(CommandTest, ABadConfigFileIsExitCode2) {
  ExpectUsageLine(Run({"--config", WriteConfig("[run]\nno-such-option = 1\n"), "run"}),
                  "no-such-option");
  // The file, the line, the key and the right key.
  const std::string config = WriteConfig("# city\n[run]\nvehicles = 3\nvehicle = 10\n");
  ExpectUsageLine(Run({"--config", config, "run"}),
                  "config file " + config +
                      ":4: unknown key \"vehicle\" in [run] (did you mean "
                      "\"vehicles\"?)");
  ExpectUsageLine(Run({"--config", WriteConfig("[runn]\nvehicles = 3\n"), "run"}),
                  ":2: section [runn] is not a command (did you mean [run]?)");
  ExpectUsageLine(Run({"--config",
                       WriteConfig("[stream]\nlake = \"x\"\n[load]\nonce = true\n"
                                   "table = \"a\"\n"),
                       "run"}),
                  ":5: unknown key \"table\" in [load] (did you mean \"tables\"?)");
  ::setenv("SMARTCITY_CONFIG", (dir_ / "missing.toml").c_str(), 1);
  ExpectUsageLine(Run({"run"}), "SMARTCITY_CONFIG names");
}

TEST_F(CommandTest, ReportErrorPrintsOneLineAndMapsTheKind) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(ReportError(Status::IOError("disk full")), kExitFailure);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "smartcity: disk full\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(ReportError(Status::Unavailable("broker down")), kExitFailure);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "smartcity: broker down\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(ReportError(Status::InvalidArgument("--lake is empty")), kExitUsage);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "smartcity: --lake is empty\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(UsageError("bad"), kExitUsage);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "smartcity: bad\n");
}

TEST_F(CommandTest, DurationOptionsParseAndRejectBadValues) {
  CLI::App app{"test"};
  Micros d = std::chrono::seconds(10);
  AddDurationOption(&app, "--every", &d, "How often");
  std::vector<const char*> ok = {"test", "--every", "2m"};
  app.parse(static_cast<int>(ok.size()), ok.data());
  EXPECT_EQ(d, std::chrono::minutes(2));
  std::vector<const char*> bad = {"test", "--every", "often"};
  EXPECT_THROW(app.parse(static_cast<int>(bad.size()), bad.data()), CLI::ValidationError);
}

}  // namespace
}  // namespace smartcity::cli
