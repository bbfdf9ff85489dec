// Test support for the warehouse: a failure-injecting connection wrapper (the warehouse dies or a
// call fails at an exact step) and a small lake table writer.
#pragma once

#include <memory>
#include <string>

#include "engine/engine.h"
#include "lake/object_store.h"
#include "warehouse/warehouse.h"

namespace smartcity::warehouse::testing {

// Counts calls to Begin/Commit/Execute/Query/CopyBatch (all "ops") on every connection made from
// it; when the global op count reaches `fail_at`, that op fails with kUnavailable — before doing
// it, or (after = true) after doing it, so the caller cannot know it happened (a lost COMMIT
// reply). The failing connection is dead from then on, like a lost session; a dead connection's
// open transaction is rolled back when it is destroyed.
class FaultPlan {
 public:
  int fail_at = -1;  // -1: never
  bool after = false;
  int ops = 0;
  int begins = 0;  // transactions begun (Begin calls)
  int failures = 0;
  // The connection hides that it can read the lake's files itself: the loader reads their rows and
  // hands them over (the path a PostgreSQL warehouse takes).
  bool rows_only = false;
};

std::unique_ptr<WarehouseConnection> WrapFaulty(std::unique_ptr<WarehouseConnection> base,
                                                FaultPlan* plan);

// Test events table: seq BIGINT key (_partition 0, _offset seq), deviceId, timestamp, speed
// (nullable), note (nullable, only with_note), date partition.
std::shared_ptr<const Schema> EventSchema(bool with_note);
// Commits `n` events starting at `first` to lake table `table` as one Delta version (txn app
// "test", version = commit counter).
void CommitEvents(lake::ObjectStore* store, engine::Database* db, const std::string& table,
                  int64_t first, int n, bool with_note, int64_t txn_version);

}  // namespace smartcity::warehouse::testing
