// Options of the commands that serve the live view (run, stream, serve): --listen,
// --allowed-host, --no-serve, --keep-serving, --stall-timeout; and starting the server with the
// messages every command prints.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "web/live_server.h"
#include "web/live_state.h"

namespace smartcity::cli {

struct LiveViewArgs {
  web::ListenAddress listen;               // 127.0.0.1:8080
  std::vector<std::string> allowed_hosts;  // --allowed-host, repeatable
  bool no_serve = false;
  bool keep_serving = false;  // run/stream: after the pipeline ends, keep serving until Ctrl-C
  // run/stream: /healthz's bound on a stuck loop; above the processor's whole-commit retry
  // budget (3 min), during which the loop waits for the lake.
  Micros stall_timeout = std::chrono::minutes(5);
  web::AlertOptions alerts;  // run/stream: --alert-stall, --alert-bad-events
};

// The live state's alert options of a pipeline command: the thresholds given, and the memory rule
// against --memory-limit (MiB; 0: none) with this process's resident memory.
void SetAlertOptions(const LiveViewArgs& args, int memory_mib, web::LiveStateOptions* options);

// `pipeline`: the command runs a pipeline (adds --no-serve and --keep-serving).
void AddLiveViewOptions(CLI::App* app, LiveViewArgs* args, bool pipeline);

// Starts the live view unless --no-serve. A pipeline keeps running without it when the address
// cannot be bound (one warning line unless quiet); `required` makes that an error instead (serve).
Result<std::unique_ptr<web::LiveServer>> StartLiveView(const LiveViewArgs& args,
                                                       const web::LiveState* state,
                                                       const char* command, bool quiet,
                                                       bool required);

// With --keep-serving and a server: says so and blocks until SIGINT/SIGTERM.
void KeepServingUntilStopped(const LiveViewArgs& args, const web::LiveServer* server,
                             const char* command);

}  // namespace smartcity::cli
