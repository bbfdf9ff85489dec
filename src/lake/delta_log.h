// The Delta Lake transaction log (PROTOCOL.md of delta-io; we write reader v1 / writer v2 and
// read and write to tables of other versions and table features within lake/delta_features.h's
// limits): action types,
// their JSON form, commits as newline-delimited JSON under <table>/_delta_log/%020d.json, and the
// replay of the log into a Snapshot (active files, schema, partition columns, latest txn version
// per appId).
//
// Commits are written with ObjectStore::PutIfAbsent, so of two writers racing for version N exactly
// one succeeds and the other gets kAlreadyExists (it then re-reads the log and retries at N+1 or
// gives up). Readers that find a `_last_checkpoint` start from that Parquet checkpoint (read
// through DuckDB) and replay the JSON commits after it.
//
// Paths: in memory (AddFile::path) a data file's path is the plain relative key below the table
// root
// ("date=2026-01-05/part-00000-….zstd.parquet"); in the log it is the RFC 2396 URI-encoded form, as
// the protocol requires. Partition values are strings (null = std::nullopt).
//
// Thread-safety: DeltaLog is stateless apart from its store pointer and is safe to share; Snapshot
// and the action structs are plain values.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/logical_type.h"
#include "common/status.h"
#include "lake/object_store.h"

namespace smartcity::engine {
class Connection;
}

namespace smartcity::lake {

// The Delta edge of the one logical type (common/logical_type.h): the primitive type names of the
// schemaString. Every LogicalType has one ("string", "integer", "long", "double", "timestamp",
// "boolean", "date"); any other Delta type is refused with kInvalidArgument.
std::string_view DeltaTypeName(LogicalType t);
Result<LogicalType> ParseDeltaType(std::string_view name);

struct DeltaField {
  std::string name;
  LogicalType type = LogicalType::kString;
  bool nullable = true;
  bool operator==(const DeltaField&) const = default;
};

struct DeltaSchema {
  std::vector<DeltaField> fields;
  int IndexOf(std::string_view name) const;
  bool operator==(const DeltaSchema&) const = default;
};

// Spark StructType JSON, the form of metaData.schemaString. A field that `base` (a schemaString)
// has with the same type and nullability keeps its JSON from there (its metadata: constraints,
// defaults, column mapping ids…).
std::string SchemaToJson(const DeltaSchema& schema, std::string_view base = {});
Result<DeltaSchema> SchemaFromJson(std::string_view text);
// The keys of every field's metadata in a schemaString, sorted, once each.
std::vector<std::string> FieldMetadataKeys(std::string_view schema_string);

using PartitionValues = std::map<std::string, std::optional<std::string>>;

// The protocol action. The feature lists exist only at reader version 3 / writer version 7 (table
// features) and are written exactly then.
struct Protocol {
  int min_reader_version = 1;
  int min_writer_version = 2;
  std::vector<std::string> reader_features;
  std::vector<std::string> writer_features;
  bool operator==(const Protocol&) const = default;
};

struct Metadata {
  std::string id;  // a UUID, fixed for the table's life
  std::string name;
  DeltaSchema schema;
  std::vector<std::string> partition_columns;
  std::map<std::string, std::string> configuration;
  int64_t created_time_ms = 0;
  // The schemaString as read (field metadata included: constraints, defaults, column mapping…).
  // When writing, fields of `schema` that it has keep their JSON; new ones are appended. Empty for
  // a table this writer creates.
  std::string schema_string;
  // Keys of any field's metadata in schema_string ("delta.generationExpression", …), for the
  // protocol checks (lake/delta_features.h).
  std::vector<std::string> field_metadata_keys;
  // Fields of the action this reader does not interpret (description, format options…), as a JSON
  // object text, written back unchanged; empty if none.
  std::string extra;
};

// A deletion vector descriptor (add.deletionVector): the rows of the file that are deleted. Storage
// type 'u' (a file next to the data, named by a Z85-coded UUID), 'p' (an absolute path) or 'i'
// (inline, Z85-coded bitmap).
struct DeletionVector {
  std::string storage_type;
  std::string path_or_inline_dv;
  std::optional<int32_t> offset;
  int32_t size_in_bytes = 0;
  int64_t cardinality = 0;  // number of deleted rows
  bool operator==(const DeletionVector&) const = default;
};

struct AddFile {
  std::string path;  // decoded, relative to the table root
  PartitionValues partition_values;
  int64_t size = 0;
  int64_t modification_time_ms = 0;
  bool data_change = true;
  std::string stats;  // the stats JSON text ({"numRecords":…}), or empty
  std::optional<DeletionVector> deletion_vector;
  // The other fields of the action (tags, baseRowId, defaultRowCommitVersion,
  // clusteringProvider…) as a JSON object text, carried unchanged through rewrites of the action
  // and checkpoints; empty if none.
  std::string extra;
  // numRecords parsed from stats (the rows in the Parquet file, deleted ones included); -1 if
  // unknown.
  int64_t NumRecords() const;
  // The rows a reader sees: NumRecords() less the deletion vector's cardinality; -1 if unknown.
  int64_t LiveRecords() const;
};

struct RemoveFile {
  std::string path;
  int64_t deletion_timestamp_ms = 0;
  bool data_change = true;
  PartitionValues partition_values;
  int64_t size = 0;
  std::optional<DeletionVector> deletion_vector;
  std::string extra;  // as AddFile::extra
};

struct Txn {
  std::string app_id;
  int64_t version = 0;
  int64_t last_updated_ms = 0;
};

struct CommitInfo {
  int64_t timestamp_ms = 0;
  std::string operation;  // "CREATE TABLE", "STREAMING UPDATE", "OPTIMIZE", ...
  std::map<std::string, std::string> operation_parameters;
  bool is_blind_append = false;
  std::string engine_info = "smartcity/0.1.0";
  std::string txn_id;  // a UUID per commit attempt
};

// The actions of one commit, in the order they are written.
struct CommitActions {
  std::optional<CommitInfo> commit_info;
  std::optional<Protocol> protocol;
  std::optional<Metadata> metadata;
  std::vector<Txn> txns;
  std::vector<AddFile> adds;
  std::vector<RemoveFile> removes;
};

// Newline-delimited JSON, one action per line.
std::string SerializeCommit(const CommitActions& c);
// Parses a commit; unknown actions and fields are ignored, as the protocol asks of readers.
Result<CommitActions> ParseCommit(std::string_view ndjson);

// RFC 2396 escaping of a relative path for add/remove `path` (keeps unreserved characters and '/').
std::string EncodePath(std::string_view path);
Result<std::string> DecodePath(std::string_view uri);
// Hive-style escaping of one partition value for its folder name ("a:b" -> "a%3Ab");
// null -> "__HIVE_DEFAULT_PARTITION__".
std::string EscapePartitionValue(const std::optional<std::string>& value);

// A random (version 4) UUID.
std::string NewUuid();
int64_t NowMillis();

// The table as of one version.
struct Snapshot {
  int64_t version = -1;  // -1: no commit yet (the table does not exist)
  Protocol protocol;
  Metadata metadata;
  std::map<std::string, AddFile> files;        // active files by path
  std::map<std::string, int64_t> app_txns;     // appId -> latest txn version
  std::map<std::string, int64_t> txn_updated;  // appId -> lastUpdated ms
  int64_t files_with_deletion_vectors = 0;     // active files that have one

  bool exists() const { return version >= 0; }
  // Latest txn version of app_id, if any.
  std::optional<int64_t> TxnVersion(const std::string& app_id) const;
  int64_t NumRecords() const;  // sum of LiveRecords over active files (-1 counts as 0)
  // Applies one commit (the next version).
  void Apply(const CommitActions& c, int64_t version);
};

// What a caller does with a table; decides which protocols and features it can handle
// (lake/delta_features.h).
enum class TableAccess {
  kRead,     // reads the data files as plain Parquet (sql, load, serve): no deletion vectors
  kInspect,  // reads only the log (crawl): schema, partitions, file and row counts
  kWrite,    // commits to the table (stream, compaction, vacuum, log clean-up)
};

class DeltaLog {
 public:
  // `table_prefix`: the table's root key without trailing '/', e.g. "lake/vehicle_data" ("" = store
  // root). `access`: what the caller does with the table; Load and Update refuse (kInvalidArgument,
  // one sentence) a table whose protocol asks for more than that access supports
  // (lake/delta_features.h).
  DeltaLog(ObjectStore* store, std::string table_prefix, TableAccess access = TableAccess::kRead);

  const std::string& table_prefix() const { return prefix_; }
  // "<prefix>/" or "" — prepend to a table-relative path to get the object key.
  std::string KeyPrefix() const { return prefix_.empty() ? std::string() : prefix_ + "/"; }
  std::string CommitKey(int64_t version) const;
  std::string CheckpointKey(int64_t version) const;
  std::string LastCheckpointKey() const;

  // The latest snapshot: from the newest checkpoint (if `conn` is given and one exists: the one
  // _last_checkpoint names, else the newest listed one) plus the JSON commits after it; version -1
  // if the table has no log. kCorruption if the log has a gap or a commit does not parse, or if it
  // has been cleaned up (it no longer starts at version 0) and no checkpoint could be read.
  Result<Snapshot> Load(engine::Connection* conn = nullptr);
  // Brings `snap` up to date by reading commits snap->version+1, +2, … until one is missing. Cheap
  // when nothing changed (one Get and one Head). Returns how many commits were applied. If log
  // clean-up has deleted the commits after `snap` (it sat unused longer than the log retention),
  // it loads the table again through `conn`, or without one fails with kNotFound.
  Result<int> Update(Snapshot* snap, engine::Connection* conn = nullptr);
  Result<CommitActions> ReadCommit(int64_t version);
  // Writes commit `version` only if absent: kAlreadyExists when another writer committed it first.
  Status WriteCommit(int64_t version, const CommitActions& c);

  TableAccess access() const { return access_; }

  // Writes a V1 Parquet checkpoint of `snap` (through DuckDB: `conn`) and then `_last_checkpoint`.
  // The protocol keeps its feature lists and every add keeps its deletion vector, tags, row ids and
  // clustering provider; an add carrying a field the checkpoint schema lacks is refused
  // (kInvalidArgument, nothing written) rather than dropped.
  // `scratch_dir` holds the temporary local files.
  Status WriteCheckpoint(const Snapshot& snap, engine::Connection* conn,
                         const std::string& scratch_dir);

 private:
  Result<std::optional<int64_t>> ReadLastCheckpoint();
  Result<Snapshot> ReadCheckpoint(int64_t version, engine::Connection* conn);

  ObjectStore* store_;
  std::string prefix_;
  TableAccess access_;
};

}  // namespace smartcity::lake
