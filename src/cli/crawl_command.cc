// smartcity crawl: the Glue crawler on one machine. Walks a lake root, catalogs every table (ours
// or anyone's Delta / Hive-partitioned Parquet / Parquet folders), compares with the previous
// crawl, saves the catalog and optionally prints Athena DDL, Glue TableInput JSON or Redshift
// Spectrum DDL (writing the Delta tables' symlink manifests) (src/catalog,
// lake/symlink_manifest.h).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "catalog/catalog.h"
#include "cli/command.h"
#include "cli/lake_options.h"
#include "engine/engine.h"
#include "lake/s3_object_store.h"
#include "lake/symlink_manifest.h"

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

// --export spectrum: every Delta table gets the table property that makes the lake's writers keep
// its symlink manifests current (a metadata-only commit, once) and its manifests now.
Status WriteManifests(lake::ObjectStore* store, engine::Connection* conn, const catalog::Catalog& c,
                      bool remote) {
  int failures = 0;
  for (const catalog::TableEntry& t : c.tables) {
    if (t.format != "delta" || t.columns.empty()) continue;
    bool enabled_now = false;
    auto m = lake::EnableSymlinkManifest(store, t.prefix, conn, &enabled_now);
    if (!m.ok()) {
      std::fprintf(stderr, "smartcity: %s: no symlink manifest: %s\n", t.name.c_str(),
                   m.status().message().c_str());
      ++failures;
      continue;
    }
    std::fprintf(stderr, "%s: %d manifests listing %lld files of version %lld%s\n", t.name.c_str(),
                 m->manifests_written, static_cast<long long>(m->files_listed),
                 static_cast<long long>(m->version),
                 enabled_now
                     ? fmt::format(" (set {}=true: rewritten after every commit from now on)",
                                   lake::kSymlinkManifestProperty)
                           .c_str()
                     : " (kept current after every commit)");
  }
  if (!remote) {
    std::fprintf(
        stderr,
        "note: the manifests list this local lake's file URIs (file://...): Spectrum reads "
        "them only from a lake on S3; a copy of this lake in S3 needs `smartcity crawl "
        "--lake s3://... --export spectrum` there\n");
  }
  if (failures > 0) {
    return Status::IOError(
        fmt::format("{} Delta tables have no symlink manifest (see above)", failures));
  }
  return Status::OK();
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
    Result<std::string> text = Status::InvalidArgument("unknown export " + a.export_kind);
    if (a.export_kind == "athena") {
      text = catalog::ExportAthena(c, eo);
    } else if (a.export_kind == "glue") {
      text = catalog::ExportGlue(c, eo);
    } else {
      text = catalog::ExportSpectrum(c, eo);  // checks the location before any manifest is written
      if (text.ok() && a.dry_run) {
        std::fprintf(stderr,
                     "--dry-run: no symlink manifest written and no table property set; the DDL "
                     "reads manifests that a run without --dry-run writes\n");
      } else if (text.ok()) {
        if (Status s = WriteManifests(store->get(), conn->get(), c, remote); !s.ok()) {
          return ReportError(s);
        }
      }
    }
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
      "new partitions and schema changes since the last crawl; optionally print Athena DDL, Glue "
      "TableInput JSON or Redshift Spectrum DDL (with symlink manifests).");
  AddLakeOption(app, &args->lake);
  app->add_option(
         "--catalog", args->catalog_path,
         "Catalog file to read and write [default: the object _catalog/catalog.json in the lake]")
      ->envname("SMARTCITY_CATALOG");
  app->add_option(
         "--export", args->export_kind,
         "After crawling, print on stdout: athena = CREATE EXTERNAL TABLE DDL (Delta tables "
         "natively, table_type DELTA; Parquet folders as Parquet); glue = Glue CreateTable "
         "TableInput JSON (the same forms; a table with Iceberg metadata as Iceberg: table_type "
         "ICEBERG "
         "and its metadata_location); spectrum = Redshift Spectrum DDL reading Delta tables "
         "through symlink manifests, which it writes into each Delta table's "
         "_symlink_format_manifest/ and keeps current (it sets the table property "
         "delta.compatibility.symlinkFormatManifest.enabled=true, so every later commit, "
         "compaction included, rewrites them)")
      ->check(CLI::IsMember({"athena", "glue", "spectrum"}));
  app->add_option("--s3-location", args->s3_location,
                  "The S3 URI the lake root maps to in the exports (s3://bucket/prefix); required "
                  "for a local lake");
  app->add_option("--database", args->database,
                  "Athena/Glue/Spectrum database (external schema) of the exported tables")
      ->capture_default_str();
  app->add_flag("--dry-run", args->dry_run,
                "Crawl and report, but do not save the catalog (nor write the manifests of "
                "--export spectrum)");
  commands.push_back({app, [args] { return RunCrawl(*args); }});
}

}  // namespace smartcity::cli
