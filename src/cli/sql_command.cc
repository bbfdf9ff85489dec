// smartcity sql: read-only SQL over the cataloged tables (Athena on one machine; src/query).
#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "catalog/catalog.h"
#include "cli/command.h"
#include "cli/lake_options.h"
#include "query/query.h"

namespace smartcity::cli {

namespace {

struct SqlArgs {
  std::string lake;
  std::string catalog_path;
  std::string format = "table";
  std::string file;
  std::string query;
  Micros timeout{0};  // per statement; 0: none
};

int RunScript(query::SqlSession* session, const std::string& sql, const std::string& format) {
  Status s = session->Run(sql, [&](const engine::QueryResult& r, double secs) {
    std::string text = format == "csv"    ? query::FormatCsv(r)
                       : format == "json" ? query::FormatJsonLines(r)
                                          : query::FormatTable(r);
    std::fwrite(text.data(), 1, text.size(), stdout);
    // Machine-readable forms keep stdout clean: the footer goes to stderr.
    std::fprintf(format == "table" ? stdout : stderr, "%zu row%s (%.3f s)\n", r.row_count(),
                 r.row_count() == 1 ? "" : "s", secs);
    std::fflush(stdout);
  });
  if (!s.ok()) {
    std::fprintf(stderr, "smartcity: %s\n", s.message().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

// True when `buf` ends a statement: a ';' outside quotes and comments at its end.
bool StatementComplete(const std::string& buf) {
  bool in_single = false, in_double = false, in_comment = false;
  char last = 0;
  for (size_t i = 0; i < buf.size(); ++i) {
    char c = buf[i];
    if (in_comment) {
      if (c == '\n') in_comment = false;
      continue;
    }
    if (!in_single && !in_double && c == '-' && i + 1 < buf.size() && buf[i + 1] == '-') {
      in_comment = true;
      continue;
    }
    if (c == '\'' && !in_double) in_single = !in_single;
    if (c == '"' && !in_single) in_double = !in_double;
    if (!std::isspace(static_cast<unsigned char>(c))) last = in_single || in_double ? 0 : c;
  }
  return last == ';';
}

int Interactive(query::SqlSession* session, const std::string& format) {
  std::fprintf(
      stderr, "smartcity sql: %zu tables (%s). End a query with ';'. \\q or Ctrl-D quits.\n",
      session->tables().size(), fmt::format("{}", fmt::join(session->tables(), ", ")).c_str());
  std::string buf, line;
  while (true) {
    std::fputs(buf.empty() ? "sql> " : "...> ", stderr);
    std::fflush(stderr);
    if (!std::getline(std::cin, line)) break;
    if (buf.empty() && (line == "\\q" || line == ".quit" || line == "quit" || line == "exit"))
      break;
    buf += line + "\n";
    if (!StatementComplete(buf)) continue;
    RunScript(session, buf, format);  // an error is printed; the prompt goes on
    buf.clear();
  }
  std::fputc('\n', stderr);
  return kExitOk;
}

int RunSql(const SqlArgs& a) {
  namespace fs = std::filesystem;
  if (!a.file.empty() && !a.query.empty()) {
    return UsageError("give either a query or -f FILE, not both");
  }
  std::string lake = a.lake;
  std::optional<catalog::Catalog> cat;
  if (!a.catalog_path.empty()) {
    auto c = catalog::LoadCatalog(nullptr, a.catalog_path);
    if (!c.ok()) {
      return ReportError(c.status().kind() == ErrorKind::kNotFound
                             ? Status::NotFound(c.status().message() +
                                                "; run `smartcity crawl --lake LAKE --catalog " +
                                                a.catalog_path + "` first")
                             : c.status());
    }
    cat = std::move(*c);
    if (lake.empty()) lake = cat->lake;
  }
  if (lake.empty()) lake = kDefaultLake;
  if (Status s = CheckLakeLocation(lake, LakeAccess::kRead); !s.ok()) return ReportError(s);
  if (!lake::IsS3Location(lake)) {
    lake = fs::absolute(lake).lexically_normal().string();
    while (lake.size() > 1 && lake.back() == '/') lake.pop_back();
  }
  // Read-only: nothing is created in the lake.
  auto store = lake::OpenLakeStore(lake, /*create=*/false);
  if (!store.ok()) return ReportError(store.status());
  if (!cat) {
    auto c = catalog::LoadCatalog(store->get(), "");
    if (!c.ok()) {
      if (c.status().kind() == ErrorKind::kNotFound) {
        std::fprintf(stderr, "smartcity: %s; run `smartcity crawl --lake %s` first\n",
                     c.status().message().c_str(), lake.c_str());
        return kExitFailure;
      }
      return ReportError(c.status());
    }
    cat = std::move(*c);
  }
  std::string script = a.query;
  if (!a.file.empty()) {
    std::ifstream in(a.file);
    if (!in) return UsageError(fmt::format("cannot read the SQL file {}", a.file));
    std::stringstream ss;
    ss << in.rdbuf();
    script = ss.str();
  }
  const bool interactive = script.empty() && a.file.empty() && isatty(STDIN_FILENO);
  if (script.empty() && !interactive) {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    script = ss.str();
  }
  auto session = query::SqlSession::Open(store->get(), *cat);
  if (!session.ok()) return ReportError(session.status());
  (*session)->set_timeout(std::chrono::duration_cast<std::chrono::milliseconds>(a.timeout));
  for (const std::string& w : (*session)->warnings())
    std::fprintf(stderr, "smartcity: warning: %s\n", w.c_str());
  if (interactive) return Interactive(session->get(), a.format);
  if (script.find_first_not_of(" \t\r\n;") == std::string::npos) {
    return UsageError("no query given (pass it as an argument, with -f FILE or on stdin)");
  }
  return RunScript(session->get(), script, a.format);
}

}  // namespace

void RegisterSql(CLI::App& root, CommandList& commands) {
  auto args = std::make_shared<SqlArgs>();
  CLI::App* app = root.add_subcommand(
      "sql",
      "Run read-only SQL (DuckDB dialect) over the tables of the catalog that `crawl` made; only "
      "committed data is read. Without a query: an interactive prompt on a terminal, else the "
      "queries on stdin.");
  app->add_option("query", args->query, "The SQL to run (one or more queries separated by ';')");
  AddLakeOption(app, &args->lake, /*with_default=*/false);
  app->add_option("--catalog", args->catalog_path,
                  "Catalog file [default: the object _catalog/catalog.json in the lake]")
      ->envname("SMARTCITY_CATALOG");
  app->add_option("--format", args->format, "Output: table, csv or json (JSON lines)")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  app->add_option("-f,--file", args->file, "Read the SQL from this file");
  AddDurationOption(app, "--timeout", &args->timeout,
                    "Stop a statement that runs longer than this (e.g. 30s, 2m) with an error; 0s: "
                    "no limit");
  commands.push_back({app, [args] { return RunSql(*args); }});
}

}  // namespace smartcity::cli
