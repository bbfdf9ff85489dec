#include "lake/iceberg.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "lake/avro_file.h"

namespace smartcity::lake {

using nlohmann::json;

namespace {

constexpr int kFirstPartitionFieldId = 1000;
constexpr int kMaxCommitAttempts = 20;
constexpr int kManifestContentData = 0;

std::string Key(const std::string& prefix, std::string_view rel) {
  return prefix.empty() ? std::string(rel) : prefix + "/" + std::string(rel);
}
std::string MetadataKey(const std::string& prefix, std::string_view name) {
  return Key(prefix, fmt::format("{}/{}", kIcebergMetadataDir, name));
}
std::string VersionKey(const std::string& prefix, int64_t n) {
  return MetadataKey(prefix, fmt::format("v{}.metadata.json", n));
}
// The URI readers find an object at: an absolute local path as file://…, s3://… on S3, the key
// itself for a store readers cannot reach (in memory).
std::string Uri(const ObjectStore& store, const std::string& key) {
  std::string uri = store.ReaderUri(key);
  if (uri.empty()) return key;
  if (uri[0] == '/') uri = "file://" + uri;
  return uri;
}
// The key of a metadata file named by its URI (all of them live in metadata/).
std::string KeyOfMetadataUri(const std::string& prefix, const std::string& uri) {
  return MetadataKey(prefix, uri.substr(uri.rfind('/') + 1));
}

json Optional(const json& type) {
  return json::array({"null", type});
}
json Field(std::string_view name, const json& type, int id, bool optional = false) {
  json f = {{"name", name}, {"type", optional ? Optional(type) : type}, {"field-id", id}};
  if (optional) f["default"] = nullptr;
  return f;
}

struct PartitionColumn {
  std::string name;
  LogicalType type = LogicalType::kString;
  int source_id = 0;
  int field_id = 0;
};

Result<std::vector<PartitionColumn>> PartitionColumnsOf(const Metadata& m) {
  std::vector<PartitionColumn> out;
  const auto fields = IcebergFieldsOf(m.schema, m.partition_columns);
  for (size_t i = 0; i < m.partition_columns.size(); ++i) {
    const std::string& name = m.partition_columns[i];
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const IcebergField& f) { return f.name == name; });
    if (it == fields.end()) {
      return Status::InvalidArgument(
          fmt::format("partition column {} is not in the table schema", name));
    }
    if (it->type == LogicalType::kDouble || it->type == LogicalType::kTimestamp) {
      return Status::InvalidArgument(
          fmt::format("partition column {} of type {} has no Iceberg identity form", name,
                      LogicalTypeName(it->type)));
    }
    out.push_back({name, it->type, it->id, kFirstPartitionFieldId + static_cast<int>(i)});
  }
  return out;
}

json AvroTypeOf(LogicalType t) {
  switch (t) {
    case LogicalType::kInt32:
      return "int";
    case LogicalType::kInt64:
      return "long";
    case LogicalType::kBool:
      return "boolean";
    case LogicalType::kDate:
      return {{"type", "int"}, {"logicalType", "date"}};
    default:
      return "string";
  }
}

// Days since 1970-01-01 of "YYYY-MM-DD".
Result<int32_t> ParseDays(const std::string& s) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (std::sscanf(s.c_str(), "%d-%u-%u", &y, &m, &d) != 3) {
    return Status::InvalidArgument("not a date: " + s);
  }
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m),
                                        std::chrono::day(d)};
  if (!ymd.ok()) return Status::InvalidArgument("not a date: " + s);
  return static_cast<int32_t>(std::chrono::sys_days(ymd).time_since_epoch().count());
}

// A Delta partition value (string form) as the Avro partition tuple's value.
Result<json> PartitionValueOf(const PartitionColumn& c, const std::optional<std::string>& v) {
  if (!v) return json();
  try {
    switch (c.type) {
      case LogicalType::kInt32:
      case LogicalType::kInt64:
        return json(std::stoll(*v));
      case LogicalType::kBool:
        return json(*v == "true");
      case LogicalType::kDate: {
        SC_ASSIGN_OR_RETURN(int32_t days, ParseDays(*v));
        return json(days);
      }
      default:
        return json(*v);
    }
  } catch (const std::exception&) {
    return Status::InvalidArgument(fmt::format("partition value {} of column {} is not a {}", *v,
                                               c.name, LogicalTypeName(c.type)));
  }
}

// Iceberg's single-value binary form of a partition value (manifest list bounds).
std::string SingleValueBytes(LogicalType t, const json& v) {
  std::string out;
  auto le = [&out](uint64_t x, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
  };
  switch (t) {
    case LogicalType::kInt32:
    case LogicalType::kDate:
      le(static_cast<uint32_t>(v.get<int32_t>()), 4);
      break;
    case LogicalType::kInt64:
      le(static_cast<uint64_t>(v.get<int64_t>()), 8);
      break;
    case LogicalType::kBool:
      out.push_back(v.get<bool>() ? '\1' : '\0');
      break;
    default:
      out = v.get<std::string>();
  }
  return out;
}

std::string ManifestEntrySchema(const std::vector<PartitionColumn>& partition) {
  json pfields = json::array();
  for (const PartitionColumn& c : partition)
    pfields.push_back(Field(c.name, AvroTypeOf(c.type), c.field_id, true));
  const json data_file = {
      {"type", "record"},
      {"name", "r2"},
      {"fields",
       json::array(
           {Field("content", "int", 134), Field("file_path", "string", 100),
            Field("file_format", "string", 101),
            Field("partition", {{"type", "record"}, {"name", "r102"}, {"fields", pfields}}, 102),
            Field("record_count", "long", 103), Field("file_size_in_bytes", "long", 104),
            Field("sort_order_id", "int", 140, true)})}};
  const json entry = {
      {"type", "record"},
      {"name", "manifest_entry"},
      {"fields", json::array({Field("status", "int", 0), Field("snapshot_id", "long", 1, true),
                              Field("sequence_number", "long", 3, true),
                              Field("file_sequence_number", "long", 4, true),
                              Field("data_file", data_file, 2)})}};
  return entry.dump();
}

std::string ManifestFileSchema() {
  const json summary = {{"type", "record"},
                        {"name", "r508"},
                        {"fields", json::array({Field("contains_null", "boolean", 509),
                                                Field("contains_nan", "boolean", 518, true),
                                                Field("lower_bound", "bytes", 510, true),
                                                Field("upper_bound", "bytes", 511, true)})}};
  const json file = {
      {"type", "record"},
      {"name", "manifest_file"},
      {"fields",
       json::array(
           {Field("manifest_path", "string", 500), Field("manifest_length", "long", 501),
            Field("partition_spec_id", "int", 502), Field("content", "int", 517),
            Field("sequence_number", "long", 515), Field("min_sequence_number", "long", 516),
            Field("added_snapshot_id", "long", 503), Field("added_files_count", "int", 504),
            Field("existing_files_count", "int", 505), Field("deleted_files_count", "int", 506),
            Field("added_rows_count", "long", 512), Field("existing_rows_count", "long", 513),
            Field("deleted_rows_count", "long", 514),
            Field("partitions", {{"type", "array"}, {"items", summary}, {"element-id", 508}}, 507,
                  true)})}};
  return file.dump();
}

json SchemaJson(const Metadata& m, int schema_id) {
  json fields = json::array();
  for (const IcebergField& f : IcebergFieldsOf(m.schema, m.partition_columns)) {
    fields.push_back({{"id", f.id},
                      {"name", f.name},
                      {"required", f.required},
                      {"type", std::string(IcebergTypeName(f.type))}});
  }
  return {{"type", "struct"}, {"schema-id", schema_id}, {"fields", fields}};
}

json PartitionSpecJson(const std::vector<PartitionColumn>& partition) {
  json fields = json::array();
  for (const PartitionColumn& c : partition) {
    fields.push_back({{"name", c.name},
                      {"transform", "identity"},
                      {"source-id", c.source_id},
                      {"field-id", c.field_id}});
  }
  return {{"spec-id", 0}, {"fields", fields}};
}

// schema.name-mapping.default: every field id to its column name (the data files have no ids).
std::string NameMapping(const DeltaSchema& schema) {
  json m = json::array();
  for (const IcebergField& f : IcebergFieldsOf(schema, {}))
    m.push_back({{"field-id", f.id}, {"names", json::array({f.name})}});
  return m.dump();
}

const json* CurrentSnapshot(const json& md) {
  auto id = md.find("current-snapshot-id");
  if (id == md.end() || id->is_null() || *id == -1) return nullptr;
  auto snapshots = md.find("snapshots");
  if (snapshots == md.end() || !snapshots->is_array()) return nullptr;
  for (const json& s : *snapshots) {
    if (s.value("snapshot-id", int64_t{-2}) == id->get<int64_t>()) return &s;
  }
  return nullptr;
}

// Where each data file (by URI) of the current snapshot was added: snapshot id and sequence
// numbers, inherited from its manifest where the entry leaves them out (status added).
struct Origin {
  int64_t snapshot_id = 0;
  int64_t sequence_number = 0;
  int64_t file_sequence_number = 0;
  int64_t records = 0;
  int64_t size = 0;
};

Result<std::map<std::string, Origin>> CurrentFiles(ObjectStore* store, const std::string& prefix,
                                                   const json& md) {
  std::map<std::string, Origin> out;
  const json* snap = CurrentSnapshot(md);
  if (snap == nullptr) return out;
  SC_ASSIGN_OR_RETURN(std::string list_bytes,
                      store->Get(KeyOfMetadataUri(prefix, snap->value("manifest-list", ""))));
  SC_ASSIGN_OR_RETURN(auto manifests, ReadIcebergManifestList(list_bytes));
  for (const IcebergManifest& m : manifests) {
    SC_ASSIGN_OR_RETURN(std::string bytes, store->Get(KeyOfMetadataUri(prefix, m.path)));
    SC_ASSIGN_OR_RETURN(auto entries, ReadIcebergManifest(bytes));
    for (const IcebergDataFile& f : entries) {
      if (f.status == 2) continue;
      out[f.path] =
          Origin{f.snapshot_id.value_or(m.added_snapshot_id),
                 f.sequence_number.value_or(m.sequence_number),
                 f.file_sequence_number.value_or(m.sequence_number), f.record_count, f.file_size};
    }
  }
  return out;
}

}  // namespace

std::string_view IcebergTypeName(LogicalType t) {
  switch (t) {
    case LogicalType::kString:
      return "string";
    case LogicalType::kInt32:
      return "int";
    case LogicalType::kInt64:
      return "long";
    case LogicalType::kDouble:
      return "double";
    case LogicalType::kTimestamp:
      return "timestamptz";
    case LogicalType::kBool:
      return "boolean";
    case LogicalType::kDate:
      return "date";
  }
  return "string";
}

std::vector<IcebergField> IcebergFieldsOf(const DeltaSchema& schema,
                                          const std::vector<std::string>& partition_columns) {
  std::vector<IcebergField> out;
  out.reserve(schema.fields.size());
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    const DeltaField& f = schema.fields[i];
    const bool partition = std::find(partition_columns.begin(), partition_columns.end(), f.name) !=
                           partition_columns.end();
    out.push_back({static_cast<int>(i) + 1, f.name, f.type, !f.nullable && !partition});
  }
  return out;
}

std::vector<engine::ParquetFieldId> ParquetFieldIdsOf(const DeltaSchema& schema,
                                                      std::span<const std::string> columns) {
  std::vector<engine::ParquetFieldId> out;
  out.reserve(columns.size());
  for (const std::string& c : columns) {
    // The id IcebergFieldsOf gives the column (the partition flag does not change it).
    const int index = schema.IndexOf(c);
    if (index >= 0) out.push_back({c, index + 1});
  }
  return out;
}

Result<std::vector<IcebergDataFile>> ReadIcebergManifest(std::string_view avro) {
  SC_ASSIGN_OR_RETURN(AvroFile file, DecodeAvroFile(avro));
  std::vector<IcebergDataFile> out;
  try {
    for (const json& r : file.records) {
      IcebergDataFile f;
      f.status = r.at("status").get<int>();
      if (!r.at("snapshot_id").is_null()) f.snapshot_id = r["snapshot_id"].get<int64_t>();
      if (!r.at("sequence_number").is_null())
        f.sequence_number = r["sequence_number"].get<int64_t>();
      if (!r.at("file_sequence_number").is_null())
        f.file_sequence_number = r["file_sequence_number"].get<int64_t>();
      const json& d = r.at("data_file");
      f.path = d.at("file_path").get<std::string>();
      for (const auto& [k, v] : d.at("partition").items()) {
        if (v.is_null()) {
          f.partition[k] = std::nullopt;
        } else {
          f.partition[k] = v.is_string() ? v.get<std::string>() : v.dump();
        }
      }
      f.record_count = d.at("record_count").get<int64_t>();
      f.file_size = d.at("file_size_in_bytes").get<int64_t>();
      out.push_back(std::move(f));
    }
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("Iceberg manifest: ") + e.what());
  }
  return out;
}

Result<std::vector<IcebergManifest>> ReadIcebergManifestList(std::string_view avro) {
  SC_ASSIGN_OR_RETURN(AvroFile file, DecodeAvroFile(avro));
  std::vector<IcebergManifest> out;
  try {
    for (const json& r : file.records) {
      IcebergManifest m;
      m.path = r.at("manifest_path").get<std::string>();
      m.length = r.at("manifest_length").get<int64_t>();
      m.sequence_number = r.at("sequence_number").get<int64_t>();
      m.added_snapshot_id = r.at("added_snapshot_id").get<int64_t>();
      m.added_files = r.at("added_files_count").get<int32_t>();
      m.existing_files = r.at("existing_files_count").get<int32_t>();
      m.added_rows = r.at("added_rows_count").get<int64_t>();
      m.existing_rows = r.at("existing_rows_count").get<int64_t>();
      out.push_back(std::move(m));
    }
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("Iceberg manifest list: ") + e.what());
  }
  return out;
}

Result<IcebergState> LoadIcebergState(ObjectStore* store, const std::string& table_prefix) {
  IcebergState st;
  int64_t n = 0;
  auto hint = store->Get(MetadataKey(table_prefix, kIcebergVersionHint));
  if (hint.ok()) {
    try {
      n = std::stoll(*hint);
    } catch (const std::exception&) {
      n = 0;  // a damaged hint: probe from the start
    }
  } else if (hint.status().kind() != ErrorKind::kNotFound) {
    return hint.status();
  }
  // The hint may lag (a writer died before updating it, or two writers updated it out of order).
  for (;;) {
    auto next = store->Head(VersionKey(table_prefix, n + 1));
    if (next.ok()) {
      ++n;
      continue;
    }
    if (next.status().kind() != ErrorKind::kNotFound) return next.status();
    break;
  }
  if (n == 0) return st;
  st.metadata_version = n;
  st.metadata_key = VersionKey(table_prefix, n);
  SC_ASSIGN_OR_RETURN(st.metadata_json, store->Get(st.metadata_key));
  json md = json::parse(st.metadata_json, nullptr, false);
  if (md.is_discarded() || !md.is_object()) {
    return Status::Corruption(fmt::format("{} is not JSON", st.metadata_key));
  }
  if (const json* s = CurrentSnapshot(md)) {
    const json summary = s->value("summary", json::object());
    auto it = summary.find(kIcebergDeltaVersionKey);
    if (it != summary.end() && it->is_string())
      st.delta_version = std::stoll(it->get<std::string>());
  }
  return st;
}

Result<std::vector<ObjectInfo>> UnreferencedIcebergFiles(ObjectStore* store,
                                                         const std::string& table_prefix) {
  std::vector<ObjectInfo> out;
  SC_ASSIGN_OR_RETURN(IcebergState st, LoadIcebergState(store, table_prefix));
  if (st.metadata_version == 0) return out;
  const json md = json::parse(st.metadata_json, nullptr, false);
  if (md.is_discarded()) return Status::Corruption(st.metadata_key + " is not JSON");
  std::set<std::string> keep = {st.metadata_key, MetadataKey(table_prefix, kIcebergVersionHint)};
  for (const json& m : md.value("metadata-log", json::array()))
    keep.insert(KeyOfMetadataUri(table_prefix, m.value("metadata-file", "")));
  for (const json& s : md.value("snapshots", json::array())) {
    const std::string list_key = KeyOfMetadataUri(table_prefix, s.value("manifest-list", ""));
    keep.insert(list_key);
    SC_ASSIGN_OR_RETURN(std::string list_bytes, store->Get(list_key));
    SC_ASSIGN_OR_RETURN(auto manifests, ReadIcebergManifestList(list_bytes));
    for (const IcebergManifest& m : manifests) keep.insert(KeyOfMetadataUri(table_prefix, m.path));
  }
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store->List(MetadataKey(table_prefix, "")));
  for (ObjectInfo& o : objects) {
    if (keep.count(o.key) == 0) out.push_back(std::move(o));
  }
  return out;
}

Result<bool> HasIcebergMetadata(ObjectStore* store, const std::string& table_prefix) {
  auto h = store->Head(MetadataKey(table_prefix, kIcebergVersionHint));
  if (h.ok()) return true;
  if (h.status().kind() != ErrorKind::kNotFound) return h.status();
  auto v1 = store->Head(VersionKey(table_prefix, 1));
  if (v1.ok()) return true;
  if (v1.status().kind() != ErrorKind::kNotFound) return v1.status();
  return false;
}

Result<IcebergCommitResult> MirrorToIceberg(ObjectStore* store, const std::string& table_prefix,
                                            const Snapshot& snap) {
  const std::string& prefix = table_prefix;
  if (!snap.exists()) return Status::InvalidArgument("no Delta version to mirror to Iceberg");
  if (snap.files_with_deletion_vectors > 0) {
    return Status::InvalidArgument(fmt::format(
        "table {} has files with deletion vectors, which its Iceberg metadata cannot describe",
        prefix));
  }
  SC_ASSIGN_OR_RETURN(const auto partition, PartitionColumnsOf(snap.metadata));
  const std::string entry_schema = ManifestEntrySchema(partition);
  const std::string data_prefix = prefix.empty() ? std::string() : prefix + "/";

  IcebergCommitResult result;
  for (int attempt = 1; attempt <= kMaxCommitAttempts; ++attempt) {
    result.attempts = attempt;
    SC_ASSIGN_OR_RETURN(IcebergState st, LoadIcebergState(store, prefix));
    if (st.delta_version >= snap.version) {
      result.written = false;
      result.metadata_version = st.metadata_version;
      result.delta_version = st.delta_version;
      return result;
    }
    json md = st.metadata_version > 0 ? json::parse(st.metadata_json) : json::object();
    std::map<std::string, Origin> before;
    if (st.metadata_version > 0) {
      SC_ASSIGN_OR_RETURN(before, CurrentFiles(store, prefix, md));
    }

    const int64_t now = NowMillis();
    const int64_t seq = md.value("last-sequence-number", int64_t{0}) + 1;
    // Snapshot ids: Delta version + 1 (positive, unique per table, and the reader can tell which
    // Delta version a snapshot mirrors from its id alone).
    const int64_t snapshot_id = snap.version + 1;
    const json* parent = CurrentSnapshot(md);

    // The manifest: every live file; those already in the previous snapshot keep where they were
    // added (status existing), the others are added by this snapshot.
    AvroFile manifest;
    manifest.schema_json = entry_schema;
    int added = 0;
    int existing = 0;
    int64_t added_rows = 0;
    int64_t existing_rows = 0;
    int64_t total_size = 0;
    int64_t added_size = 0;
    std::set<std::string> live;
    std::vector<json> lower(partition.size());
    std::vector<json> upper(partition.size());
    std::vector<bool> has_null(partition.size(), false);
    for (const auto& [path, f] : snap.files) {
      const int64_t records = f.NumRecords();
      if (records < 0) {
        return Status::InvalidArgument(fmt::format(
            "data file {} of table {} has no record count (numRecords) in the Delta log, which "
            "Iceberg metadata needs",
            path, prefix));
      }
      const std::string uri = Uri(*store, data_prefix + path);
      live.insert(uri);
      json tuple = json::object();
      for (size_t i = 0; i < partition.size(); ++i) {
        auto it = f.partition_values.find(partition[i].name);
        std::optional<std::string> v = it == f.partition_values.end() ? std::nullopt : it->second;
        SC_ASSIGN_OR_RETURN(json pv, PartitionValueOf(partition[i], v));
        if (pv.is_null()) {
          has_null[i] = true;
        } else {
          if (lower[i].is_null() || pv < lower[i]) lower[i] = pv;
          if (upper[i].is_null() || upper[i] < pv) upper[i] = pv;
        }
        tuple[partition[i].name] = pv;
      }
      json entry = {{"data_file",
                     {{"content", 0},
                      {"file_path", uri},
                      {"file_format", "PARQUET"},
                      {"partition", tuple},
                      {"record_count", records},
                      {"file_size_in_bytes", f.size}}}};
      auto was = before.find(uri);
      if (was == before.end()) {
        entry["status"] = 1;  // added: snapshot id and sequence numbers inherited
        ++added;
        added_rows += records;
        added_size += f.size;
      } else {
        entry["status"] = 0;
        entry["snapshot_id"] = was->second.snapshot_id;
        entry["sequence_number"] = was->second.sequence_number;
        entry["file_sequence_number"] = was->second.file_sequence_number;
        ++existing;
        existing_rows += records;
      }
      total_size += f.size;
      manifest.records.push_back(std::move(entry));
    }
    int removed = 0;
    int64_t removed_rows = 0;
    int64_t removed_size = 0;
    for (const auto& [uri, o] : before) {
      if (live.count(uri) != 0) continue;
      ++removed;
      removed_rows += o.records;
      removed_size += o.size;
    }

    // Schemas: the current one, appended when the Delta schema grew.
    const json schema_now = SchemaJson(snap.metadata, 0);
    json schemas = md.value("schemas", json::array());
    int schema_id = 0;
    if (schemas.empty() || schemas.back()["fields"] != schema_now["fields"]) {
      schema_id = schemas.empty() ? 0 : schemas.back().value("schema-id", 0) + 1;
      json s = schema_now;
      s["schema-id"] = schema_id;
      schemas.push_back(s);
    } else {
      schema_id = schemas.back().value("schema-id", 0);
    }
    const json spec = PartitionSpecJson(partition);
    manifest.meta = {{"schema", schemas.back().dump()},
                     {"schema-id", std::to_string(schema_id)},
                     {"partition-spec", spec["fields"].dump()},
                     {"partition-spec-id", "0"},
                     {"format-version", "2"},
                     {"content", "data"}};
    SC_ASSIGN_OR_RETURN(std::string manifest_bytes, EncodeAvroFile(manifest));
    const std::string uuid = NewUuid();
    const std::string manifest_key = MetadataKey(prefix, fmt::format("{}-m0.avro", uuid));
    SC_RETURN_IF_ERROR(store->Put(manifest_key, manifest_bytes));

    json summaries = json::array();
    for (size_t i = 0; i < partition.size(); ++i) {
      json s = {{"contains_null", has_null[i]}};
      if (!lower[i].is_null()) {
        s["lower_bound"] = SingleValueBytes(partition[i].type, lower[i]);
        s["upper_bound"] = SingleValueBytes(partition[i].type, upper[i]);
      }
      summaries.push_back(s);
    }
    AvroFile list;
    list.schema_json = ManifestFileSchema();
    list.meta = {{"snapshot-id", std::to_string(snapshot_id)},
                 {"parent-snapshot-id",
                  parent ? std::to_string(parent->value("snapshot-id", int64_t{0})) : "null"},
                 {"sequence-number", std::to_string(seq)},
                 {"format-version", "2"}};
    list.records.push_back({{"manifest_path", Uri(*store, manifest_key)},
                            {"manifest_length", static_cast<int64_t>(manifest_bytes.size())},
                            {"partition_spec_id", 0},
                            {"content", kManifestContentData},
                            {"sequence_number", seq},
                            {"min_sequence_number", seq},
                            {"added_snapshot_id", snapshot_id},
                            {"added_files_count", added},
                            {"existing_files_count", existing},
                            {"deleted_files_count", 0},
                            {"added_rows_count", added_rows},
                            {"existing_rows_count", existing_rows},
                            {"deleted_rows_count", 0},
                            {"partitions", summaries}});
    SC_ASSIGN_OR_RETURN(std::string list_bytes, EncodeAvroFile(list));
    const std::string list_key =
        MetadataKey(prefix, fmt::format("snap-{}-1-{}.avro", snapshot_id, uuid));
    SC_RETURN_IF_ERROR(store->Put(list_key, list_bytes));

    const char* operation = "append";
    if (removed > 0) {
      operation = added == 0 ? "delete" : (added_rows == removed_rows ? "replace" : "overwrite");
    }
    json summary = {{"operation", operation},
                    {"added-data-files", std::to_string(added)},
                    {"deleted-data-files", std::to_string(removed)},
                    {"added-records", std::to_string(added_rows)},
                    {"deleted-records", std::to_string(removed_rows)},
                    {"added-files-size", std::to_string(added_size)},
                    {"removed-files-size", std::to_string(removed_size)},
                    {"total-data-files", std::to_string(added + existing)},
                    {"total-records", std::to_string(added_rows + existing_rows)},
                    {"total-files-size", std::to_string(total_size)},
                    {"total-delete-files", "0"},
                    {"total-position-deletes", "0"},
                    {"total-equality-deletes", "0"},
                    {std::string(kIcebergDeltaVersionKey), std::to_string(snap.version)}};
    json snapshot = {{"snapshot-id", snapshot_id}, {"sequence-number", seq},
                     {"timestamp-ms", now},        {"manifest-list", Uri(*store, list_key)},
                     {"summary", summary},         {"schema-id", schema_id}};
    if (parent) snapshot["parent-snapshot-id"] = parent->value("snapshot-id", int64_t{0});

    json snapshots = md.value("snapshots", json::array());
    snapshots.push_back(snapshot);
    json snapshot_log = md.value("snapshot-log", json::array());
    snapshot_log.push_back({{"snapshot-id", snapshot_id}, {"timestamp-ms", now}});
    json metadata_log = md.value("metadata-log", json::array());
    if (st.metadata_version > 0) {
      metadata_log.push_back({{"metadata-file", Uri(*store, st.metadata_key)},
                              {"timestamp-ms", md.value("last-updated-ms", now)}});
    }
    auto keep_last = [](json* a, size_t n) {
      if (a->size() > n) a->erase(a->begin(), a->end() - static_cast<std::ptrdiff_t>(n));
    };
    keep_last(&snapshots, kIcebergSnapshotsKept);
    keep_last(&snapshot_log, kIcebergSnapshotsKept);
    keep_last(&metadata_log, kIcebergSnapshotsKept);

    json properties = md.value("properties", json::object());
    properties["schema.name-mapping.default"] = NameMapping(snap.metadata.schema);
    properties["write.parquet.compression-codec"] = "zstd";
    const int last_column_id = std::max(md.value("last-column-id", 0),
                                        static_cast<int>(snap.metadata.schema.fields.size()));
    json next = {{"format-version", 2},
                 {"table-uuid", md.value("table-uuid", snap.metadata.id)},
                 {"location", Uri(*store, prefix)},
                 {"last-sequence-number", seq},
                 {"last-updated-ms", now},
                 {"last-column-id", last_column_id},
                 {"current-schema-id", schema_id},
                 {"schemas", schemas},
                 {"default-spec-id", 0},
                 {"partition-specs", json::array({spec})},
                 {"last-partition-id",
                  partition.empty() ? kFirstPartitionFieldId - 1 : partition.back().field_id},
                 {"default-sort-order-id", 0},
                 {"sort-orders", json::array({{{"order-id", 0}, {"fields", json::array()}}})},
                 {"properties", properties},
                 {"current-snapshot-id", snapshot_id},
                 {"refs", {{"main", {{"snapshot-id", snapshot_id}, {"type", "branch"}}}}},
                 {"snapshots", snapshots},
                 {"snapshot-log", snapshot_log},
                 {"metadata-log", metadata_log}};

    const int64_t n = st.metadata_version + 1;
    Status put = store->PutIfAbsent(VersionKey(prefix, n), next.dump());
    if (put.kind() == ErrorKind::kAlreadyExists) {
      // Another writer committed metadata version n first: ours is not referenced by anything.
      (void)store->Delete(list_key);
      (void)store->Delete(manifest_key);
      continue;
    }
    SC_RETURN_IF_ERROR(put.WithContext(fmt::format("committing Iceberg metadata of {}", prefix)));
    SC_RETURN_IF_ERROR(
        store->Put(MetadataKey(prefix, kIcebergVersionHint), std::to_string(n))
            .WithContext(fmt::format("writing the Iceberg version hint of {}", prefix)));
    result.written = true;
    result.metadata_version = n;
    result.delta_version = snap.version;
    result.snapshot_id = snapshot_id;
    result.files_added = added;
    result.files_removed = removed;
    result.records_added = added_rows;
    result.records_removed = removed_rows;
    return result;
  }
  return Status::Unavailable(
      fmt::format("the Iceberg metadata of {} lost the commit race {} times in a row", prefix,
                  kMaxCommitAttempts));
}

}  // namespace smartcity::lake
