// smartcity load: copies new committed data of lake tables into a warehouse (embedded DuckDB file,
// PostgreSQL or Redshift), incrementally by Delta version and exactly once (src/warehouse/loader.h,
// docs/warehouse.md). Modes: --once, --every 5m (the seed's schedule), --follow (within seconds of
// each new lake commit).
#include "cli/load_command.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <thread>

#include "cli/command.h"
#include "cli/lake_options.h"
#include "lake/compaction.h"
#include "lake/object_store.h"
#include "warehouse/loader.h"

namespace smartcity::cli {

namespace {

namespace fs = std::filesystem;

struct LoadArgs {
  std::string lake;
  std::string warehouse;
  std::string tables = "enriched_data";
  bool once = false;
  bool follow = false;
  Micros every{0};
  Micros retry_for = std::chrono::minutes(10);
  int64_t rows_per_transaction = 500'000;
  bool rename_columns = false;
  bool quiet = false;
};

std::vector<std::string> SplitTables(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string t;
  while (std::getline(in, t, ',')) {
    if (!t.empty()) out.push_back(t);
  }
  return out;
}

int RunLoad(const LoadArgs& a) {
  const int modes = (a.once ? 1 : 0) + (a.follow ? 1 : 0) + (a.every.count() > 0 ? 1 : 0);
  if (modes != 1) return UsageError("give exactly one of --once, --every <interval>, --follow");
  // --follow and --every may start before the pipeline that creates the lake: a local lake folder
  // that does not exist yet is waited for, like a lake with no table yet (below).
  if (!a.once && !lake::IsS3Location(a.lake) && !a.lake.empty()) {
    std::error_code ec;
    if (!fs::exists(a.lake, ec)) {
      if (!a.quiet)
        std::fprintf(stderr, "load: no lake at %s yet; waiting for it to be created\n",
                     a.lake.c_str());
      InstallStopSignalHandlers();
      while (!fs::exists(a.lake, ec)) {
        if (g_stop_requested.load()) return kExitOk;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }
  // Nothing is created in the lake: the loader only reads it.
  auto store = OpenLake(a.lake, LakeAccess::kRead);
  if (!store.ok()) return ReportError(store.status());
  const std::string spec = a.warehouse.empty() ? DefaultWarehouse(a.lake) : a.warehouse;
  if (Status s = warehouse::CheckWarehouseSpec(spec); !s.ok()) return ReportError(s);
  warehouse::LoaderOptions o;
  o.tables = SplitTables(a.tables);
  o.rename_columns = a.rename_columns;
  if (o.tables.empty()) return UsageError("--tables names no table");
  if (Status s = CheckTablesExist(store->get(), a.lake, o.tables); !s.ok()) {
    // --follow and --every may start before the pipeline's first commit, in a lake with no table
    // yet; a table missing from a lake that has others is a wrong name.
    auto tables = lake::ListTables(store->get(), "");
    if (a.once || !tables.ok() || !tables->empty()) return ReportError(s);
    if (!a.quiet)
      std::fprintf(stderr, "load: %s has no table yet; waiting for its first commit\n",
                   a.lake.c_str());
  }
  o.rows_per_transaction = a.rows_per_transaction;
  if (!a.once) o.reopen_after_rows = warehouse::kFollowReopenAfterRows;
  o.retry_for = std::chrono::duration_cast<std::chrono::milliseconds>(a.retry_for);
  if (!a.quiet)
    o.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  auto loader = warehouse::Loader::Create(
      store->get(), [spec] { return warehouse::OpenWarehouse(spec); }, o);
  if (!loader.ok()) return ReportError(loader.status());
  InstallStopSignalHandlers();
  Status st;
  if (a.once) {
    st = (*loader)->LoadOnce(&g_stop_requested);
  } else {
    st = (*loader)->Loop(g_stop_requested,
                         std::chrono::duration_cast<std::chrono::milliseconds>(a.every),
                         /*final_pass=*/false);
  }
  const auto& s = (*loader)->summary();
  // A load that failed before its first transaction has nothing to sum up: the error alone says it.
  const bool failed_at_once = !st.ok() && st.kind() != ErrorKind::kAborted && s.transactions == 0;
  if (!a.quiet && !failed_at_once) {
    std::fprintf(stderr,
                 "load summary: %lld rows, %lld versions in %lld transactions, %.2fs (%s)\n",
                 static_cast<long long>(s.rows), static_cast<long long>(s.versions),
                 static_cast<long long>(s.transactions), s.elapsed.count(),
                 spec.starts_with("duckdb:") ? spec.c_str() : "warehouse");
    for (const auto& [t, ts] : s.tables) {
      std::fprintf(stderr, "  %-16s %10lld rows, %lld versions, warehouse at version %lld\n",
                   t.c_str(), static_cast<long long>(ts.rows), static_cast<long long>(ts.versions),
                   static_cast<long long>(ts.loaded_version));
    }
  }
  if (!st.ok() && st.kind() != ErrorKind::kAborted) return ReportError(st);
  return kExitOk;
}

}  // namespace

std::string DefaultWarehouse(const std::string& lake) {
  if (const size_t scheme = lake.find("://"); scheme != std::string::npos) {
    // A remote lake: a local file named after it (s3://city/lake -> city-lake-warehouse.duckdb), so
    // two lakes never share a warehouse file.
    std::string name;
    for (char c : lake.substr(scheme + 3))
      name += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    while (!name.empty() && name.back() == '-') name.pop_back();
    return "duckdb:" + (name.empty() ? std::string("smartcity") : name) + "-warehouse.duckdb";
  }
  std::string p = lake;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return "duckdb:" + p + "-warehouse.duckdb";
}

void RegisterLoad(CLI::App& root, CommandList& commands) {
  auto args = std::make_shared<LoadArgs>();
  CLI::App* app = root.add_subcommand(
      "load",
      "Copy new committed lake data into a warehouse table (DuckDB file, PostgreSQL or Redshift), "
      "exactly once, incrementally by Delta version");
  AddLakeOption(app, &args->lake);
  app->add_option("--warehouse", args->warehouse,
                  "duckdb:<file>, postgres://user@host:port/db, postgres: (PG* variables), "
                  "postgres:<conninfo>, or redshift://user:pass@host:5439/db?iam_role=<arn> "
                  "[default: duckdb:<lake>-warehouse.duckdb]")
      ->envname("SMARTCITY_WAREHOUSE");
  app->add_option("--tables", args->tables, "Comma-separated lake tables to load")
      ->capture_default_str();
  app->add_flag("--once", args->once, "Load what is committed now, then exit");
  AddDurationOption(app, "--every", &args->every,
                    "Load, then wait this long, repeatedly (the seed: 5m)");
  app->add_flag("--follow", args->follow,
                "Load within seconds of each new lake commit, until stopped");
  AddDurationOption(app, "--retry-for", &args->retry_for,
                    "With --once: keep retrying an unreachable warehouse this long before failing");
  app->add_option("--rows-per-transaction", args->rows_per_transaction,
                  "A load transaction stops taking versions once it holds this many rows")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_flag("--rename-columns", args->rename_columns,
                "Rename the quoted camelCase columns of warehouse tables created before the "
                "warehouse column names to those names (snake_case, docs/warehouse.md), then load");
  app->add_flag("-q,--quiet", args->quiet, "No progress lines and no summary");
  commands.push_back({app, [args] { return RunLoad(*args); }});
}

}  // namespace smartcity::cli
