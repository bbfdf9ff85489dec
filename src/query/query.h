// Read-only SQL over the cataloged tables (`smartcity sql`, SPEC section 5: Athena on one machine).
//
// A SqlSession is an in-memory DuckDB with one view per cataloged table. A view reads exactly the
// table's committed data: for a Delta table the active files of the snapshot loaded when the
// session opens (never a folder listing, so files of uncommitted or compacted-away writes are never
// seen), with the partition columns taken from the log's partitionValues; for a Parquet folder the
// files the crawl found readable, with Hive partition columns from the folders. Every view has the
// catalog's columns in the catalog's order; a column that older files lack reads as NULL.
//
// Read-only by three independent locks: (1) every statement of a script is checked first and the
// script is refused unless all of them are queries (SELECT / WITH / VALUES / FROM, EXPLAIN, EXPLAIN
// ANALYZE of a query), by DuckDB's statement type and by the statement's first word (PRAGMA and
// CALL are refused even where DuckDB runs them as a query); (2) once the views exist DuckDB is
// locked down: external access is off except for the committed data files (allowed_paths; each must
// be a regular file of the lake folder, not a symbolic link), there is no temp folder (DuckDB would
// let a query read it), extension auto-install/-load is off and the configuration is locked, so a
// query cannot read other files (read_csv('/etc/passwd'), uncommitted files, the Delta log), write
// (COPY TO), ATTACH, INSTALL/LOAD or change a setting; (3) a script runs in a transaction rolled
// back at its end. docs/sql_examples.md lists what is allowed and refused.
//
// Thread-safety: a session is used by one thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "engine/engine.h"
#include "lake/object_store.h"

namespace smartcity::query {

class SqlSession {
 public:
  // Creates the views of every table of `cat` whose data `store` holds, then locks DuckDB down.
  // A table that cannot be opened is left out and named in warnings() (not fatal).
  static Result<std::unique_ptr<SqlSession>> Open(lake::ObjectStore* store,
                                                  const catalog::Catalog& cat);

  // Runs a script of one or more queries; `sink` gets each statement's result and its run time in
  // seconds. Nothing runs unless every statement is a read-only query. Errors name the problem in
  // one sentence (bad SQL, unknown table with the list of known ones, refused statement).
  Status Run(std::string_view sql,
             const std::function<void(const engine::QueryResult&, double seconds)>& sink);

  // Each statement of a later Run stops (kTimeout) when it runs longer than `t`; 0: no limit.
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

  const std::vector<std::string>& tables() const { return tables_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  SqlSession() = default;
  Status CreateView(lake::ObjectStore* store, const catalog::TableEntry& t,
                    std::vector<std::string>* allowed);
  Status Explain(const Status& s) const;
  // OK when the EXPLAIN statement `text` only plans, or runs a query (EXPLAIN ANALYZE SELECT ...).
  Status CheckExplain(const std::string& text);

  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<engine::Connection> conn_;
  std::vector<std::string> tables_;
  std::vector<std::string> warnings_;
  // Cataloged tables that could not be opened (a damaged Delta log, ...): name -> why.
  std::vector<std::pair<std::string, std::string>> unreadable_;
  std::chrono::milliseconds timeout_{0};
};

// Output forms of a result.
// An aligned text table with a header and a rule; NULL shown as "NULL"; numbers right-aligned; NaN
// and infinities as NaN, Infinity, -Infinity (also in CSV).
std::string FormatTable(const engine::QueryResult& r);
// RFC 4180 CSV with a header line; NULL as an empty field.
std::string FormatCsv(const engine::QueryResult& r);
// One JSON object per row; numbers and booleans as JSON values, NULL as null; NaN and infinities as
// the strings "NaN", "Infinity", "-Infinity"; other types as their text.
std::string FormatJsonLines(const engine::QueryResult& r);

}  // namespace smartcity::query
