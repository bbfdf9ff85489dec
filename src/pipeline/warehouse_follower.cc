#include "pipeline/warehouse_follower.h"

#include <chrono>

namespace smartcity::pipeline {

Result<std::unique_ptr<WarehouseFollower>> WarehouseFollower::Start(
    lake::ObjectStore* store, WarehouseFollowerOptions options) {
  warehouse::LoaderOptions o;
  o.progress = [](const std::string&) {};
  o.on_load = std::move(options.on_load);
  o.retry_for = std::chrono::seconds(30);  // bounds the final pass if the warehouse is gone
  o.reader_memory_limit = options.reader_memory_limit;
  const std::string spec = options.warehouse;
  warehouse::WarehouseOpenOptions wo;
  wo.duckdb_memory_limit = options.warehouse_memory_limit;
  SC_ASSIGN_OR_RETURN(auto loader,
                      warehouse::Loader::Create(
                          store, [spec, wo] { return warehouse::OpenWarehouse(spec, wo); }, o));
  std::unique_ptr<WarehouseFollower> f(new WarehouseFollower(std::move(loader)));
  f->thread_ = std::thread([f = f.get(), on_error = std::move(options.on_error)] {
    Status st = f->loader_->Loop(f->stop_, std::chrono::milliseconds(0), /*final_pass=*/true);
    if (!st.ok() && on_error) on_error(st);
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

}  // namespace smartcity::pipeline
