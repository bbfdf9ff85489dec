#include "lake/delta_log.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "engine/engine.h"
#include "lake/delta_features.h"

namespace smartcity::lake {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

// ------------------------------------------------------------------------------------------ types

std::string_view DeltaTypeName(LogicalType t) {
  switch (t) {
    case LogicalType::kString:
      return "string";
    case LogicalType::kInt32:
      return "integer";
    case LogicalType::kInt64:
      return "long";
    case LogicalType::kDouble:
      return "double";
    case LogicalType::kTimestamp:
      return "timestamp";
    case LogicalType::kBool:
      return "boolean";
    case LogicalType::kDate:
      return "date";
  }
  return "string";
}

Result<LogicalType> ParseDeltaType(std::string_view name) {
  for (LogicalType t : kAllLogicalTypes) {
    if (DeltaTypeName(t) == name) return t;
  }
  return Status::InvalidArgument(
      fmt::format("Delta type \"{}\" is not supported by this lake (supported: string, integer, "
                  "long, double, timestamp, "
                  "boolean, date)",
                  name));
}

int DeltaSchema::IndexOf(std::string_view name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string SchemaToJson(const DeltaSchema& schema, std::string_view base) {
  // The fields of `base` by name, kept as they are (with their metadata) where `schema` agrees.
  std::map<std::string, ojson> kept;
  if (!base.empty()) {
    ojson b = ojson::parse(base, nullptr, false);
    if (!b.is_discarded() && b.is_object() && b.contains("fields") && b["fields"].is_array()) {
      for (const ojson& f : b["fields"]) {
        if (f.is_object() && f.contains("name") && f["name"].is_string()) {
          kept[f["name"].get<std::string>()] = f;
        }
      }
    }
  }
  ojson fields = ojson::array();
  for (const DeltaField& f : schema.fields) {
    auto it = kept.find(f.name);
    if (it != kept.end() &&
        it->second.value("type", ojson()) == std::string(DeltaTypeName(f.type)) &&
        it->second.value("nullable", true) == f.nullable) {
      fields.push_back(it->second);
      continue;
    }
    fields.push_back(ojson{{"name", f.name},
                           {"type", std::string(DeltaTypeName(f.type))},
                           {"nullable", f.nullable},
                           {"metadata", ojson::object()}});
  }
  return ojson{{"type", "struct"}, {"fields", std::move(fields)}}.dump();
}

std::vector<std::string> FieldMetadataKeys(std::string_view schema_string) {
  std::set<std::string> keys;
  json j = json::parse(schema_string, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("fields") && j["fields"].is_array()) {
    for (const json& f : j["fields"]) {
      if (!f.is_object() || !f.contains("metadata") || !f["metadata"].is_object()) continue;
      for (auto it = f["metadata"].begin(); it != f["metadata"].end(); ++it) keys.insert(it.key());
    }
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

Result<DeltaSchema> SchemaFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("type", "") != "struct" ||
      !j.contains("fields") || !j["fields"].is_array()) {
    return Status::Corruption("the table's schemaString is not a Spark StructType JSON");
  }
  DeltaSchema s;
  for (const json& f : j["fields"]) {
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string()) {
      return Status::Corruption("a field of the table's schemaString has no name");
    }
    DeltaField field;
    field.name = f["name"].get<std::string>();
    if (!f.contains("type") || !f["type"].is_string()) {
      return Status::InvalidArgument(
          fmt::format("column {} has a nested type, which this lake does not support", field.name));
    }
    SC_ASSIGN_OR_RETURN(field.type, ParseDeltaType(f["type"].get<std::string>()));
    field.nullable = f.value("nullable", true);
    s.fields.push_back(std::move(field));
  }
  return s;
}

// ------------------------------------------------------------------------------------ path coding

std::string EncodePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~' || c == '/' || c == '=';
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::string> DecodePath(std::string_view uri) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(uri.size());
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] != '%') {
      out += uri[i];
      continue;
    }
    int hi = i + 1 < uri.size() ? hex(uri[i + 1]) : -1;
    int lo = i + 2 < uri.size() ? hex(uri[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return Status::Corruption(fmt::format("bad %-escape in data file path {}", uri));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string EscapePartitionValue(const std::optional<std::string>& value) {
  if (!value.has_value() || value->empty()) return "__HIVE_DEFAULT_PARTITION__";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : *value) {
    // The characters Hive escapes in partition folder names.
    const bool escape = c < 0x20 || c == 0x7F || c == '"' || c == '#' || c == '%' || c == '\'' ||
                        c == '*' || c == '/' || c == ':' || c == '=' || c == '?' || c == '\\' ||
                        c == '{' || c == '[' || c == ']' || c == '^';
    if (escape) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 1
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                     b >> 48, b & 0xFFFFFFFFFFFFULL);
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ------------------------------------------------------------------------------------ actions JSON

namespace {

ojson PartitionValuesJson(const PartitionValues& pv) {
  ojson o = ojson::object();
  for (const auto& [k, v] : pv) {
    if (v.has_value()) {
      o[k] = *v;
    } else {
      o[k] = nullptr;
    }
  }
  return o;
}

Result<PartitionValues> ParsePartitionValues(const json& j) {
  PartitionValues pv;
  if (j.is_null()) return pv;
  if (!j.is_object()) return Status::Corruption("partitionValues is not an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_null() || (it->is_string() && it->get<std::string>().empty())) {
      pv[it.key()] = std::nullopt;
    } else if (it->is_string()) {
      pv[it.key()] = it->get<std::string>();
    } else {
      pv[it.key()] = it->dump();
    }
  }
  return pv;
}

template <typename T>
T Get(const json& o, const char* key, T fallback) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

ojson DeletionVectorJson(const DeletionVector& dv) {
  ojson o{{"storageType", dv.storage_type}, {"pathOrInlineDv", dv.path_or_inline_dv}};
  if (dv.offset) o["offset"] = *dv.offset;
  o["sizeInBytes"] = dv.size_in_bytes;
  o["cardinality"] = dv.cardinality;
  return o;
}

Result<std::optional<DeletionVector>> ParseDeletionVector(const json& a) {
  auto it = a.find("deletionVector");
  if (it == a.end() || it->is_null()) return std::optional<DeletionVector>();
  if (!it->is_object() || !it->contains("storageType") || !it->contains("pathOrInlineDv")) {
    return Status::Corruption("a deletionVector has no storageType or pathOrInlineDv");
  }
  DeletionVector dv;
  dv.storage_type = Get<std::string>(*it, "storageType", "");
  dv.path_or_inline_dv = Get<std::string>(*it, "pathOrInlineDv", "");
  if (it->contains("offset") && !(*it)["offset"].is_null()) {
    dv.offset = Get<int32_t>(*it, "offset", 0);
  }
  dv.size_in_bytes = Get<int32_t>(*it, "sizeInBytes", 0);
  dv.cardinality = Get<int64_t>(*it, "cardinality", 0);
  return std::optional<DeletionVector>(std::move(dv));
}

// Adds the fields of `extra` (a JSON object text) to `o`, after the ones it has.
void MergeExtra(const std::string& extra, ojson* o) {
  if (extra.empty()) return;
  ojson e = ojson::parse(extra, nullptr, false);
  if (e.is_discarded() || !e.is_object()) return;
  for (auto it = e.begin(); it != e.end(); ++it) {
    if (!o->contains(it.key())) (*o)[it.key()] = it.value();
  }
}

// The fields of action `a` not in `known`, as a JSON object text ("" if none). Null values and the
// checkpoint-only parsed forms (partitionValues_parsed, stats_parsed) are left out: they carry
// nothing a writer must keep.
std::string ExtraFields(const json& a, std::initializer_list<std::string_view> known) {
  json extra = json::object();
  for (auto it = a.begin(); it != a.end(); ++it) {
    const std::string& k = it.key();
    if (it->is_null() || k == "partitionValues_parsed" || k == "stats_parsed") continue;
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    extra[k] = it.value();
  }
  return extra.empty() ? std::string() : extra.dump();
}

}  // namespace

int64_t AddFile::NumRecords() const {
  if (stats.empty()) return -1;
  json j = json::parse(stats, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return -1;
  return Get<int64_t>(j, "numRecords", -1);
}

int64_t AddFile::LiveRecords() const {
  int64_t n = NumRecords();
  if (n < 0 || !deletion_vector) return n;
  return std::max<int64_t>(0, n - deletion_vector->cardinality);
}

std::string SerializeCommit(const CommitActions& c) {
  std::string out;
  auto line = [&out](const ojson& j) {
    out += j.dump();
    out += '\n';
  };
  if (c.commit_info) {
    const CommitInfo& ci = *c.commit_info;
    ojson params = ojson::object();
    for (const auto& [k, v] : ci.operation_parameters) params[k] = v;
    line(ojson{{"commitInfo",
                {{"timestamp", ci.timestamp_ms},
                 {"operation", ci.operation},
                 {"operationParameters", params},
                 {"isBlindAppend", ci.is_blind_append},
                 {"engineInfo", ci.engine_info},
                 {"txnId", ci.txn_id}}}});
  }
  if (c.protocol) {
    const Protocol& p = *c.protocol;
    ojson o{{"minReaderVersion", p.min_reader_version}, {"minWriterVersion", p.min_writer_version}};
    if (p.min_reader_version >= 3) o["readerFeatures"] = p.reader_features;
    if (p.min_writer_version >= 7) o["writerFeatures"] = p.writer_features;
    line(ojson{{"protocol", std::move(o)}});
  }
  if (c.metadata) {
    const Metadata& m = *c.metadata;
    ojson conf = ojson::object();
    for (const auto& [k, v] : m.configuration) conf[k] = v;
    ojson md{{"id", m.id}};
    if (!m.name.empty()) md["name"] = m.name;
    md["format"] = ojson{{"provider", "parquet"}, {"options", ojson::object()}};
    md["schemaString"] = SchemaToJson(m.schema, m.schema_string);
    md["partitionColumns"] = m.partition_columns;
    md["configuration"] = conf;
    md["createdTime"] = m.created_time_ms;
    MergeExtra(m.extra, &md);
    line(ojson{{"metaData", md}});
  }
  for (const Txn& t : c.txns) {
    line(
        ojson{{"txn",
               {{"appId", t.app_id}, {"version", t.version}, {"lastUpdated", t.last_updated_ms}}}});
  }
  for (const AddFile& a : c.adds) {
    ojson o{{"path", EncodePath(a.path)},
            {"partitionValues", PartitionValuesJson(a.partition_values)},
            {"size", a.size},
            {"modificationTime", a.modification_time_ms},
            {"dataChange", a.data_change}};
    if (!a.stats.empty()) o["stats"] = a.stats;
    if (a.deletion_vector) o["deletionVector"] = DeletionVectorJson(*a.deletion_vector);
    MergeExtra(a.extra, &o);
    line(ojson{{"add", o}});
  }
  for (const RemoveFile& r : c.removes) {
    ojson o{{"path", EncodePath(r.path)},
            {"deletionTimestamp", r.deletion_timestamp_ms},
            {"dataChange", r.data_change},
            {"extendedFileMetadata", true},
            {"partitionValues", PartitionValuesJson(r.partition_values)},
            {"size", r.size}};
    if (r.deletion_vector) o["deletionVector"] = DeletionVectorJson(*r.deletion_vector);
    MergeExtra(r.extra, &o);
    line(ojson{{"remove", o}});
  }
  return out;
}

namespace {

// Parses one action object (the value of one log line or one checkpoint row) into `c`.
Status ParseAction(const json& j, CommitActions* c) {
  if (!j.is_object()) return Status::Corruption("a Delta log line is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& kind = it.key();
    const json& a = it.value();
    if (a.is_null()) continue;
    if (!a.is_object())
      return Status::Corruption(fmt::format("Delta action {} is not an object", kind));
    if (kind == "add") {
      AddFile f;
      SC_ASSIGN_OR_RETURN(f.path, DecodePath(Get<std::string>(a, "path", "")));
      if (f.path.empty()) return Status::Corruption("an add action has no path");
      SC_ASSIGN_OR_RETURN(f.partition_values,
                          ParsePartitionValues(a.value("partitionValues", json())));
      f.size = Get<int64_t>(a, "size", 0);
      f.modification_time_ms = Get<int64_t>(a, "modificationTime", 0);
      f.data_change = Get<bool>(a, "dataChange", true);
      f.stats = Get<std::string>(a, "stats", "");
      SC_ASSIGN_OR_RETURN(f.deletion_vector, ParseDeletionVector(a));
      f.extra = ExtraFields(a, {"path", "partitionValues", "size", "modificationTime", "dataChange",
                                "stats", "deletionVector"});
      c->adds.push_back(std::move(f));
    } else if (kind == "remove") {
      RemoveFile f;
      SC_ASSIGN_OR_RETURN(f.path, DecodePath(Get<std::string>(a, "path", "")));
      if (f.path.empty()) return Status::Corruption("a remove action has no path");
      f.deletion_timestamp_ms = Get<int64_t>(a, "deletionTimestamp", 0);
      f.data_change = Get<bool>(a, "dataChange", true);
      SC_ASSIGN_OR_RETURN(f.partition_values,
                          ParsePartitionValues(a.value("partitionValues", json())));
      f.size = Get<int64_t>(a, "size", 0);
      SC_ASSIGN_OR_RETURN(f.deletion_vector, ParseDeletionVector(a));
      f.extra = ExtraFields(a, {"path", "deletionTimestamp", "dataChange", "extendedFileMetadata",
                                "partitionValues", "size", "deletionVector"});
      c->removes.push_back(std::move(f));
    } else if (kind == "txn") {
      Txn t;
      t.app_id = Get<std::string>(a, "appId", "");
      t.version = Get<int64_t>(a, "version", -1);
      t.last_updated_ms = Get<int64_t>(a, "lastUpdated", 0);
      c->txns.push_back(std::move(t));
    } else if (kind == "protocol") {
      Protocol p;
      p.min_reader_version = Get<int>(a, "minReaderVersion", 1);
      p.min_writer_version = Get<int>(a, "minWriterVersion", 2);
      p.reader_features = Get<std::vector<std::string>>(a, "readerFeatures", {});
      p.writer_features = Get<std::vector<std::string>>(a, "writerFeatures", {});
      c->protocol = std::move(p);
    } else if (kind == "metaData") {
      Metadata m;
      m.id = Get<std::string>(a, "id", "");
      m.name = Get<std::string>(a, "name", "");
      m.schema_string = Get<std::string>(a, "schemaString", "");
      SC_ASSIGN_OR_RETURN(m.schema, SchemaFromJson(m.schema_string));
      m.field_metadata_keys = FieldMetadataKeys(m.schema_string);
      m.partition_columns = Get<std::vector<std::string>>(a, "partitionColumns", {});
      auto conf = a.find("configuration");
      if (conf != a.end() && conf->is_object()) {
        for (auto ci = conf->begin(); ci != conf->end(); ++ci) {
          if (ci->is_string()) m.configuration[ci.key()] = ci->get<std::string>();
        }
      }
      m.created_time_ms = Get<int64_t>(a, "createdTime", 0);
      m.extra = ExtraFields(a, {"id", "name", "format", "schemaString", "partitionColumns",
                                "configuration", "createdTime"});
      c->metadata = std::move(m);
    } else if (kind == "commitInfo") {
      CommitInfo ci;
      ci.timestamp_ms = Get<int64_t>(a, "timestamp", 0);
      ci.operation = Get<std::string>(a, "operation", "");
      ci.is_blind_append = Get<bool>(a, "isBlindAppend", false);
      ci.engine_info = Get<std::string>(a, "engineInfo", "");
      ci.txn_id = Get<std::string>(a, "txnId", "");
      c->commit_info = std::move(ci);
    }
    // Other actions (cdc, domainMetadata, …) do not change what this reader needs.
  }
  return Status::OK();
}

}  // namespace

Result<CommitActions> ParseCommit(std::string_view ndjson) {
  CommitActions c;
  size_t start = 0;
  while (start < ndjson.size()) {
    size_t end = ndjson.find('\n', start);
    if (end == std::string_view::npos) end = ndjson.size();
    std::string_view line = ndjson.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) return Status::Corruption("a Delta log line is not valid JSON");
    SC_RETURN_IF_ERROR(ParseAction(j, &c));
  }
  return c;
}

// --------------------------------------------------------------------------------------- Snapshot

std::optional<int64_t> Snapshot::TxnVersion(const std::string& app_id) const {
  auto it = app_txns.find(app_id);
  if (it == app_txns.end()) return std::nullopt;
  return it->second;
}

int64_t Snapshot::NumRecords() const {
  int64_t n = 0;
  for (const auto& [path, f] : files) n += std::max<int64_t>(0, f.LiveRecords());
  return n;
}

void Snapshot::Apply(const CommitActions& c, int64_t v) {
  version = v;
  if (c.protocol) protocol = *c.protocol;
  if (c.metadata) metadata = *c.metadata;
  auto forget = [this](const std::string& path) {
    auto it = files.find(path);
    if (it == files.end()) return;
    if (it->second.deletion_vector) --files_with_deletion_vectors;
    files.erase(it);
  };
  for (const RemoveFile& r : c.removes) forget(r.path);
  for (const AddFile& a : c.adds) {
    forget(a.path);  // an add of an active path replaces it (e.g. with a new deletion vector)
    if (a.deletion_vector) ++files_with_deletion_vectors;
    files[a.path] = a;
  }
  for (const Txn& t : c.txns) {
    app_txns[t.app_id] = t.version;
    txn_updated[t.app_id] = t.last_updated_ms;
  }
}

// --------------------------------------------------------------------------------------- DeltaLog

DeltaLog::DeltaLog(ObjectStore* store, std::string table_prefix, TableAccess access)
    : store_(store), prefix_(std::move(table_prefix)), access_(access) {
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

std::string DeltaLog::CommitKey(int64_t version) const {
  return fmt::format("{}_delta_log/{:020d}.json", KeyPrefix(), version);
}

std::string DeltaLog::CheckpointKey(int64_t version) const {
  return fmt::format("{}_delta_log/{:020d}.checkpoint.parquet", KeyPrefix(), version);
}

std::string DeltaLog::LastCheckpointKey() const {
  return KeyPrefix() + "_delta_log/_last_checkpoint";
}

Result<CommitActions> DeltaLog::ReadCommit(int64_t version) {
  std::string key = CommitKey(version);
  SC_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
  auto c = ParseCommit(bytes);
  if (!c.ok())
    return c.status().WithContext(fmt::format("Delta commit {} in {}", key, store_->Describe()));
  return c;
}

Status DeltaLog::WriteCommit(int64_t version, const CommitActions& c) {
  return store_->PutIfAbsent(CommitKey(version), SerializeCommit(c));
}

Result<int> DeltaLog::Update(Snapshot* snap, engine::Connection* conn) {
  int applied = 0;
  while (true) {
    auto c = ReadCommit(snap->version + 1);
    if (!c.ok()) {
      if (c.status().kind() == ErrorKind::kNotFound) break;
      return c.status();
    }
    snap->Apply(*c, snap->version + 1);
    ++applied;
  }
  if (snap->exists()) {
    SC_RETURN_IF_ERROR(
        CheckProtocol(*snap, access_, prefix_.empty() ? store_->Describe() : prefix_));
  }
  if (applied > 0 || snap->version < 0) return applied;
  // Nothing after this version: either the table has not moved, or log clean-up has deleted the
  // commits after it (the table moved on past a checkpoint while this snapshot sat idle longer
  // than the log retention). Writing the "next" version then would resurrect a deleted one.
  auto head = store_->Head(CommitKey(snap->version));
  if (head.ok()) return applied;
  if (head.status().kind() != ErrorKind::kNotFound) return head.status();
  auto cp = store_->Head(CheckpointKey(snap->version));
  if (cp.ok()) return applied;
  if (cp.status().kind() != ErrorKind::kNotFound) return cp.status();
  if (conn == nullptr) {
    return Status::NotFound(
        fmt::format("version {} of the Delta table {} in {} is no longer in its log (cleaned up "
                    "after the log retention); load the table again",
                    snap->version, prefix_, store_->Describe()));
  }
  const int64_t before = snap->version;
  SC_ASSIGN_OR_RETURN(*snap, Load(conn));
  return static_cast<int>(snap->version - before);
}

Result<std::optional<int64_t>> DeltaLog::ReadLastCheckpoint() {
  auto bytes = store_->Get(LastCheckpointKey());
  if (!bytes.ok()) {
    if (bytes.status().kind() == ErrorKind::kNotFound) return std::optional<int64_t>();
    return bytes.status();
  }
  json j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("version")) {
    return std::optional<int64_t>();  // unreadable hint: replay the log from the start instead
  }
  return std::optional<int64_t>(Get<int64_t>(j, "version", -1));
}

Result<Snapshot> DeltaLog::Load(engine::Connection* conn) {
  Snapshot snap;
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> log, store_->List(KeyPrefix() + "_delta_log/"));
  int64_t first_json = -1;
  std::vector<int64_t> checkpoints;  // listed, ascending
  for (const ObjectInfo& o : log) {
    std::string_view name = std::string_view(o.key).substr(o.key.rfind('/') + 1);
    if (first_json < 0 && name.size() == 25 && name.substr(20) == ".json") {
      first_json = std::stoll(std::string(name.substr(0, 20)));
    }
    if (name.size() == 39 && name.substr(20) == ".checkpoint.parquet") {
      checkpoints.push_back(std::stoll(std::string(name.substr(0, 20))));
    }
  }
  if (conn != nullptr) {
    SC_ASSIGN_OR_RETURN(std::optional<int64_t> cp, ReadLastCheckpoint());
    // The checkpoint _last_checkpoint names; if it cannot be read and the JSON log no longer starts
    // at version 0 (log clean-up), the newest listed checkpoint that can.
    std::vector<int64_t> tries;
    if (cp && *cp >= 0) tries.push_back(*cp);
    if (first_json != 0) {
      for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
        if (!cp || *it != *cp) tries.push_back(*it);
      }
    }
    for (int64_t v : tries) {
      auto from_cp = ReadCheckpoint(v, conn);
      if (from_cp.ok()) {
        snap = std::move(*from_cp);
        first_json = -1;
        break;
      }
      // A checkpoint that cannot be read is only a lost shortcut: try another, or replay the log.
    }
  }
  if (snap.version < 0) {
    if (first_json < 0) return snap;  // no table here
    if (first_json > 0) {
      return Status::Corruption(fmt::format(
          "the Delta log of {} in {} starts at version {} and no checkpoint {}; the table is "
          "damaged",
          prefix_, store_->Describe(), first_json,
          conn == nullptr ? "was read (a reader without a database)" : "could be read"));
    }
  }
  SC_ASSIGN_OR_RETURN(int applied, Update(&snap));
  (void)applied;
  if (snap.version >= 0 && snap.metadata.id.empty()) {
    return Status::Corruption(fmt::format("the Delta log of {} in {} has no metaData action",
                                          prefix_, store_->Describe()));
  }
  return snap;
}

// ------------------------------------------------------------------------------------ checkpoints

namespace {

// The V1 checkpoint schema: one column per action type, each row holds exactly one action. `add`
// and `protocol` have every field of the protocol's actions, so that what another engine wrote
// (feature lists, deletion vectors, tags, row tracking, clustering) survives a checkpoint.
constexpr const char* kCheckpointColumns =
    "{txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)', "
    "add: 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, "
    "modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP(VARCHAR, VARCHAR), "
    "deletionVector STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, \"offset\" INTEGER, "
    "sizeInBytes INTEGER, cardinality BIGINT), baseRowId BIGINT, defaultRowCommitVersion BIGINT, "
    "clusteringProvider VARCHAR)', "
    "remove: 'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, "
    "extendedFileMetadata BOOLEAN, "
    "partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)', "
    "metaData: 'STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider "
    "VARCHAR, options "
    "MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], configuration "
    "MAP(VARCHAR, "
    "VARCHAR), createdTime BIGINT)', "
    "protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures "
    "VARCHAR[], writerFeatures VARCHAR[])'}";

// The fields of `extra` (a JSON object text) that are not among `allowed`, comma-separated.
std::string FieldsOutside(const std::string& extra,
                          std::initializer_list<std::string_view> allowed) {
  if (extra.empty()) return {};
  json e = json::parse(extra, nullptr, false);
  if (e.is_discarded() || !e.is_object()) return {};
  std::string out;
  for (auto it = e.begin(); it != e.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    out += (out.empty() ? "" : ", ") + it.key();
  }
  return out;
}

}  // namespace

Status DeltaLog::WriteCheckpoint(const Snapshot& snap, engine::Connection* conn,
                                 const std::string& scratch_dir) {
  if (!snap.exists())
    return Status::InvalidArgument("cannot checkpoint a table that does not exist");
  // The checkpoint's actions as one commit, serialised as NDJSON; DuckDB turns that into Parquet.
  CommitActions all;
  all.protocol = snap.protocol;
  all.metadata = snap.metadata;
  for (const auto& [app, v] : snap.app_txns) {
    auto it = snap.txn_updated.find(app);
    all.txns.push_back(Txn{app, v, it == snap.txn_updated.end() ? 0 : it->second});
  }
  if (std::string odd = FieldsOutside(snap.metadata.extra, {"description"}); !odd.empty()) {
    return Status::InvalidArgument(
        fmt::format("checkpoint {} of {} not written: its metaData has fields {} that a V1 "
                    "checkpoint of this writer does not hold",
                    snap.version, prefix_, odd));
  }
  for (const auto& [path, f] : snap.files) {
    std::string odd = FieldsOutside(
        f.extra, {"tags", "baseRowId", "defaultRowCommitVersion", "clusteringProvider"});
    if (!odd.empty()) {
      return Status::InvalidArgument(
          fmt::format("checkpoint {} of {} not written: data file {} has fields {} that a V1 "
                      "checkpoint of this writer does not hold",
                      snap.version, prefix_, path, odd));
    }
    AddFile a = f;
    a.data_change = false;
    all.adds.push_back(std::move(a));
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(scratch_dir, ec);
  const std::string base = fmt::format("{}/checkpoint-{}", scratch_dir, NewUuid());
  const std::string json_path = base + ".json", parquet_path = base + ".parquet";
  {
    std::ofstream out(json_path, std::ios::binary);
    out << SerializeCommit(all);
    if (!out.good())
      return Status::IOError(fmt::format("cannot write checkpoint scratch file {}", json_path));
  }
  Status s = conn->Execute(fmt::format(
      "COPY (SELECT txn, add, remove, metaData, protocol FROM read_json({}, format = "
      "'newline_delimited', "
      "columns = {})) TO {} (FORMAT parquet, COMPRESSION zstd)",
      engine::QuoteLiteral(json_path), kCheckpointColumns, engine::QuoteLiteral(parquet_path)));
  if (s.ok()) s = store_->PutFile(CheckpointKey(snap.version), parquet_path);
  fs::remove(json_path, ec);
  fs::remove(parquet_path, ec);
  if (!s.ok()) return s.WithContext(fmt::format("checkpoint {} of {}", snap.version, prefix_));
  const size_t actions = 2 + all.txns.size() + all.adds.size();
  return store_->Put(LastCheckpointKey(),
                     ojson{{"version", snap.version}, {"size", actions}}.dump() + "\n");
}

Result<Snapshot> DeltaLog::ReadCheckpoint(int64_t version, engine::Connection* conn) {
  namespace fs = std::filesystem;
  const std::string key = CheckpointKey(version);
  std::optional<fs::path> local = store_->LocalPath(key);
  std::string temp;
  if (!local) {
    SC_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
    temp = (fs::temp_directory_path() / fmt::format("smartcity-checkpoint-{}.parquet", NewUuid()))
               .string();
    std::ofstream out(temp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.good()) return Status::IOError(fmt::format("cannot write scratch file {}", temp));
    local = temp;
  }
  auto rows =
      conn->Query(fmt::format("SELECT to_json(txn)::VARCHAR, to_json(add)::VARCHAR, "
                              "to_json(metaData)::VARCHAR, to_json(protocol)::VARCHAR "
                              "FROM read_parquet({})",
                              engine::QuoteLiteral(local->string())));
  if (!temp.empty()) {
    std::error_code ec;
    fs::remove(temp, ec);
  }
  if (!rows.ok()) return rows.status().WithContext(fmt::format("checkpoint {}", key));
  CommitActions c;
  static constexpr const char* kKinds[] = {"txn", "add", "metaData", "protocol"};
  for (size_t r = 0; r < rows->row_count(); ++r) {
    for (size_t col = 0; col < 4; ++col) {
      if (rows->IsNull(col, r)) continue;
      json action = json::parse(rows->GetString(col, r), nullptr, false);
      if (action.is_discarded() || action.is_null()) continue;
      json wrapped = json::object();
      wrapped[kKinds[col]] = std::move(action);
      SC_RETURN_IF_ERROR(ParseAction(wrapped, &c).WithContext(fmt::format("checkpoint {}", key)));
    }
  }
  Snapshot snap;
  snap.Apply(c, version);
  if (snap.metadata.id.empty())
    return Status::Corruption(fmt::format("checkpoint {} has no metaData", key));
  return snap;
}

}  // namespace smartcity::lake
