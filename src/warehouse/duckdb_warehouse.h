// The embedded DuckDB warehouse (see warehouse.h). One process may hold the file at a time.
#pragma once

#include <memory>
#include <string>

#include "engine/engine.h"
#include "warehouse/warehouse.h"

namespace smartcity::warehouse {

// Opens (creating if needed) the DuckDB file. kUnavailable if another process holds it.
// `memory_limit`: DuckDB's memory_limit setting ("" = its default).
Result<std::unique_ptr<WarehouseConnection>> OpenDuckDbWarehouse(
    const std::string& path, const std::string& memory_limit = "");

// A session on an open database that the caller owns and keeps open longer than the session (an
// in-memory warehouse shared by several sessions: the fake warehouse of the unit tests). Dropping a
// session with an open transaction rolls it back, as a lost server connection would.
Result<std::unique_ptr<WarehouseConnection>> ConnectDuckDbWarehouse(engine::Database* db,
                                                                    const std::string& describe);

}  // namespace smartcity::warehouse
