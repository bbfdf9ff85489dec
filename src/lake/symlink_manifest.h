// Symlink-format manifests of a Delta table: how readers that do not read the Delta log (Redshift
// Spectrum, Presto/Trino's Hive connector, Hive) see exactly the table's current snapshot.
//
// A manifest is a text file listing the absolute URIs of the snapshot's data files, one a line:
//   <table>/_symlink_format_manifest/manifest                     (a table with no partitions)
//   <table>/_symlink_format_manifest/date=2026-01-05/manifest     (one per partition folder)
// A reader registers the table with org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat and
// LOCATION at `_symlink_format_manifest/` (partitions at its sub-folders), so it reads the files
// listed, never the folder: no file a compaction replaced, no file of a commit that did not land.
//
// Keeping them current: a table whose metaData.configuration has
// `delta.compatibility.symlinkFormatManifest.enabled` = "true" (the Delta convention) gets its
// manifests rewritten after each commit by the lake's writers (DeltaTable::Commit, compaction;
// UpdateSymlinkManifest): the streaming writer rewrites only the partitions its commit touched when
// its previous manifest write listed the version just before (so a commit costs a PUT per touched
// partition, not one per partition of the table), and every manifest otherwise. A manifest failure
// after a commit never fails the commit: the commit has landed; the caller reports the error and
// the next commit rewrites every manifest again (they are generated from the whole snapshot each
// time). A manifest may lag the log for the moments between a commit and its manifest write; the
// files a commit removes stay on storage until vacuum, whose retention is far longer, so a lagging
// manifest never names a missing file.
//
// The manifest folder is not data: vacuum deletes only `.parquet` files that no snapshot references
// (it keeps the manifests), and the crawler / readers read Delta tables from the log only.
//
// Thread-safety: free functions; one caller per table at a time is enough (several writers racing
// converge: each re-checks the log after writing, see UpdateSymlinkManifest).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/engine.h"
#include "lake/delta_log.h"
#include "lake/object_store.h"

namespace smartcity::lake {

inline constexpr std::string_view kSymlinkManifestProperty =
    "delta.compatibility.symlinkFormatManifest.enabled";
inline constexpr std::string_view kSymlinkManifestDir = "_symlink_format_manifest";

// True when the table asks for maintained manifests (the property is "true", any letter case).
bool SymlinkManifestEnabled(const Metadata& m);

// The manifest folder's sub-folder of one partition ("date=2026-01-05", "" without partitions),
// Hive-escaped like the data folders.
std::string ManifestPartitionDir(const std::vector<std::string>& partition_columns,
                                 const PartitionValues& values);

// The URI a manifest lists for an object key: ObjectStore::ReaderUri, with "file://" before an
// absolute local path (Hive's SymlinkTextInputFormat reads URIs).
std::string ManifestUri(const ObjectStore& store, const std::string& key);

struct ManifestResult {
  int64_t version = -1;       // the snapshot the manifests list
  int manifests_written = 0;  // one per partition folder (or one)
  int manifests_deleted = 0;  // of partitions that no longer have files
  int64_t files_listed = 0;
};

// Writes the manifests of `snap` (table at `table_prefix`) and deletes the manifests of partitions
// it no longer has. With `partitions` (ManifestPartitionDir names), only those partitions'
// manifests are rewritten (or deleted if the partition has no file left): enough when the other
// manifests already list `snap` (they were written for the version before, and the commit between
// touched only these). kInvalidArgument for a snapshot with deletion vectors (a manifest cannot say
// which rows of a file are deleted) or a store with no reader URIs (in memory).
Result<ManifestResult> WriteSymlinkManifest(ObjectStore* store, const std::string& table_prefix,
                                            const Snapshot& snap,
                                            const std::set<std::string>* partitions = nullptr);

// After a commit: writes the manifests of `snap` (only `partitions` if given, see above), then
// checks the log and rewrites all of them while another writer committed meanwhile (bounded), so
// the last manifest written lists the newest snapshot. `snap` is left at the newest version read.
Result<ManifestResult> UpdateSymlinkManifest(DeltaLog* log, ObjectStore* store, Snapshot* snap,
                                             engine::Connection* conn = nullptr,
                                             const std::set<std::string>* partitions = nullptr);

// Sets the table property (a metadata-only commit, retried when another writer wins a version)
// unless the table has it, then writes the manifests. `*enabled_now`: whether this call set it.
Result<ManifestResult> EnableSymlinkManifest(ObjectStore* store, const std::string& table_prefix,
                                             engine::Connection* conn, bool* enabled_now);

}  // namespace smartcity::lake
