// LakeStateReader: the live view of a lake at rest, for `smartcity serve` — the latest committed
// position (and weather) per vehicle, the incidents, the cameras seen, the recent commits of every
// table and their row counts, read with DuckDB from the Delta tables' active files and put into a
// LiveState (ReplaceFromLake). Refresh() re-reads the Delta logs and queries again only the tables
// that changed, so calling it every few seconds on an idle lake is cheap.
//
// Ownership: borrows the store and the database (they must outlive it). Thread-safety: one thread
// at a time (the LiveState it fills is thread-safe).
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"
#include "pipeline/processor.h"
#include "web/live_state.h"

namespace smartcity::web {

class LakeStateReader {
 public:
  static Result<std::unique_ptr<LakeStateReader>> Open(lake::ObjectStore* store,
                                                       engine::Database* db,
                                                       std::filesystem::path scratch_dir);
  ~LakeStateReader();

  // Reads what changed since the last call and replaces the state's view with the lake's.
  Status Refresh(LiveState* state);
  // Reads the loads recorded in a DuckDB warehouse file's `_smartcity_loads` table (attached
  // read-only for the query, then detached) into the state's loads. The file may be locked by a
  // running loader: then the state says "busy" and keeps the loads read before (the next call
  // retries). No file: no warehouse. Call after Refresh (the lake versions give the lag).
  Status RefreshWarehouse(LiveState* state, const std::string& duckdb_file);

 private:
  struct Table {
    std::unique_ptr<lake::DeltaLog> log;
    lake::Snapshot snapshot;
    int64_t queried_version = -2;  // the version the cached results below were read at
  };
  LakeStateReader(lake::ObjectStore* store, std::unique_ptr<engine::Connection> conn,
                  std::filesystem::path scratch_dir);
  // The newest event time of the table's active files, from their statistics (maxValues of its
  // event-time column; nullopt when no file has one).
  static std::optional<EventTime> NewestEventTime(const Table& t, size_t table);
  // Per partition group, its newest committed epoch (an offsets log with its state checkpoint)
  // and that epoch's watermark, from the processor's files under _checkpoints/.
  Result<std::vector<GroupView>> ReadGroups();
  // "[ 'file1', 'file2' ]" for read_parquet, downloading objects of a remote store once.
  Result<std::string> FileList(const Table& t);

  lake::ObjectStore* store_;
  std::unique_ptr<engine::Connection> conn_;
  std::filesystem::path scratch_dir_;
  std::map<std::string, std::string> downloaded_;  // object key -> local copy
  std::array<Table, stream::kOutputTableCount> tables_;
  std::vector<VehicleView> vehicles_;
  std::map<std::string, WeatherView> weather_;
  std::vector<IncidentView> incidents_;
  std::vector<CameraView> cameras_;
  std::array<std::deque<CommitView>, stream::kOutputTableCount> commits_;
  std::array<std::optional<EventTime>, stream::kOutputTableCount> newest_{};
  std::vector<GroupView> groups_;
};

}  // namespace smartcity::web
