// WarehouseFollower: the warehouse loader (src/warehouse) in follow mode on its own thread, beside
// a running pipeline (`smartcity run`). It only reads the lake (sharing the thread-safe store) and
// never blocks the processor. It loads only when the lake has a new commit with rows, and keeps
// the warehouse's lag (warehouse::LoadLag) for the command's progress line and live view. Stop()
// ends it with a final, settling pass after the pipeline's last commit, so a run stopped at any
// moment leaves the warehouse equal to the lake, or status() says why not.
//
// While the pipeline runs, a warehouse that is unreachable is retried without end (the lag shows
// it); the final pass gets 30 s. An error the loader cannot retry (bad credentials, a breaking
// schema change) ends the follower at once: on_error, then status().
//
// Ownership: borrows the store (it must outlive this). Thread-safety: Start/Stop/rows_loaded/status
// on one thread; lag() and failed() from any thread; the callbacks run on the follower's thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "lake/object_store.h"
#include "warehouse/loader.h"

namespace smartcity::pipeline {

struct WarehouseFollowerOptions {
  std::string warehouse;  // the loader's target, as for `smartcity load --warehouse`
  // Each committed load (the live view's "warehouse" panel).
  std::function<void(const warehouse::LoadEvent&)> on_load;
  // Each new lag report (the live view's warehouse lag).
  std::function<void(const warehouse::LoadLag&)> on_lag;
  // The loader stopped with an error before Stop() (the pipeline goes on without it).
  std::function<void(const Status&)> on_error;
  // memory_limit of a DuckDB warehouse and of the loader's DuckDB that reads the lake ("" =
  // DuckDB's default, 80% of the machine's memory).
  std::string warehouse_memory_limit;
  std::string reader_memory_limit;
  // The final pass's retry budget (the warehouse may be gone).
  std::chrono::milliseconds final_retry_for{std::chrono::seconds(30)};
  // Held during each load pass (warehouse::LoaderOptions::exclusive); none if null.
  Mutex* exclusive = nullptr;
};

class WarehouseFollower {
 public:
  // Errors: the loader cannot be created (the warehouse spec is wrong, ...).
  static Result<std::unique_ptr<WarehouseFollower>> Start(lake::ObjectStore* store,
                                                          WarehouseFollowerOptions options);
  ~WarehouseFollower() { Stop(); }

  // Makes a final pass and joins the thread. Idempotent.
  void Stop();
  // Rows loaded so far. REQUIRES: Stop() returned.
  int64_t rows_loaded() const;
  // Why the follower ended before its work was done (OK: it loaded everything up to the stop).
  // REQUIRES: Stop() returned.
  const Status& status() const { return status_; }
  // Whether the follower has ended with an error (before Stop(), or in its final pass). Any thread.
  bool failed() const { return failed_.load(); }
  // The newest lag report; none before the first pass.
  std::optional<warehouse::LoadLag> lag() const;

 private:
  WarehouseFollower() = default;
  std::unique_ptr<warehouse::Loader> loader_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::thread thread_;
  Status status_;
  mutable Mutex mu_;
  std::optional<warehouse::LoadLag> lag_ GUARDED_BY(mu_);
};

}  // namespace smartcity::pipeline
