// Test support for the lake: a small event schema, batches of numbered events, and a reader that
// returns the `seq` values a Delta table holds (through the log's active files and DuckDB).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/record_batch.h"
#include "engine/engine.h"
#include "lake/delta_table.h"
#include "lake/object_store.h"

namespace smartcity::lake::testing {

// deviceId string, ts timestamp, speed double (nullable), lane int32, seq int64, ok bool
// (nullable).
std::shared_ptr<const Schema> EventSchema();
// The same plus `note` string (nullable), for schema evolution.
std::shared_ptr<const Schema> EventSchemaWithNote();

// Events seq = first .. first+n-1 at start + i*step (UTC micros); every 7th speed and every 5th ok
// is null. With a schema that has `note`, it is "n<seq>" on even seq and null otherwise.
std::unique_ptr<RecordBatch> MakeEvents(const std::shared_ptr<const Schema>& schema, int64_t first,
                                        int n, int64_t start_micros, int64_t step_micros);

// Appends events seq first..first+n-1 (one a minute from `start_micros`, EventSchema) to `t` and
// commits them as epoch `epoch` of the application "app" (fails the test on any error).
CommitResult CommitEvents(DeltaTable* t, int64_t first, int n, int64_t start_micros, int64_t epoch);

// 2026-01-05T23:00:00Z in micros: 2 hours of 1-minute events span two dates.
inline constexpr int64_t kJan5At23h = 1767654000000000LL;
inline constexpr int64_t kMinute = 60000000LL;

// Sorted `seq` values of every row of the table's latest snapshot (fails on any read error).
std::vector<int64_t> ReadSeqs(ObjectStore* store, engine::Database* db, const std::string& table);
// 1..n (or first..first+n-1) as a vector.
std::vector<int64_t> Range(int64_t first, int64_t n);

}  // namespace smartcity::lake::testing
