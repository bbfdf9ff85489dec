// The warehouse loader: copies the new committed data of lake tables into warehouse tables,
// incrementally by Delta version and exactly once (docs/warehouse.md).
//
// One load transaction covers a run of consecutive Delta versions of one table: it copies the rows
// of every file those versions add with dataChange=true (compaction output, dataChange=false, holds
// rows already loaded and is skipped) and inserts the bookkeeping row (table, last version, rows)
// into _smartcity_loads, then commits. The next load starts after the highest recorded version,
// read back from the warehouse, so a crash or a lost connection at any point either kept the whole
// transaction or none of it, and the retry neither repeats nor skips a version.
//
// Only rows make a transaction: versions that add none (an epoch with no rows for the table, a
// compaction or vacuum commit) are passed over without touching the warehouse, and join the next
// transaction that has rows; a pass over a lake with no new commit does no warehouse work at all.
// A settling pass (LoadOnce's default, Loop's final pass) also records such trailing
// versions (one bookkeeping row, no data), so at a stop the warehouse's version is the lake's.
//
// Lag: after each pass and each transaction (and before each retry wait) the loader tells
// on_lag how far the warehouse is behind each table, in versions and by the commit time of the
// oldest version it has not loaded.
//
// Schema: the warehouse table is created from the lake schema (types from Dialect::TypeName, the
// table's row identity as primary key, indexes on time and device); lake columns that the warehouse
// lacks are added; a warehouse column the lake no longer has, or has with another type, is a
// breaking change and is refused (kInvalidArgument naming the column).
//
// Thread-safety: a Loader is used by one thread. It only reads the lake (Get/Head/List), so it may
// share the ObjectStore with a writer in another thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/retry.h"
#include "common/status.h"
#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"
#include "warehouse/warehouse.h"

namespace smartcity::warehouse {

// How a lake table lands in the warehouse.
struct TableLayout {
  std::vector<std::string> key;      // primary key columns (empty: none)
  std::vector<std::string> indexes;  // columns worth an index (time first)
};
// The layout of our tables (docs/lake_format.md): raw tables are identified by (_partition,
// _offset), enriched_data by its (vehicle, weather, emergency) provenance, dead letters by (topic,
// partition, offset). Late events and other tables get no key.
TableLayout LayoutFor(const std::string& table, const Schema& schema);

// The warehouse schema of a Delta schema: the same columns and types (every LogicalType has a
// warehouse type, Dialect::TypeName).
Schema WarehouseSchema(const lake::DeltaSchema& delta);

// One committed load transaction, as told to LoaderOptions::on_load.
struct LoadEvent {
  std::string table;
  int64_t first_version = 0;  // the Delta versions the transaction loaded, first..last
  int64_t last_version = 0;
  int64_t rows = 0;
  WallTime committed_at{};                   // wall clock, after the commit
  std::chrono::duration<double> elapsed{0};  // the transaction's duration
  int64_t lake_version = -1;  // the table's newest lake version the loader knew at that moment
};

// How far the warehouse is behind one lake table (LoaderOptions::on_lag).
struct TableLag {
  std::string table;
  // False until the loader has read the warehouse's version of the table (it has not reached the
  // warehouse yet): the lag is then unknown.
  bool known = false;
  int64_t lake_version = -1;    // the newest lake version the loader has seen (-1: no table yet)
  int64_t loaded_version = -1;  // every version up to it is in the warehouse or adds no rows
  // Commit time of version loaded_version + 1 (the oldest not loaded) when behind; none when caught
  // up (or if that commit's time could not be read).
  std::optional<WallTime> oldest_pending;
  int64_t versions() const { return std::max<int64_t>(lake_version - loaded_version, 0); }
};

// The warehouse's lag behind the lake, every table of the loader.
struct LoadLag {
  std::vector<TableLag> tables;
  // The message of the last failed pass while the loader retries ("" once a pass succeeds).
  std::string retrying;
  bool known() const;
  int64_t versions() const;                        // summed over the tables
  std::optional<WallTime> oldest_pending() const;  // the oldest over the tables
  // How long the oldest version not loaded has waited at `now` (0 when caught up).
  static std::chrono::duration<double> Age(std::optional<WallTime> oldest_pending, WallTime now);
};

// What a long-running load (follow mode, a schedule) sets LoaderOptions::reopen_after_rows to.
inline constexpr int64_t kFollowReopenAfterRows = 1'000'000;

struct LoaderOptions {
  std::vector<std::string> tables = {"enriched_data"};
  // A load transaction stops adding versions once it holds this many rows.
  int64_t rows_per_transaction = 500'000;
  // Retryable failures (warehouse down) are retried (a RetryPolicy, common/retry.h) with backoff
  // from initial_backoff doubling up to max_backoff, for at most retry_for in total (then the error
  // is returned). A lake failure that the object store already retried is not retried again
  // (docs/retries.md).
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{10'000};
  std::chrono::milliseconds retry_for{std::chrono::minutes(10)};
  // Time for backoff, polling and durations (borrowed); null: Clock::Real().
  Clock* clock = nullptr;
  // How often follow mode looks for a new commit.
  std::chrono::milliseconds poll_interval{250};
  // Progress lines ("load enriched_data: versions 3..7, 1200 rows ..."); none if empty.
  std::function<void(const std::string&)> progress;
  // Called after each committed load transaction, on the loader's thread (keep it short); none if
  // empty.
  std::function<void(const LoadEvent&)> on_load;
  // Called with the lag (see above), on the loader's thread; none if empty.
  std::function<void(const LoadLag&)> on_lag;
  // memory_limit of the in-process DuckDB that reads the lake's data files ("" = DuckDB's default).
  std::string reader_memory_limit;
  // Reopen the warehouse after this many rows were loaded through one connection (0: never). A
  // DuckDB warehouse keeps in memory, for as long as it is open, the bookkeeping of every row group
  // it appended (about 2-3 MiB per 10 M rows, plus some per load): a long follow (`run`'s
  // follower, `load --follow`/`--every`) reopens it so that its memory does not grow with the
  // length of the run. Reopening costs a checkpoint of the warehouse file.
  int64_t reopen_after_rows = 0;  // kFollowReopenAfterRows for the follow modes
  // A warehouse table created before the warehouse column names (warehouse/names.h) has the lake's
  // (quoted camelCase) names; it is loaded with them, with a notice. If set, its columns (and their
  // PostgreSQL indexes) are renamed to the warehouse names first, in one transaction.
  bool rename_columns = false;
  // Set: held during each load pass (reading the lake and writing the warehouse), released while
  // waiting. `run` shares it with its lake maintenance (pipeline::MaintenanceOptions::exclusive)
  // so that their DuckDB working sets never add up.
  Mutex* exclusive = nullptr;
};

struct TableLoadStats {
  int64_t rows = 0;
  int64_t versions = 0;
  int64_t transactions = 0;
  int64_t loaded_version = -1;  // what the warehouse holds after the load
};

struct LoadSummary {
  std::map<std::string, TableLoadStats> tables;
  int64_t rows = 0;
  int64_t versions = 0;
  int64_t transactions = 0;
  int retries = 0;
  std::chrono::duration<double> elapsed{0};
};

class Loader {
 public:
  using Connector = std::function<Result<std::unique_ptr<WarehouseConnection>>()>;

  // `store`: the lake (borrowed); `connect` opens a warehouse session (called again after a
  // session broke). Parquet files are read through an in-memory DuckDB owned by the loader.
  static Result<std::unique_ptr<Loader>> Create(lake::ObjectStore* store, Connector connect,
                                                LoaderOptions options);

  // Loads every table up to its newest version, retrying retryable failures. Adds to summary().
  // If `settle`, versions without rows after the last loaded one are recorded too (see above).
  Status LoadOnce(const std::atomic<bool>* stop = nullptr, bool settle = true);
  // Loads, then waits `interval` (or, if interval is zero, until any table has a new commit), and
  // again, until *stop. Retryable failures never end it. If final_pass, a last settling LoadOnce
  // runs after stop is seen (so a bounded `run` ends with everything loaded).
  Status Loop(const std::atomic<bool>& stop, std::chrono::milliseconds interval, bool final_pass);

  const LoadSummary& summary() const { return summary_; }

 private:
  // Where the loader stands in one table, in this process.
  struct Cursor {
    bool ready = false;     // the warehouse table is ensured and `recorded` read from it
    int64_t recorded = -1;  // the version the warehouse's bookkeeping holds (as last read/written)
    int64_t through = -1;   // >= recorded: the versions after `recorded` up to it add no rows
    int64_t pending_version = -1;  // the version whose commit time pending_at is
    std::optional<WallTime> pending_at;
  };

  Loader(lake::ObjectStore* store, Connector connect, LoaderOptions options);
  // One pass over the tables. A failure of one table (TableScoped in loader.cc: a damaged log, a
  // breaking schema change) does not stop the others; the pass then fails with every such table
  // named.
  Status LoadPass(bool settle);
  Status LoadTables(bool settle, std::vector<std::pair<std::string, Status>>* failed,
                    const std::function<bool(const std::string&)>& skip);
  Status UpdateSnapshot(const std::string& table);
  // Whether `table` has versions to load (or, if settle, to record).
  bool HasWork(const std::string& table, bool settle) const;
  Status LoadTable(const std::string& table, bool settle);
  // Commits the open load transaction of versions first..last (rows, files: what it copied).
  Status CommitLoad(const std::string& table, const TargetColumns& columns, int64_t first,
                    int64_t last, int64_t rows, std::vector<ParquetFile>* files, ProcessingTime t0);
  void PublishLag(const std::string& retrying = "");
  // Creates the warehouse table of lake table `table`, or checks it against the lake's schema and
  // adds the lake's new columns (renaming lake-named columns first if options_.rename_columns).
  // *columns: the table's columns in its order, each with the lake column it is loaded from.
  Status EnsureTable(const std::string& table, const Schema& lake_schema, TargetColumns* columns);
  // Renames the lake-named columns of `table` to their warehouse names.
  Status RenameColumns(const std::string& table,
                       const std::vector<std::pair<std::string, std::string>>& renames);
  Status CopyFile(const std::string& table, const TargetColumns& columns, const lake::DeltaLog& log,
                  const lake::AddFile& add, int64_t* rows);
  bool Sleep(std::chrono::milliseconds d, const std::atomic<bool>* stop);
  void Progress(const std::string& line);

  lake::ObjectStore* store_;
  Connector connect_;
  LoaderOptions options_;
  Clock* const clock_;
  const RetryPolicy retry_;
  // Opens reader_db_ and reader_ (again); reader_ stays null if it fails, so LoadPass tries again.
  Status OpenReader();
  void CloseReader();
  std::unique_ptr<engine::Database> reader_db_;
  std::unique_ptr<engine::Connection> reader_;
  std::unique_ptr<WarehouseConnection> conn_;
  bool bookkeeping_ready_ = false;
  int64_t rows_at_connect_ = 0;  // summary_.rows when conn_ was opened
  std::map<std::string, lake::Snapshot> snapshots_;
  std::map<std::string, Cursor> cursors_;
  // Tables told about (once) that they keep the lake's column names.
  std::set<std::string> lake_named_noticed_;
  LoadSummary summary_;
};

}  // namespace smartcity::warehouse
