#include "cli/command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

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

namespace {

// Where the values of the command line being run came from: the config file's line of each option
// it set (by long name, "--vehicles"), and the options given on the command line. Set while
// RunCommandLine parses and runs (one command line per process; tests run them one at a time).
struct ConfigOrigins {
  std::string command;                                      // the command word ("run")
  std::string file;                                         // the config file read, if any
  std::map<std::pair<std::string, std::string>, int> keys;  // (section, --name) -> line
  std::set<std::string> on_command_line;                    // --name
};
ConfigOrigins* g_config_origins = nullptr;

// `message` (a bad value, naming its option "--name") prefixed with the config file, line and key
// when that option's value came from the config file.
std::string AttributeToConfigFile(const std::string& message) {
  if (g_config_origins == nullptr) return message;
  // The option the message names: its first "--name".
  const size_t at = message.find("--");
  if (at == std::string::npos) return message;
  size_t end = at + 2;
  while (end < message.size() &&
         (std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '-')) {
    ++end;
  }
  const std::string option = message.substr(at, end - at);
  const ConfigOrigins& o = *g_config_origins;
  std::string section = o.command;
  auto it = o.keys.find({section, option});
  if (it == o.keys.end()) it = o.keys.find({section = "", option});
  if (it == o.keys.end() || o.on_command_line.count(option)) {
    return message;  // the value came from the command line, the environment or a default
  }
  const int line = it->second;
  return fmt::format("config file {}{}: key \"{}\"{}: {}", g_config_origins->file,
                     line > 0 ? ":" + std::to_string(line) : "", option.substr(2),
                     section.empty() ? "" : " in [" + section + "]", message);
}

}  // namespace

int ReportError(const Status& s) {
  // A bad value (kInvalidArgument) may have come from the config file: said so, at its line.
  const std::string message =
      s.kind() == ErrorKind::kInvalidArgument ? AttributeToConfigFile(s.message()) : s.message();
  std::fprintf(stderr, "smartcity: %s\n", message.c_str());
  return s.kind() == ErrorKind::kInvalidArgument ? kExitUsage : kExitFailure;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "smartcity: %s\n", AttributeToConfigFile(message).c_str());
  return kExitUsage;
}

CLI::Option* AddDurationOption(CLI::App* app, const std::string& name, Micros* target,
                               const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name,
          [target, name](const std::string& v) {
            auto d = ParseDuration(v);
            if (!d.ok()) throw CLI::ValidationError(name, d.status().message());
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
          [target, name](const std::string& v) {
            auto b = ParseByteSize(v);
            if (!b.ok()) throw CLI::ValidationError(name, b.status().message());
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
          [target, name](const std::string& v) {
            if (v == "now") {
              *target = AsEventTime(Clock::Real()->WallNow());  // the start of the city's time
              return;
            }
            auto t = ParseTimestamp(v);
            if (!t.ok()) throw CLI::ValidationError(name, t.status().message());
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

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest of `names` to `wrong` (a typo, a missing or extra 's', a prefix), or "".
std::string Closest(std::string_view wrong, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, wrong.size() / 3) + 1;
  for (const std::string& n : names) {
    size_t d = EditDistance(wrong, n);
    if (n.starts_with(wrong) || wrong.starts_with(n)) d = std::min<size_t>(d, 1);
    if (d < best_distance) {
      best_distance = d;
      best = n;
    }
  }
  return best;
}

std::vector<std::string> SubcommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::string ConfigKeyProblem(const CLI::App& root, const std::vector<std::string>& parents,
                             const std::string& name) {
  if (name == "++" || name == "--") return "";  // a section's start or end
  const CLI::App* app = &root;
  std::string section;
  for (const std::string& parent : parents) {
    section += (section.empty() ? "" : ".") + parent;
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : app->get_subcommands({})) {
      if (s->check_name(parent)) sub = s;
    }
    if (sub == nullptr) {
      const std::string near = Closest(parent, SubcommandNames(*app));
      return fmt::format("section [{}] is not a command{}; the sections are {}", section,
                         near.empty() ? "" : " (did you mean [" + near + "]?)",
                         JoinNames(SubcommandNames(*app)));
    }
    app = sub;
  }
  if (app->get_option_no_throw("--" + name) != nullptr ||
      (name.size() == 1 && app->get_option_no_throw("-" + name) != nullptr) ||
      app->get_option_no_throw(name) != nullptr) {
    return "";
  }
  std::vector<std::string> keys;
  for (const CLI::Option* o : app->get_options()) {
    for (const std::string& l : o->get_lnames()) keys.push_back(l);
  }
  const std::string near = Closest(name, keys);
  if (section.empty() && name.starts_with("[")) {
    return fmt::format("the section header {} has no closing ]", name);
  }
  const std::string where = section.empty() ? "outside any section" : "in [" + section + "]";
  const std::string help =
      section.empty() ? "smartcity --help" : "smartcity " + section + " --help";
  return fmt::format("unknown key \"{}\" {}{}", name, where,
                     near.empty() ? " (see " + help + ")" : " (did you mean \"" + near + "\"?)");
}

int ConfigKeyLine(const std::string& text, const std::vector<std::string>& parents,
                  const std::string& name) {
  std::string want_section;
  for (const std::string& p : parents) want_section += (want_section.empty() ? "" : ".") + p;
  std::string section;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    std::string_view l(line);
    l.remove_prefix(b);
    if (l.starts_with("[") && l.find(']') == std::string_view::npos) {
      // An unterminated section header: CLI11 reads it as a key of that name.
      std::string_view header = l;
      while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
        header.remove_suffix(1);
      }
      if (header == name && want_section.empty()) return n;
      continue;
    }
    if (l.starts_with("[")) {
      const size_t e = l.find(']');
      section =
          std::string(l.substr(l.starts_with("[[") ? 2 : 1,
                               e == std::string_view::npos ? std::string_view::npos
                                                           : e - (l.starts_with("[[") ? 2 : 1)));
      continue;
    }
    // A line without "=" is a key alone (CLI11 reads it as a flag set to true).
    std::string_view key = l.substr(0, l.find('='));
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
    if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'')) {
      key = key.substr(1, key.size() - 2);
    }
    if (section == want_section && key == name) return n;
    if (section.empty() && !want_section.empty() && key == want_section + "." + name) return n;
  }
  return 0;
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
    const std::string text(std::istreambuf_iterator<char>(input), {});
    std::istringstream copy(text);
    std::vector<CLI::ConfigItem> items = CLI::ConfigBase::from_config(copy);
    for (const CLI::ConfigItem& item : items) {
      const std::string problem = ConfigKeyProblem(*root_, item.parents, item.name);
      if (problem.empty()) continue;
      const int line = ConfigKeyLine(text, item.parents, item.name);
      throw CLI::ConfigError(fmt::format("config file {}{}: {}", FileName(),
                                         line > 0 ? ":" + std::to_string(line) : "", problem));
    }
    std::erase_if(items, [this](const CLI::ConfigItem& item) { return SetInEnvironment(item); });
    if (g_config_origins != nullptr) {
      // Where each value comes from, so that a bad one is reported at its line (UsageError).
      g_config_origins->file = FileName();
      for (const CLI::ConfigItem& item : items) {
        std::string section;
        for (const std::string& p : item.parents) section += (section.empty() ? "" : ".") + p;
        g_config_origins->keys[{section, "--" + item.name}] =
            ConfigKeyLine(text, item.parents, item.name);
      }
    }
    return items;
  }

 private:
  std::string FileName() const {
    const CLI::Option* opt = root_->get_config_ptr();
    if (opt == nullptr) return "?";
    if (!opt->results().empty()) return opt->results().front();
    return opt->get_default_str();
  }

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
      "Simulates a city's vehicles and sensors and streams their events (see README.md)."};
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

  // The command word: the first argument that is not a root option (or --config's value).
  std::string command;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config") {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    command = arg;
    break;
  }
  const std::vector<std::string> names = SubcommandNames(app);
  if (argc <= 1) {
    // `smartcity` alone: what it can do.
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  }
  if (!command.empty() && std::find(names.begin(), names.end(), command) == names.end()) {
    const std::string near = Closest(command, names);
    return UsageError(
        fmt::format("unknown command '{}'{}; the commands are {} (see smartcity --help)", command,
                    near.empty() ? "" : " (did you mean '" + near + "'?)", JoinNames(names)));
  }
  const std::string see = command.empty() ? "smartcity --help" : "smartcity " + command + " --help";
  ConfigOrigins origins;
  origins.command = command;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--"))
      origins.on_command_line.insert(std::string(arg.substr(0, arg.find('='))));
  }
  g_config_origins = &origins;
  struct Reset {
    ~Reset() { g_config_origins = nullptr; }
  } reset;
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
    // A config file's error names the file, the line and the key itself.
    if (dynamic_cast<const CLI::ConfigError*>(&e) != nullptr && what.starts_with("config file "))
      return UsageError(what);
    // A bad value from the config file is reported at its line (UsageError), without the help.
    if (AttributeToConfigFile(what) != what) return UsageError(what);
    return UsageError(what + " (see " + see + ")");
  }
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return UsageError("no command given; the commands are " + JoinNames(names) +
                    " (see smartcity --help)");
}

}  // namespace smartcity::cli
