// WarehouseFollower: the warehouse loader (src/warehouse) in follow mode on its own thread, beside
// a running pipeline (`smartcity run`). It only reads the lake (sharing the thread-safe store) and
// never blocks the processor. Stop() ends it with a final pass, so a finished run leaves the
// warehouse equal to the lake.
//
// Ownership: borrows the store (it must outlive this). Thread-safety: Start/Stop/rows_loaded on one
// thread; the callbacks run on the follower's thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "lake/object_store.h"
#include "warehouse/loader.h"

namespace smartcity::pipeline {

struct WarehouseFollowerOptions {
  std::string warehouse;  // the loader's target, as for `smartcity load --warehouse`
  // Each committed load (the live view's "warehouse" panel).
  std::function<void(const warehouse::LoadEvent&)> on_load;
  // The loader stopped with an error before Stop() (the pipeline goes on without it).
  std::function<void(const Status&)> on_error;
  // memory_limit of a DuckDB warehouse and of the loader's DuckDB that reads the lake ("" =
  // DuckDB's default, 80% of the machine's memory).
  std::string warehouse_memory_limit;
  std::string reader_memory_limit;
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

 private:
  explicit WarehouseFollower(std::unique_ptr<warehouse::Loader> loader)
      : loader_(std::move(loader)) {}
  std::unique_ptr<warehouse::Loader> loader_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace smartcity::pipeline
