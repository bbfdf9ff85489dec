#include "cli/live_view_options.h"

#include <cstdio>

#include "common/clock.h"

namespace smartcity::cli {

void AddLiveViewOptions(CLI::App* app, LiveViewArgs* args, bool pipeline) {
  app->add_option_function<std::string>(
         "--listen",
         [args](const std::string& v) {
           auto a = web::ParseListenAddress(v);
           if (!a.ok()) throw CLI::ValidationError(a.status().message());
           args->listen = *a;
         },
         "Serve the live view (dashboard, JSON API, /metrics) on HOST:PORT (port 0: any free port) "
         "[default: 127.0.0.1:8080]")
      ->type_name("HOST:PORT")
      ->group("Live view");
  app->add_option("--allowed-host", args->allowed_hosts,
                  "Also answer requests whose Host header names NAME (repeatable; without it only "
                  "the listen address, localhost, 127.0.0.1 and [::1] are served: DNS rebinding "
                  "protection)")
      ->type_name("NAME")
      ->group("Live view");
  if (pipeline) {
    app->add_flag("--no-serve", args->no_serve, "Do not serve the live view")->group("Live view");
    app->add_flag("--keep-serving", args->keep_serving,
                  "When the pipeline has finished, keep serving its final state until Ctrl-C")
        ->group("Live view");
    AddDurationOption(app, "--stall-timeout", &args->stall_timeout,
                      "/healthz answers 503 (a liveness probe restarts the process) once the "
                      "processing loop has not turned for this long (0 = never)")
        ->group("Live view");
    AddDurationOption(app, "--alert-stall", &args->alerts.stall_after,
                      "Alert when a partition group's watermark or a steady topic's events stand "
                      "still for this long while input arrives (1s to 1d)")
        ->check([](const std::string& v) -> std::string {
          auto d = ParseDuration(v);
          if (d.ok() && (*d < std::chrono::seconds(1) || *d > std::chrono::hours(24)))
            return "--alert-stall is between 1s and 1d";
          return "";
        })
        ->group("Live view");
    AddDurationOption(app, "--alert-lag-window", &args->alerts.lag_growth_window,
                      "Alert when a partition group's watermark lag (or the records the inputs "
                      "are behind) grew steadily over this long (4s to 1d)")
        ->check([](const std::string& v) -> std::string {
          auto d = ParseDuration(v);
          if (d.ok() && (*d < std::chrono::seconds(4) || *d > std::chrono::hours(24)))
            return "--alert-lag-window is between 4s and 1d";
          return "";
        })
        ->group("Live view");
    app->add_option_function<double>(
           "--alert-bad-events",
           [args](double v) {
             if (!(v > 0 && v <= 1))
               throw CLI::ValidationError("--alert-bad-events must be a fraction in (0, 1]");
             args->alerts.bad_event_fraction = v;
           },
           "Alert when dead letters or late events exceed this fraction of the last minute's "
           "events [default: 0.05]")
        ->type_name("FRACTION")
        ->group("Live view");
  }
}

void SetAlertOptions(const LiveViewArgs& args, int memory_mib, web::LiveStateOptions* options) {
  options->alerts = args.alerts;
  options->alerts.memory_limit_bytes = memory_mib > 0 ? uint64_t(memory_mib) << 20 : 0;
  options->resident_bytes = [] { return web::ReadProcessMetrics().resident_bytes; };
}

Result<std::unique_ptr<web::LiveServer>> StartLiveView(const LiveViewArgs& args,
                                                       const web::LiveState* state,
                                                       const char* command, bool quiet,
                                                       bool required) {
  if (args.no_serve) return std::unique_ptr<web::LiveServer>();
  web::LiveServerOptions opts;
  opts.listen = args.listen;
  opts.allowed_hosts = args.allowed_hosts;
  opts.stall_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(args.stall_timeout);
  auto server = web::LiveServer::Start(opts, state);
  if (!server.ok()) {
    if (required) return server.status();
    if (!quiet)
      std::fprintf(stderr, "%s: %s; continuing without the live view\n", command,
                   server.status().message().c_str());
    return std::unique_ptr<web::LiveServer>();
  }
  // The URL is printed even with -q: it is how a user (or a script) finds the live view.
  std::fprintf(stderr, "%s: live view at %s (API: %sapi/status, metrics: %smetrics)\n", command,
               (*server)->url().c_str(), (*server)->url().c_str(), (*server)->url().c_str());
  return std::move(*server);
}

void KeepServingUntilStopped(const LiveViewArgs& args, const web::LiveServer* server,
                             const char* command) {
  if (!args.keep_serving || server == nullptr || g_stop_requested.load()) return;
  std::fprintf(stderr, "%s: finished; still serving the live view at %s until Ctrl-C\n", command,
               server->url().c_str());
  Clock& clock = *Clock::Real();
  while (SleepUntil(clock, clock.Now() + std::chrono::hours(1), &g_stop_requested)) {
  }
}

}  // namespace smartcity::cli
