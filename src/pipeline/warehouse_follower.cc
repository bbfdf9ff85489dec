#include "pipeline/warehouse_follower.h"

#include <chrono>

#include "common/process_stats.h"

namespace smartcity::pipeline {

Result<std::unique_ptr<WarehouseFollower>> WarehouseFollower::Start(
    lake::ObjectStore* store, WarehouseFollowerOptions options) {
  std::unique_ptr<WarehouseFollower> f(new WarehouseFollower());
  warehouse::LoaderOptions o;
  o.progress = [](const std::string&) {};
  o.on_load = std::move(options.on_load);
  o.on_lag = [f = f.get(), on_lag = std::move(options.on_lag)](const warehouse::LoadLag& lag) {
    {
      MutexLock l(&f->mu_);
      f->lag_ = lag;
    }
    if (on_lag) on_lag(lag);
  };
  o.retry_for = options.final_retry_for;  // bounds the final pass if the warehouse is gone
  o.reader_memory_limit = options.reader_memory_limit;
  o.exclusive = options.exclusive;
  o.reopen_after_rows = warehouse::kFollowReopenAfterRows;
  const std::string spec = options.warehouse;
  warehouse::WarehouseOpenOptions wo;
  wo.duckdb_memory_limit = options.warehouse_memory_limit;
  SC_ASSIGN_OR_RETURN(f->loader_,
                      warehouse::Loader::Create(
                          store, [spec, wo] { return warehouse::OpenWarehouse(spec, wo); }, o));
  f->thread_ = std::thread([f = f.get(), on_error = std::move(options.on_error)] {
    NameThisThread("sc-warehouse");
    Status st = f->loader_->Loop(f->stop_, std::chrono::milliseconds(0), /*final_pass=*/true);
    // Loop's errors end it before the stop (on_error tells them then) or come from the final pass.
    if (!st.ok()) {
      f->failed_ = true;
      if (!f->stop_.load() && on_error) on_error(st);
    }
    f->status_ = std::move(st);
  });
  return f;
}

void WarehouseFollower::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

int64_t WarehouseFollower::rows_loaded() const {
  return loader_->summary().rows;
}

std::optional<warehouse::LoadLag> WarehouseFollower::lag() const {
  MutexLock l(&mu_);
  return lag_;
}

}  // namespace smartcity::pipeline
