// smartcity compact: rewrites the small data files of lake tables into files of a useful size (and,
// with --vacuum, deletes data files that no current reader needs). Safe while `stream` is writing:
// see src/lake/compaction.h.
#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/command.h"
#include "cli/lake_options.h"
#include "engine/engine.h"
#include "lake/compaction.h"

namespace smartcity::cli {

namespace {

struct CompactArgs {
  std::string lake;
  std::vector<std::string> tables;
  uint64_t target_bytes = 128ull << 20;
  uint64_t small_bytes = 32ull << 20;
  int min_files = 2;
  bool vacuum = false;
  Micros retention = std::chrono::hours(7 * 24);
  bool dry_run = false;
};

std::string Mb(uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / (1 << 20));
}

int RunCompact(const CompactArgs& a) {
  if (Status s = CheckLakeLocation(a.lake, LakeAccess::kRead); !s.ok()) return ReportError(s);
  auto store = lake::OpenLakeStore(a.lake);
  if (!store.ok()) return ReportError(store.status());
  std::vector<std::string> tables = a.tables;
  if (tables.empty()) {
    auto found = lake::ListTables(store->get(), "");
    if (!found.ok()) return ReportError(found.status());
    tables = *found;
    if (tables.empty()) {
      std::fprintf(stderr, "smartcity: no Delta tables under %s\n", a.lake.c_str());
      return kExitOk;
    }
  }
  engine::DatabaseOptions dbo;
  dbo.settings["threads"] = "2";
  auto db = engine::Database::Open("", dbo);
  if (!db.ok()) return ReportError(db.status());
  lake::CompactionOptions co;
  co.target_file_bytes = a.target_bytes;
  co.small_file_bytes = a.small_bytes;
  co.min_files = a.min_files;
  int failures = 0;
  for (const std::string& t : tables) {
    if (g_stop_requested) break;
    if (!a.dry_run) {
      auto r = lake::CompactTable(store->get(), db->get(), t, co);
      if (!r.ok()) {
        std::fprintf(stderr, "smartcity: %s: %s\n", t.c_str(), r.status().message().c_str());
        ++failures;
        continue;
      }
      if (r->files_removed == 0) {
        std::printf("%s: nothing to compact (version %lld)\n", t.c_str(),
                    static_cast<long long>(r->table_version));
      } else {
        std::printf(
            "%s: %d small files in %d partitions -> %d files, %lld rows rewritten, version "
            "%lld%s\n",
            t.c_str(), r->files_removed, r->partitions_compacted, r->files_added,
            static_cast<long long>(r->rows_rewritten), static_cast<long long>(r->table_version),
            r->groups_abandoned > 0
                ? " (some partitions were compacted concurrently by someone else)"
                : "");
      }
    }
    if (a.vacuum) {
      lake::VacuumOptions vo;
      vo.retention = std::chrono::duration_cast<std::chrono::seconds>(a.retention);
      vo.dry_run = a.dry_run;
      vo.db = db->get();
      auto v = lake::VacuumTable(store->get(), t, vo);
      if (!v.ok()) {
        std::fprintf(stderr, "smartcity: %s: %s\n", t.c_str(), v.status().message().c_str());
        ++failures;
        continue;
      }
      const std::string iceberg =
          v->iceberg_files_deleted > 0
              ? " and " + std::to_string(v->iceberg_files_deleted) + " Iceberg metadata files"
              : "";
      std::printf("%s: %s %d unreferenced data files%s (%s) older than %s\n", t.c_str(),
                  a.dry_run ? "would delete" : "deleted", v->files_deleted, iceberg.c_str(),
                  Mb(v->bytes_deleted).c_str(), FormatDuration(a.retention).c_str());
      if (a.dry_run) {
        for (const std::string& k : v->deleted) std::printf("  %s\n", k.c_str());
      }
    }
  }
  return failures == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void RegisterCompact(CLI::App& root, CommandList& commands) {
  auto args = std::make_shared<CompactArgs>();
  CLI::App* app = root.add_subcommand("compact",
                                      "Rewrite the small data files of lake tables into large ones "
                                      "(one Delta commit per table; readers and a "
                                      "running stream are not disturbed). With --vacuum, also "
                                      "delete data files no current version uses.");
  AddLakeOption(app, &args->lake);
  app->add_option("--table", args->tables,
                  "Table to compact (repeatable) [default: every table in the lake]");
  AddSizeOption(app, "--target-file-size", &args->target_bytes, "Size of the merged files");
  AddSizeOption(app, "--small-file-size", &args->small_bytes, "Files smaller than this are merged");
  app->add_option("--min-files", args->min_files,
                  "Merge a partition only when it has this many small files")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_flag("--vacuum", args->vacuum,
                "Also delete data files that are not in the table's current version (replaced by a "
                "compaction, "
                "or left by a crash before a commit) once older than --retention");
  AddDurationOption(
      app, "--retention", &args->retention,
      "Keep unreferenced files younger than this (must exceed the stream's commit interval and the "
      "longest query)");
  app->add_flag("--dry-run", args->dry_run, "Only list what --vacuum would delete; change nothing");
  commands.push_back({app, [args] { return RunCompact(*args); }});
}

}  // namespace smartcity::cli
