#include "cli/command.h"

#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/clock.h"

namespace smartcity::cli {

std::atomic<bool> g_stop_requested{false};

namespace {

void OnStopSignal(int) {
  if (g_stop_requested.exchange(true)) {
    // Second Ctrl-C: the user insists; leave now.
    std::_Exit(130);
  }
}
}  // namespace

void InstallStopSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int ReportError(const Status& s) {
  std::fprintf(stderr, "smartcity: %s\n", s.message().c_str());
  return s.kind() == ErrorKind::kInvalidArgument ? kExitUsage : kExitFailure;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "smartcity: %s\n", message.c_str());
  return kExitUsage;
}

CLI::Option* AddDurationOption(CLI::App* app, const std::string& name, Micros* target,
                               const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [target](const std::string& v) {
            auto d = ParseDuration(v);
            if (!d.ok()) throw CLI::ValidationError(d.status().message());
            *target = *d;
          },
          help + " [default: " + FormatDuration(*target) + "]")
      ->type_name("DURATION");
}

Result<uint64_t> ParseByteSize(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0)
    return Status::InvalidArgument("size \"" + std::string(s) + "\" does not start with a number");
  uint64_t n = std::stoull(std::string(s.substr(0, i)));
  std::string unit;
  for (char c : s.substr(i)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint64_t mult = 0;
  if (unit.empty() || unit == "b") mult = 1;
  if (unit == "k" || unit == "kb" || unit == "kib") mult = 1ull << 10;
  if (unit == "m" || unit == "mb" || unit == "mib") mult = 1ull << 20;
  if (unit == "g" || unit == "gb" || unit == "gib") mult = 1ull << 30;
  if (mult == 0)
    return Status::InvalidArgument("size \"" + std::string(s) + "\": unit must be B, KB, MB or GB");
  return n * mult;
}

CLI::Option* AddSizeOption(CLI::App* app, const std::string& name, uint64_t* target,
                           const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [target](const std::string& v) {
            auto b = ParseByteSize(v);
            if (!b.ok()) throw CLI::ValidationError(b.status().message());
            *target = *b;
          },
          help + " [default: " + std::to_string(*target >> 20) + "MB]")
      ->type_name("SIZE");
}

CLI::Option* AddTimestampOption(CLI::App* app, const std::string& name, EventTime* target,
                                const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [target](const std::string& v) {
            if (v == "now") {
              *target = AsEventTime(Clock::Real()->WallNow());  // the start of the city's time
              return;
            }
            auto t = ParseTimestamp(v);
            if (!t.ok()) throw CLI::ValidationError(t.status().message());
            *target = *t;
          },
          help + " [default: " + FormatTimestamp(*target) + "]")
      ->type_name("TIME");
}

void AddTopicNameOptions(CLI::App* app, TopicNames* topics) {
  for (Topic t : kAllTopics) {
    std::string stream(DefaultTopicName(t).substr(0, DefaultTopicName(t).find('_')));
    app->add_option("--" + stream + "-topic", (*topics)[t],
                    "Topic name of the " + stream + " stream")
        ->envname(std::string(TopicEnvVar(t)))
        ->capture_default_str()
        ->group("Topics");
  }
}

namespace {

// The TOML reader, with SPEC's precedence. CLI11 reads the config file before the environment and
// never lets an environment variable replace a value the file gave, so on its own it ranks
// file > environment; SPEC section 1 says flags > environment > file. This reader drops the file's
// value of every option whose environment variable is set; CLI11 then fills it from the
// environment.
class EnvBeatsFileToml final : public CLI::ConfigBase {
 public:
  explicit EnvBeatsFileToml(const CLI::App* root) : root_(root) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> items = CLI::ConfigBase::from_config(input);
    std::erase_if(items, [this](const CLI::ConfigItem& item) { return SetInEnvironment(item); });
    return items;
  }

 private:
  bool SetInEnvironment(const CLI::ConfigItem& item) const {
    const CLI::App* app = root_;
    try {
      for (const std::string& parent : item.parents) app = app->get_subcommand(parent);
    } catch (const CLI::OptionNotFound&) {
      return false;  // not ours to judge: CLI11 reports it
    }
    const CLI::Option* opt = app->get_option_no_throw("--" + item.name);
    if (opt == nullptr || opt->get_envname().empty()) return false;
    const char* value = std::getenv(opt->get_envname().c_str());
    return value != nullptr && *value != '\0';
  }

  const CLI::App* root_;
};

}  // namespace

CLI::Option* ConfigureRoot(CLI::App& app, std::string* default_config) {
  app.config_formatter(std::make_shared<EnvBeatsFileToml>(&app));
  // A misspelt key in the config file is an error, not silently ignored (set before the subcommands
  // are added: they copy it).
  app.allow_config_extras(CLI::config_extras_mode::error);
  // SMARTCITY_CONFIG is the default file. (Not an envname on --config: CLI11 reads the config file
  // before the environment, so the variable would be seen too late and silently ignored.)
  const char* env_config = std::getenv("SMARTCITY_CONFIG");
  *default_config = env_config != nullptr ? env_config : "";
  return app.set_config(
      "--config", *default_config,
      "Read options from a TOML file ([simulate], [run], ... sections) [env: SMARTCITY_CONFIG]");
}

int RunCommandLine(int argc, const char* const* argv) {
  CLI::App app{
      "smartcity: a real-time smart-city streaming and analytics pipeline.\n"
      "Simulates a city's vehicles and sensors and streams their events (see SPEC.md)."};
  app.name("smartcity");
  app.set_version_flag("--version", "smartcity 0.1.0");
  std::string default_config;
  CLI::Option* config_opt = ConfigureRoot(app, &default_config);
  app.require_subcommand(1, 1);
  app.fallthrough();

  CommandList commands;
  RegisterRun(app, commands);
  RegisterStream(app, commands);
  RegisterServe(app, commands);
  RegisterSimulate(app, commands);
  RegisterTopics(app, commands);
  RegisterCompact(app, commands);
  RegisterLoad(app, commands);
  RegisterCrawl(app, commands);
  RegisterSql(app, commands);

  try {
    app.parse(argc, argv);
    // CLI11 skips a default config file that does not exist; one named by SMARTCITY_CONFIG must
    // exist.
    if (config_opt->count() == 0 && !default_config.empty() &&
        ::access(default_config.c_str(), R_OK) != 0) {
      return UsageError("SMARTCITY_CONFIG names '" + default_config + "', which cannot be read");
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty()) what = e.get_name();
    return UsageError(what + " (see smartcity --help)");
  }
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return UsageError("no subcommand given (see smartcity --help)");
}

}  // namespace smartcity::cli
