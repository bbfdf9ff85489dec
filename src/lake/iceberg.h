// Apache Iceberg metadata for a Delta table (the Iceberg table spec, format version 2): the same
// Parquet data files, readable as an Iceberg table by engines that read Iceberg (Athena, Trino,
// Snowflake, Spark, pyiceberg, DuckDB's iceberg extension). Delta stays the source of truth; the
// Iceberg metadata mirrors a Delta version.
//
// On storage, beside _delta_log/ (a file-system table, as Iceberg's Hadoop tables):
//   <table>/metadata/v<N>.metadata.json        table metadata N (N = 1, 2, …), put if absent
//   <table>/metadata/version-hint.text         "N": the newest metadata version (a hint:
//                                               readers and writers also probe v<N+1>…)
//   <table>/metadata/snap-<id>-1-<uuid>.avro   manifest list of snapshot <id>
//   <table>/metadata/<uuid>-m0.avro            the manifest of that snapshot
//
// Each Iceberg snapshot lists the live data files of exactly one Delta version: its summary has
// `smartcity.delta-version`. MirrorToIceberg writes the snapshot of a Delta Snapshot when the
// newest Iceberg snapshot mirrors an older version (or none): after each Delta commit (stream,
// compaction) and at a writer's open, so a crash between a Delta commit and its Iceberg commit is
// healed by the next writer (the missing versions are folded into one Iceberg snapshot of the
// newest). Commits are atomic: the next v<N>.metadata.json is written with PutIfAbsent; a writer
// that loses the race reloads and gives up if the winner mirrors its version or a newer one, else
// retries at N+1.
//
// Schema: Iceberg field ids are the Delta schema's positions, 1-based (IcebergFieldsOf). Delta only
// ever appends columns (lake/delta_table.h), so a column keeps its id for the table's life. The
// data files have no Parquet field ids: the table property `schema.name-mapping.default` maps every
// id to its column name (the spec's "Column Projection" rule for files without ids). Partition spec
// 0 is `identity` on each Delta partition column (ids 1000, 1001, …); partition columns are not in
// the data files (Delta's rule), and Iceberg readers take identity-partition values from the
// manifest's partition tuple (the spec's rule for identity-partitioned columns missing from a
// file).
//
// Thread-safety: free functions; any number of writers may mirror one table concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/logical_type.h"
#include "common/status.h"
#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"

namespace smartcity::lake {

inline constexpr std::string_view kIcebergMetadataDir = "metadata";
inline constexpr std::string_view kIcebergVersionHint = "version-hint.text";
// Snapshot summary key: the Delta version an Iceberg snapshot mirrors.
inline constexpr std::string_view kIcebergDeltaVersionKey = "smartcity.delta-version";
// Snapshots (and metadata-log entries) kept in the table metadata; older ones are dropped from it.
inline constexpr int kIcebergSnapshotsKept = 20;

// The Iceberg type of a logical type: string, int, long, double, timestamptz, boolean, date.
std::string_view IcebergTypeName(LogicalType t);

struct IcebergField {
  int id = 0;
  std::string name;
  LogicalType type = LogicalType::kString;
  bool required = false;
};
// The Iceberg schema of a Delta table: ids 1..n in the Delta schema's order; required when the
// Delta column is NOT NULL, except the partition columns: they are not in the data files, and
// readers (pyiceberg 0.12) fill a column missing from a file with the file's identity-partition
// value only when the column is optional (a required one is refused as missing), so they are
// optional.
std::vector<IcebergField> IcebergFieldsOf(const DeltaSchema& schema,
                                          const std::vector<std::string>& partition_columns);

// The Parquet field ids of data columns named `columns`: each one's Iceberg field id (its 1-based
// position in `schema`, as IcebergFieldsOf gives it). Every data file gets them, Iceberg or not, so
// Iceberg readers match columns by id; names not in `schema` get none.
std::vector<engine::ParquetFieldId> ParquetFieldIdsOf(const DeltaSchema& schema,
                                                      std::span<const std::string> columns);

// One entry of a manifest (what a reader sees of a data file).
struct IcebergDataFile {
  int status = 1;  // 0 existing, 1 added, 2 deleted
  std::optional<int64_t> snapshot_id;
  std::optional<int64_t> sequence_number;
  std::optional<int64_t> file_sequence_number;
  std::string path;  // absolute URI
  PartitionValues partition;
  int64_t record_count = 0;
  int64_t file_size = 0;
};

// One entry of a manifest list.
struct IcebergManifest {
  std::string path;
  int64_t length = 0;
  int64_t sequence_number = 0;
  int64_t added_snapshot_id = 0;
  int32_t added_files = 0;
  int32_t existing_files = 0;
  int64_t added_rows = 0;
  int64_t existing_rows = 0;
};

// The Avro forms (for tests and for reading the previous snapshot back).
Result<std::vector<IcebergDataFile>> ReadIcebergManifest(std::string_view avro);
Result<std::vector<IcebergManifest>> ReadIcebergManifestList(std::string_view avro);

// The table's newest Iceberg metadata.
struct IcebergState {
  int64_t metadata_version = 0;  // N of v<N>.metadata.json; 0: the table has no Iceberg metadata
  std::string metadata_key;      // its object key
  int64_t delta_version = -1;    // the Delta version its current snapshot mirrors; -1: none
  std::string metadata_json;     // its text
};
Result<IcebergState> LoadIcebergState(ObjectStore* store, const std::string& table_prefix);

struct IcebergCommitResult {
  bool written = false;  // false: the newest snapshot already mirrored this version or a newer one
  int64_t metadata_version = 0;
  int64_t delta_version = -1;  // the version the newest snapshot mirrors
  int64_t snapshot_id = 0;
  int files_added = 0;
  int files_removed = 0;
  int64_t records_added = 0;
  int64_t records_removed = 0;
  int attempts = 0;
};

// Mirrors `snap` (Delta version snap.version of the table at `table_prefix`) as the table's current
// Iceberg snapshot, unless the Iceberg metadata already mirrors it or a newer version.
// kInvalidArgument for a table Iceberg metadata cannot describe (deletion vectors, a partition
// column type with no identity form).
Result<IcebergCommitResult> MirrorToIceberg(ObjectStore* store, const std::string& table_prefix,
                                            const Snapshot& snap);

// Objects under the table's metadata/ that its newest metadata no longer needs: not the newest
// metadata file nor one in its metadata-log, not the version hint, not the manifest list or a
// manifest of a snapshot it keeps. Vacuum deletes those older than its retention (a reader may
// still be on an older metadata file until then; a writer's files of a commit in flight are
// younger). Empty for a table without Iceberg metadata.
Result<std::vector<ObjectInfo>> UnreferencedIcebergFiles(ObjectStore* store,
                                                         const std::string& table_prefix);

// True when the table has Iceberg metadata (its writers keep it in step).
Result<bool> HasIcebergMetadata(ObjectStore* store, const std::string& table_prefix);

}  // namespace smartcity::lake
