// smartcity serve: the live view (dashboard, JSON API, /metrics; docs/api.md) of a lake at rest or
// being written by another process — the latest committed position and weather per vehicle, the
// incidents, cameras, recent commits and row counts, re-read every --refresh. Read-only.
#include <cstdio>
#include <filesystem>

#include "cli/command.h"
#include "cli/lake_options.h"
#include "cli/live_view_options.h"
#include "cli/load_command.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "lake/object_store.h"
#include "web/lake_state.h"
#include "web/live_server.h"
#include "web/live_state.h"

namespace smartcity::cli {

namespace {

struct ServeArgs {
  std::string lake = "smartcity-lake";
  LiveViewArgs live;
  Micros refresh{std::chrono::seconds(2)};
  std::string warehouse;  // --warehouse: empty = the DuckDB file beside the lake; none
  TopicNames topics;
};

int RunServe(ServeArgs& a) {
  namespace fs = std::filesystem;
  auto store = OpenLake(a.lake, LakeAccess::kRead);
  if (!store.ok()) return ReportError(store.status());
  auto db = engine::Database::Open("");
  if (!db.ok()) return ReportError(db.status());
  auto reader = web::LakeStateReader::Open(store->get(), db->get(), fs::temp_directory_path());
  if (!reader.ok()) return ReportError(reader.status());
  SystemClock clock;
  web::LiveStateOptions opts;
  opts.mode = "serve";
  opts.lake = (*store)->Describe();
  opts.topic_names = a.topics;
  web::LiveState live(opts, &clock);
  // The loads of a DuckDB warehouse beside the lake, from its bookkeeping (read-only).
  std::string warehouse = a.warehouse.empty() ? DefaultWarehouse(a.lake) : a.warehouse;
  if (warehouse.rfind("duckdb:", 0) == 0) warehouse = warehouse.substr(7);
  auto refresh = [&]() -> Status {
    SC_RETURN_IF_ERROR((*reader)->Refresh(&live));
    if (warehouse == "none") return Status::OK();
    return (*reader)->RefreshWarehouse(&live, warehouse);
  };
  if (Status s = refresh(); !s.ok()) return ReportError(s);
  auto server = StartLiveView(a.live, &live, "serve", /*quiet=*/false, /*required=*/true);
  if (!server.ok()) return ReportError(server.status());
  // Refreshes every --refresh until Ctrl-C.
  while (SleepUntil(clock, clock.Now() + a.refresh, &g_stop_requested)) {
    if (Status s = refresh(); !s.ok()) {
      // Keep serving the last good state; a writer may be mid-commit or the store briefly away.
      std::fprintf(stderr,
                   "serve: cannot refresh from the lake (%s); showing the last state read\n",
                   s.message().c_str());
    }
  }
  (*server)->Stop();
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App& root, CommandList& commands) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* app =
      root.add_subcommand("serve",
                          "Serve the live view (dashboard, JSON API, Prometheus /metrics) of a "
                          "lake: the latest committed "
                          "positions, incidents and commits, refreshed as the lake changes");
  AddLakeOption(app, &a->lake);
  AddLiveViewOptions(app, &a->live, /*pipeline=*/false);
  AddDurationOption(app, "--refresh", &a->refresh, "How often to re-read the lake");
  AddTopicNameOptions(app, &a->topics);
  app->add_option("--warehouse", a->warehouse,
                  "The DuckDB warehouse whose loads to show (duckdb:PATH or PATH; read-only; "
                  "none: no warehouse) [default: duckdb:<lake>-warehouse.duckdb]")
      ->type_name("FILE");
  commands.push_back({app, [a]() -> int {
                        if (a->refresh <= Micros(0))
                          return UsageError("--refresh must be positive");
                        InstallStopSignalHandlers();
                        return RunServe(*a);
                      }});
}

}  // namespace smartcity::cli
