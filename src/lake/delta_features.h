// The Delta protocol versions and table features this lake supports, per kind of access
// (docs/lake_format.md, "Protocol and table features", has the same table for users).
//
// Other engines (Spark with delta-spark, delta-rs, DuckDB) may upgrade a table we write: enable a
// writer feature, deletion vectors, a CHECK constraint, column mapping. Before reading or writing,
// every DeltaLog::Load / Update checks the table's protocol (reader and writer versions, reader and
// writer feature lists) and the features in use (table properties, field metadata) against what
// the caller's access can do correctly, and refuses anything else with one sentence naming the
// table, the feature and what to do; it never writes a table it does not fully understand.
//
//   reader version 1; 2 and 3 with columnMapping only while delta.columnMapping.mode is none;
//   3 with readerFeatures deletionVectors (kInspect, kWrite; kRead only while no active file
//   has a deletion vector: sql/load/serve read data files as plain Parquet) and
//   vacuumProtocolCheck.
//   writer version <= 7; legacy versions imply appendOnly, invariants (2), checkConstraints (3),
//   changeDataFeed, generatedColumns (4), columnMapping (5), identityColumns (6). Writes support
//   appendOnly, changeDataFeed, deletionVectors (appends; compaction leaves files with one alone),
//   allowColumnDefaults (every column is always written), vacuumProtocolCheck, and invariants /
//   checkConstraints / generatedColumns / identityColumns / columnMapping only while none is in
//   use (no delta.invariants, delta.constraints.*, delta.generationExpression, delta.identity.*,
//   column mapping mode none). Everything else (rowTracking, domainMetadata, v2Checkpoint,
//   inCommitTimestamp, clustering, timestampNtz, typeWidening, icebergCompat*, unknown names) is
//   refused for writing, and for reading when it is a reader feature.
#pragma once

#include <string_view>

#include "common/status.h"
#include "lake/delta_log.h"

namespace smartcity::lake {

// OK if `access` to the table as of `snap` is supported; else kInvalidArgument with one sentence
// naming `table`, the feature and what to do.
Status CheckProtocol(const Snapshot& snap, TableAccess access, std::string_view table);

}  // namespace smartcity::lake
