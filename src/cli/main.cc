// smartcity: one binary, one subcommand per capability (SPEC section 1).
//
// Configuration precedence: flags > environment > config file (--config or SMARTCITY_CONFIG, TOML
// with one [section] per subcommand) > built-in defaults.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/command.h"

namespace smartcity::cli {

std::atomic<bool> g_stop_requested{false};

namespace {

// CLI11 reads the config file before the environment and then skips variables for options the file
// already set, which would make the file beat the environment. This reader drops, from the file, every
// option whose environment variable is set, so the precedence is flags > environment > file > defaults.
class EnvFirstConfig final : public CLI::ConfigTOML {
 public:
  explicit EnvFirstConfig(const CLI::App& root) {
    Collect(root, "");
  }
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> items = CLI::ConfigTOML::from_config(input);
    std::erase_if(items, [this](const CLI::ConfigItem& item) {
      std::string key;
      for (const std::string& p : item.parents) key += p + ".";
      key += item.name;
      auto it = env_of_.find(key);
      return it != env_of_.end() && std::getenv(it->second.c_str()) != nullptr;
    });
    return items;
  }

 private:
  void Collect(const CLI::App& app, const std::string& prefix) {
    for (const CLI::Option* opt : app.get_options()) {
      if (opt->get_envname().empty()) continue;
      for (const std::string& name : opt->get_lnames()) env_of_[prefix + name] = opt->get_envname();
    }
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      Collect(*sub, prefix + sub->get_name() + ".");
    }
  }
  std::map<std::string, std::string> env_of_;
};

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

CLI::Option* AddDurationOption(CLI::App* app, const std::string& name, Micros* target, const std::string& help) {
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

CLI::Option* AddTimestampOption(CLI::App* app, const std::string& name, EventTime* target,
                                const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [target](const std::string& v) {
            if (v == "now") {
              *target = std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
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
    app->add_option("--" + stream + "-topic", (*topics)[t], "Topic name of the " + stream + " stream")
        ->envname(std::string(TopicEnvVar(t)))
        ->capture_default_str()
        ->group("Topics");
  }
}

}  // namespace smartcity::cli

int main(int argc, char** argv) {
  using namespace smartcity::cli;
  auto logger = spdlog::stderr_color_mt("smartcity");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{
      "smartcity: a real-time smart-city streaming and analytics pipeline.\n"
      "Simulates a city's vehicles and sensors and streams their events (see SPEC.md)."};
  app.name("smartcity");
  app.set_version_flag("--version", "smartcity 0.1.0");
  app.set_config("--config", "", "Read options from a TOML file ([simulate], [run], ... sections)")
      ->envname("SMARTCITY_CONFIG");
  app.require_subcommand(1, 1);
  app.fallthrough();

  CommandList commands;
  RegisterRun(app, commands);
  RegisterSimulate(app, commands);
  RegisterTopics(app, commands);
  app.config_formatter(std::make_shared<EnvFirstConfig>(app));

  try {
    app.parse(argc, argv);
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
