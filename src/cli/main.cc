// smartcity: one binary, one subcommand per capability (SPEC section 1). Everything but the logger
// set-up is in the cli library (command.h), where it is unit-tested.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/command.h"

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_color_mt("smartcity");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  return smartcity::cli::RunCommandLine(argc, argv);
}
