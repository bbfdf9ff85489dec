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
#include <thread>
#include <vector>

#include "cli/lake_options.h"

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

// A value the config file gives that is refused (a conversion, a parse-time check, or a check after
// parsing) is reported at the file's line with its key, as an unknown key is; the same value given
// on the command line is reported as the flag's.
TEST_F(CommandTest, ABadValueInTheConfigFileNamesTheFileLineAndKey) {
  struct Case {
    std::string text;
    std::vector<std::string> args;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"[run]\nvehicles = \"abc\"\n", {"run"}, ":2: key \"vehicles\" in [run]: "},
           {"# city\n[run]\nduration = \"5x\"\n",
            {"run"},
            ":3: key \"duration\" in [run]: --duration: '5x' is not a duration"},
           {"[run]\n\nvehicles = [1, 2]\n", {"run"}, ":3: key \"vehicles\" in [run]: "},
           {"[run]\nvehicles\n", {"run"}, ":2: key \"vehicles\" in [run]: "},
           {"[run]\nspeedup = \"fast\"\n",
            {"run"},
            ":2: key \"speedup\" in [run]: --speedup must be a number"},
           {"[load]\nonce = true\n[sql]\nformat = \"xml\"\n",
            {"sql", "SELECT 1"},
            ":4: key \"format\" in [sql]: --format: xml not in"},
           {"[run\nvehicles = 3\n", {"run"}, ":1: the section header [run has no closing ]"},
       }) {
    std::vector<std::string> args = {"--config", WriteConfig(c.text)};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto r = Run(args);
    ExpectUsageLine(r, "config file " + (dir_ / "smartcity.toml").string() + c.want);
    EXPECT_EQ(r.second.find("--help"), std::string::npos) << r.second;
  }
  // The command line's value is the flag's, not the file's.
  const auto r =
      Run({"--config", WriteConfig("[run]\nduration = \"1m\"\n"), "run", "--duration", "5x"});
  ExpectUsageLine(r, "--duration: '5x' is not a duration");
  EXPECT_EQ(r.second.find("config file"), std::string::npos) << r.second;
  EXPECT_NE(r.second.find("(see smartcity run --help)"), std::string::npos) << r.second;
}

// `load --follow` (and --every) may start before the pipeline that creates the lake: it waits for
// the folder, as it waits for a lake's first commit, where `load --once` refuses it.
TEST_F(CommandTest, LoadFollowWaitsForALakeFolderNotCreatedYet) {
  const fs::path lake = dir_ / "created-later";
  std::thread pipeline([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    fs::create_directories(lake);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    g_stop_requested = true;  // as SIGTERM does
  });
  const auto r = Run({"load", "--follow", "--lake", lake.string(), "--warehouse",
                      "duckdb:" + (dir_ / "follow.duckdb").string()});
  pipeline.join();
  g_stop_requested = false;
  EXPECT_EQ(r.first, kExitOk) << r.second;
  EXPECT_NE(r.second.find("no lake at " + lake.string() + " yet"), std::string::npos) << r.second;
  EXPECT_NE(r.second.find("waiting for its first commit"), std::string::npos) << r.second;
}

// --lake means the same in every command: a file is refused with the same message, and a folder
// that does not exist is refused by every command that only reads, which creates nothing.
TEST_F(CommandTest, TheLakeOptionMeansTheSameInEveryCommand) {
  const fs::path file = dir_ / "a-file";
  std::ofstream(file) << "x";
  const std::vector<std::vector<std::string>> commands = {
      {"run", "--warehouse", "none", "--no-serve"},
      {"stream", "--no-serve"},
      {"load", "--once"},
      {"sql", "SELECT 1"},
      {"crawl"},
      {"serve"},
      {"compact"},
  };
  for (std::vector<std::string> args : commands) {
    args.push_back("--lake");
    args.push_back(file.string());
    ExpectUsageLine(Run(args), "--lake " + file.string() + " is a file, not a lake folder");
  }
  const fs::path missing = dir_ / "no-lake";
  for (size_t i = 2; i < commands.size(); ++i) {  // the readers
    std::vector<std::string> args = commands[i];
    args.push_back("--lake");
    args.push_back(missing.string());
    ExpectUsageLine(Run(args), "no lake at " + missing.string() + ": the folder does not exist");
    EXPECT_FALSE(fs::exists(missing)) << args[0] << " created the lake folder";
  }
  // SMARTCITY_LAKE is every command's default lake.
  ::setenv("SMARTCITY_LAKE", missing.c_str(), 1);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"load", "--once"}, std::vector<std::string>{"serve"},
        std::vector<std::string>{"crawl"}})
    ExpectUsageLine(Run(args), "no lake at " + missing.string());
  ::setenv("SMARTCITY_LAKE", file.c_str(), 1);
  ExpectUsageLine(Run({"run", "--warehouse", "none", "--no-serve"}),
                  "is a file, not a lake folder");
  ::unsetenv("SMARTCITY_LAKE");
}

// A folder that holds no lake, or a table it does not have: load fails before creating anything.
TEST_F(CommandTest, LoadOfNoLakeOrNoTableIsAnErrorAndCreatesNothing) {
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  ExpectUsageLine(Run({"load", "--once", "--lake", empty.string()}), "has no Delta table");
  EXPECT_TRUE(fs::is_empty(empty));
  EXPECT_FALSE(fs::exists(dir_ / "empty-warehouse.duckdb"));
  fs::create_directories(empty / "enriched_data" / "_delta_log");
  std::ofstream(empty / "enriched_data" / "_delta_log" / "00000000000000000000.json") << "{}\n";
  ExpectUsageLine(Run({"load", "--once", "--lake", empty.string(), "--tables", "nosuch"}),
                  "has no table nosuch; its tables are enriched_data");
  EXPECT_FALSE(fs::exists(empty / ".staging"));
  EXPECT_FALSE(fs::exists(dir_ / "empty-warehouse.duckdb"));
}

// A warehouse that cannot be one is a usage error before anything starts, in `load` and `run`.
TEST_F(CommandTest, ABadWarehouseIsExitCode2BeforeAnyWork) {
  const fs::path lake = dir_ / "lake";
  for (const std::string& bad : {std::string("foo"), std::string("mysql://h/db"),
                                 "duckdb:" + (dir_ / "no" / "such" / "w.duckdb").string()}) {
    ExpectUsageLine(Run({"run", "--lake", lake.string(), "--no-serve", "--warehouse", bad}),
                    "--warehouse " + bad);
    EXPECT_FALSE(fs::exists(lake)) << bad;
  }
}

TEST_F(CommandTest, ALakeHasOneRunAndNoStreamBesideIt) {
  const std::string lake = dir_.string();
  using Mode = LakeLock::Mode;
  {
    auto run = LakeLock::Acquire(lake, Mode::kExclusive, "run");
    ASSERT_TRUE(run.ok()) << run.status().message();
    for (Mode m : {Mode::kExclusive, Mode::kShared}) {
      auto other = LakeLock::Acquire(lake, m, m == Mode::kShared ? "stream" : "run");
      ASSERT_FALSE(other.ok());
      EXPECT_EQ(other.status().kind(), ErrorKind::kAlreadyExists);
      EXPECT_NE(other.status().message().find("is in use by `run` (pid " +
                                              std::to_string(::getpid()) + ")"),
                std::string::npos)
          << other.status().message();
    }
  }
  {
    auto stream1 = LakeLock::Acquire(lake, Mode::kShared, "stream");
    auto stream2 = LakeLock::Acquire(lake, Mode::kShared, "stream");
    ASSERT_TRUE(stream1.ok() && stream2.ok());
    auto run = LakeLock::Acquire(lake, Mode::kExclusive, "run");
    ASSERT_FALSE(run.ok());
    EXPECT_NE(run.status().message().find("in use by one or more `stream` processes"),
              std::string::npos)
        << run.status().message();
  }
  EXPECT_TRUE(LakeLock::Acquire(lake, Mode::kExclusive, "run").ok()) << "released at the end";
  EXPECT_TRUE(LakeLock::Acquire("s3://bucket/lake", Mode::kExclusive, "run").ok());
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
