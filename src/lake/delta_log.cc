#include "lake/delta_log.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/engine.h"

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

std::string SchemaToJson(const DeltaSchema& schema) {
  ojson fields = ojson::array();
  for (const DeltaField& f : schema.fields) {
    fields.push_back(ojson{{"name", f.name},
                           {"type", std::string(DeltaTypeName(f.type))},
                           {"nullable", f.nullable},
                           {"metadata", ojson::object()}});
  }
  return ojson{{"type", "struct"}, {"fields", std::move(fields)}}.dump();
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

}  // namespace

int64_t AddFile::NumRecords() const {
  if (stats.empty()) return -1;
  json j = json::parse(stats, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return -1;
  return Get<int64_t>(j, "numRecords", -1);
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
    line(ojson{{"protocol",
                {{"minReaderVersion", c.protocol->min_reader_version},
                 {"minWriterVersion", c.protocol->min_writer_version}}}});
  }
  if (c.metadata) {
    const Metadata& m = *c.metadata;
    ojson conf = ojson::object();
    for (const auto& [k, v] : m.configuration) conf[k] = v;
    ojson md{{"id", m.id}};
    if (!m.name.empty()) md["name"] = m.name;
    md["format"] = ojson{{"provider", "parquet"}, {"options", ojson::object()}};
    md["schemaString"] = SchemaToJson(m.schema);
    md["partitionColumns"] = m.partition_columns;
    md["configuration"] = conf;
    md["createdTime"] = m.created_time_ms;
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
    line(ojson{{"add", o}});
  }
  for (const RemoveFile& r : c.removes) {
    line(ojson{{"remove",
                {{"path", EncodePath(r.path)},
                 {"deletionTimestamp", r.deletion_timestamp_ms},
                 {"dataChange", r.data_change},
                 {"extendedFileMetadata", true},
                 {"partitionValues", PartitionValuesJson(r.partition_values)},
                 {"size", r.size}}}});
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
      c->protocol = p;
    } else if (kind == "metaData") {
      Metadata m;
      m.id = Get<std::string>(a, "id", "");
      m.name = Get<std::string>(a, "name", "");
      SC_ASSIGN_OR_RETURN(m.schema, SchemaFromJson(Get<std::string>(a, "schemaString", "")));
      m.partition_columns = Get<std::vector<std::string>>(a, "partitionColumns", {});
      auto conf = a.find("configuration");
      if (conf != a.end() && conf->is_object()) {
        for (auto ci = conf->begin(); ci != conf->end(); ++ci) {
          if (ci->is_string()) m.configuration[ci.key()] = ci->get<std::string>();
        }
      }
      m.created_time_ms = Get<int64_t>(a, "createdTime", 0);
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
  for (const auto& [path, f] : files) n += std::max<int64_t>(0, f.NumRecords());
  return n;
}

void Snapshot::Apply(const CommitActions& c, int64_t v) {
  version = v;
  if (c.protocol) protocol = *c.protocol;
  if (c.metadata) metadata = *c.metadata;
  for (const RemoveFile& r : c.removes) files.erase(r.path);
  for (const AddFile& a : c.adds) files[a.path] = a;
  for (const Txn& t : c.txns) {
    app_txns[t.app_id] = t.version;
    txn_updated[t.app_id] = t.last_updated_ms;
  }
}

// --------------------------------------------------------------------------------------- DeltaLog

DeltaLog::DeltaLog(ObjectStore* store, std::string table_prefix)
    : store_(store), prefix_(std::move(table_prefix)) {
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

// The V1 checkpoint schema: one column per action type, each row holds exactly one action.
constexpr const char* kCheckpointColumns =
    "{txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)', "
    "add: 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, "
    "modificationTime BIGINT, "
    "dataChange BOOLEAN, stats VARCHAR)', "
    "remove: 'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, "
    "extendedFileMetadata BOOLEAN, "
    "partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)', "
    "metaData: 'STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider "
    "VARCHAR, options "
    "MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], configuration "
    "MAP(VARCHAR, "
    "VARCHAR), createdTime BIGINT)', "
    "protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)'}";

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
  for (const auto& [path, f] : snap.files) {
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
