// The subcommand registry of the smartcity binary. Each subcommand lives in its own file and adds
// itself to the root CLI11 app with a Register*() function; RunCommandLine() (called by main())
// parses once and runs the one subcommand that was given. The shared helpers below are defined in
// command.cc.
//
// Configuration precedence: flags > environment > config file (--config or SMARTCITY_CONFIG, TOML
// with one [section] per subcommand) > built-in defaults.
//
// `smartcity` alone prints the help (exit 0); an unknown command is named, with the list of
// commands; a usage error points to the command's own --help.
//
// Exit codes: 0 success; 1 the work failed (broker down, disk full, ...); 2 bad usage, option,
// value or config file (nothing was done).
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "transport/message.h"

namespace smartcity::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  CLI::App* app;
  std::function<int()> run;
};
using CommandList = std::vector<Command>;

// The whole command line: builds the root app with every subcommand, parses `argv` and runs the
// subcommand given. Returns the exit code (a usage error returns kExitUsage before any work).
int RunCommandLine(int argc, const char* const* argv);

// Gives a root app --config (default: $SMARTCITY_CONFIG, stored in *default_config) and the
// precedence above; call before adding subcommands. Returns the --config option.
CLI::Option* ConfigureRoot(CLI::App& app, std::string* default_config);

// The config file's checks (pure, unit-tested): what is wrong with the key `name` of section
// `parents` ("" if the root has such an option): an unknown section or key, with the closest right
// one; and the 1-based line of that key in the file's `text` (0 if not found).
std::string ConfigKeyProblem(const CLI::App& root, const std::vector<std::string>& parents,
                             const std::string& name);
int ConfigKeyLine(const std::string& text, const std::vector<std::string>& parents,
                  const std::string& name);

// Set by SIGINT/SIGTERM; long-running commands stop cleanly and print their summary.
extern std::atomic<bool> g_stop_requested;
void InstallStopSignalHandlers();

// Prints "smartcity: <message>" on stderr and returns the exit code for the status's kind.
int ReportError(const Status& s);
// Prints "smartcity: <message>" on stderr and returns kExitUsage.
int UsageError(const std::string& message);

// Options whose values are durations ("10s", "2m") or timestamps; CLI11 validates them at parse
// time so a bad value is a usage error naming the flag.
CLI::Option* AddDurationOption(CLI::App* app, const std::string& name, Micros* target,
                               const std::string& help);
CLI::Option* AddTimestampOption(CLI::App* app, const std::string& name, EventTime* target,
                                const std::string& help);
// "128MB", "32MiB", "64k", "1048576" -> bytes (K/M/G are powers of 1024, as file sizes usually
// are), and an option taking such a size.
Result<uint64_t> ParseByteSize(std::string_view s);
CLI::Option* AddSizeOption(CLI::App* app, const std::string& name, uint64_t* target,
                           const std::string& help);

// --vehicle-topic ... --emergency-topic, each also read from the seeds' variable (VEHICLE_TOPIC,
// ...).
void AddTopicNameOptions(CLI::App* app, TopicNames* topics);

void RegisterSimulate(CLI::App& root, CommandList& commands);
void RegisterRun(CLI::App& root, CommandList& commands);
void RegisterTopics(CLI::App& root, CommandList& commands);
void RegisterCompact(CLI::App& root, CommandList& commands);
void RegisterStream(CLI::App& root, CommandList& commands);
void RegisterLoad(CLI::App& root, CommandList& commands);
void RegisterCrawl(CLI::App& root, CommandList& commands);
void RegisterSql(CLI::App& root, CommandList& commands);
void RegisterServe(CLI::App& root, CommandList& commands);

}  // namespace smartcity::cli
