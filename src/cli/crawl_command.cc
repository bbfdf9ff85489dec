// smartcity crawl: the Glue crawler on one machine. Walks a lake root, catalogs every table (ours
// or anyone's Delta / Hive-partitioned Parquet / Parquet folders), compares with the previous
// crawl, saves the catalog and optionally prints Athena DDL or Glue TableInput JSON (src/catalog).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "catalog/catalog.h"
#include "cli/command.h"
#include "cli/lake_options.h"
#include "engine/engine.h"
#include "lake/s3_object_store.h"

namespace smartcity::cli {

namespace {

struct CrawlArgs {
  std::string lake;
  std::string catalog_path;
  std::string export_kind;
  std::string s3_location;
  std::string database = "smartcity";
  bool dry_run = false;
};

std::string HumanBytes(int64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  if (b < (1 << 20)) return fmt::format("{:.1f} KB", b / 1024.0);
  if (b < (1 << 30)) return fmt::format("{:.1f} MB", b / 1048576.0);
  return fmt::format("{:.2f} GB", b / 1073741824.0);
}

void PrintReport(std::FILE* out, const catalog::Catalog& c, const catalog::CrawlDiff& diff,
                 const std::string& saved_to) {
  std::fprintf(out, "crawled %s: %zu tables%s\n", c.lake.c_str(), c.tables.size(),
               saved_to.empty() ? " (catalog not saved: --dry-run)" : "");
  if (!saved_to.empty()) std::fprintf(out, "catalog saved to %s\n", saved_to.c_str());
  std::fprintf(out, "\n%-24s %-13s %7s %10s %6s %10s %10s  %s\n", "TABLE", "FORMAT", "COLUMNS",
               "PARTITIONS", "FILES", "ROWS", "SIZE", "LAST CHANGE");
  for (const catalog::TableEntry& t : c.tables) {
    std::fprintf(out, "%-24s %-13s %7zu %10zu %6lld %10lld %10s  %s\n", t.name.c_str(),
                 t.format.c_str(), t.AllColumns().size(), t.partitions.size(),
                 static_cast<long long>(t.file_count), static_cast<long long>(t.row_count),
                 HumanBytes(t.size_bytes).c_str(), t.last_modified.c_str());
  }
  std::fprintf(out, "\nchanges since the last crawl: %s\n",
               diff.changes.empty() ? "none" : fmt::format("{}", diff.changes.size()).c_str());
  for (const catalog::TableChange& ch : diff.changes) {
    std::fprintf(out, "  %s %s: %s\n", ch.breaking ? "BREAKING" : "        ", ch.table.c_str(),
                 ch.what.c_str());
  }
  size_t problems = 0;
  for (const catalog::TableEntry& t : c.tables) problems += t.problems.size();
  if (problems > 0) {
    std::fprintf(out, "\nproblems (%zu):\n", problems);
    for (const catalog::TableEntry& t : c.tables) {
      for (const std::string& p : t.problems)
        std::fprintf(out, "  %s: %s\n", t.name.c_str(), p.c_str());
    }
  }
}

int RunCrawl(const CrawlArgs& a) {
  namespace fs = std::filesystem;
  std::string lake = a.lake;
  const bool remote = lake.rfind("s3://", 0) == 0 || lake.rfind("s3a://", 0) == 0;
  if (Status s = CheckLakeLocation(lake, LakeAccess::kRead); !s.ok()) return ReportError(s);
  if (!remote) {
    lake = fs::absolute(lake).lexically_normal().string();
    while (lake.size() > 1 && lake.back() == '/') lake.pop_back();
  }
  if (!a.export_kind.empty() && a.s3_location.empty() && !remote) {
    return UsageError(
        fmt::format("--export {} needs --s3-location s3://bucket/prefix for a local lake (the S3 "
                    "place the lake "
                    "is copied to), so the table locations point at S3",
                    a.export_kind));
  }
  auto store = lake::OpenLakeStore(lake);
  if (!store.ok()) return ReportError(store.status());
  engine::DatabaseOptions dbo;
  dbo.settings["threads"] = "2";
  auto db = engine::Database::Open("", dbo);
  if (!db.ok()) return ReportError(db.status());
  auto conn = (*db)->Connect();
  if (!conn.ok()) return ReportError(conn.status());
  // The crawler reads Parquet footers through DuckDB by ReaderUri (s3:// on an S3 lake).
  if (Status s = lake::PrepareDuckDbReads(**store, conn->get()); !s.ok()) return ReportError(s);

  std::optional<catalog::Catalog> previous;
  auto loaded = catalog::LoadCatalog(store->get(), a.catalog_path);
  if (loaded.ok()) {
    previous = std::move(*loaded);
  } else if (loaded.status().kind() != ErrorKind::kNotFound) {
    // A damaged catalog is replaced by this crawl, but say so: its schema history is lost.
    std::fprintf(stderr,
                 "smartcity: the previous catalog cannot be read and will be replaced: %s\n",
                 loaded.status().message().c_str());
  }
  auto crawled = catalog::Crawl(store->get(), conn->get(), lake);
  if (!crawled.ok()) return ReportError(crawled.status());
  catalog::Catalog c = std::move(*crawled);
  catalog::CrawlDiff diff = catalog::MergeWithPrevious(previous ? &*previous : nullptr, &c);
  std::string saved_to;
  if (!a.dry_run) {
    Status s = catalog::SaveCatalog(c, store->get(), a.catalog_path);
    if (!s.ok()) return ReportError(s.WithContext("cannot save the catalog"));
    saved_to =
        a.catalog_path.empty() ? (*store)->ReaderUri(catalog::kDefaultCatalogKey) : a.catalog_path;
    if (saved_to.empty()) saved_to = std::string(catalog::kDefaultCatalogKey);
  }
  // With an export, stdout carries only the DDL / JSON; the report goes to stderr.
  PrintReport(a.export_kind.empty() ? stdout : stderr, c, diff, saved_to);
  if (!a.export_kind.empty()) {
    catalog::ExportOptions eo;
    eo.s3_location = a.s3_location;
    eo.database = a.database;
    auto text =
        a.export_kind == "athena" ? catalog::ExportAthena(c, eo) : catalog::ExportGlue(c, eo);
    if (!text.ok()) return ReportError(text.status());
    std::fwrite(text->data(), 1, text->size(), stdout);
  }
  return kExitOk;
}

}  // namespace

void RegisterCrawl(CLI::App& root, CommandList& commands) {
  auto args = std::make_shared<CrawlArgs>();
  CLI::App* app = root.add_subcommand(
      "crawl",
      "Catalog every table under a lake root (Delta tables, Hive-partitioned or plain Parquet "
      "folders): columns and types, partitions, files, rows, size, last change; report new tables, "
      "new partitions and schema changes since the last crawl; optionally print Athena DDL or Glue "
      "TableInput JSON.");
  AddLakeOption(app, &args->lake);
  app->add_option(
         "--catalog", args->catalog_path,
         "Catalog file to read and write [default: the object _catalog/catalog.json in the lake]")
      ->envname("SMARTCITY_CATALOG");
  app->add_option(
         "--export", args->export_kind,
         "After crawling, print CREATE EXTERNAL TABLE DDL (athena) or Glue TableInput JSON "
         "(glue) on stdout")
      ->check(CLI::IsMember({"athena", "glue"}));
  app->add_option("--s3-location", args->s3_location,
                  "The S3 URI the lake root maps to in the exports (s3://bucket/prefix); required "
                  "for a local lake");
  app->add_option("--database", args->database, "Athena/Glue database of the exported tables")
      ->capture_default_str();
  app->add_flag("--dry-run", args->dry_run, "Crawl and report, but do not save the catalog");
  commands.push_back({app, [args] { return RunCrawl(*args); }});
}

}  // namespace smartcity::cli
