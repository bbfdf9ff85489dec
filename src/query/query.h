// Read-only SQL over the cataloged tables (`smartcity sql`, SPEC section 5: Athena on one machine).
//
// A SqlSession is an in-memory DuckDB with one view per cataloged table. A view reads exactly the
// table's committed data: for a Delta table the active files of the snapshot loaded when the
// session opens (never a folder listing, so files of uncommitted or compacted-away writes are never
// seen), with the partition columns taken from the log's partitionValues; for a Parquet folder the
// files the crawl found readable, with Hive partition columns from the folders. Every view has the
// catalog's columns in the catalog's order; a column that older files lack reads as NULL.
//
// Read-only by two independent locks: (1) every statement of a script is prepared first and the
// script is refused unless all of them are queries (SELECT / WITH / VALUES); (2) once
// the views exist DuckDB is locked down: external access is off except for the committed data
// files (allowed_paths), extension auto-install/-load is off and the configuration is locked, so a
// query cannot read other files (read_csv('/etc/passwd')), write (COPY TO), ATTACH, INSTALL/LOAD or
// change a setting.
//
// Thread-safety: a session is used by one thread.
#pragma once

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

  const std::vector<std::string>& tables() const { return tables_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  SqlSession() = default;
  Status CreateView(lake::ObjectStore* store, const catalog::TableEntry& t,
                    std::vector<std::string>* allowed);
  Status Explain(const Status& s) const;

  std::unique_ptr<engine::Database> db_;
  std::unique_ptr<engine::Connection> conn_;
  std::vector<std::string> tables_;
  std::vector<std::string> warnings_;
  // Cataloged tables that could not be opened (a damaged Delta log, ...): name -> why.
  std::vector<std::pair<std::string, std::string>> unreadable_;
};

// Output forms of a result.
// An aligned text table with a header and a rule; NULL shown as "NULL"; numbers right-aligned.
std::string FormatTable(const engine::QueryResult& r);
// RFC 4180 CSV with a header line; NULL as an empty field.
std::string FormatCsv(const engine::QueryResult& r);
// One JSON object per row; numbers and booleans as JSON values, NULL as null.
std::string FormatJsonLines(const engine::QueryResult& r);

}  // namespace smartcity::query
