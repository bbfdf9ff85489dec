// Symlink-format manifests: generated from a whole snapshot, so every write is a full refresh.
#include "lake/symlink_manifest.h"

#include <fmt/format.h>

#include <cctype>
#include <map>
#include <set>

namespace smartcity::lake {

namespace {
// How often UpdateSymlinkManifest rewrites when other writers keep committing meanwhile.
constexpr int kMaxManifestRounds = 5;
// How often EnableSymlinkManifest retries its metadata commit after losing a version race.
constexpr int kMaxEnableAttempts = 20;
}  // namespace

bool SymlinkManifestEnabled(const Metadata& m) {
  auto it = m.configuration.find(std::string(kSymlinkManifestProperty));
  if (it == m.configuration.end()) return false;
  std::string v = it->second;
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "true";
}

std::string ManifestPartitionDir(const std::vector<std::string>& partition_columns,
                                 const PartitionValues& values) {
  std::string out;
  for (const std::string& c : partition_columns) {
    auto it = values.find(c);
    std::optional<std::string> v = it == values.end() ? std::nullopt : it->second;
    if (!out.empty()) out += '/';
    out += c + "=" + EscapePartitionValue(v);
  }
  return out;
}

std::string ManifestUri(const ObjectStore& store, const std::string& key) {
  std::string uri = store.ReaderUri(key);
  if (!uri.empty() && uri[0] == '/') uri = "file://" + uri;
  return uri;
}

Result<ManifestResult> WriteSymlinkManifest(ObjectStore* store, const std::string& table_prefix,
                                            const Snapshot& snap,
                                            const std::set<std::string>* partitions) {
  if (!snap.exists()) {
    return Status::NotFound(
        fmt::format("no Delta table at {} in {}", table_prefix, store->Describe()));
  }
  if (snap.files_with_deletion_vectors > 0) {
    return Status::InvalidArgument(fmt::format(
        "table {} has {} files with deletion vectors: a symlink manifest cannot leave their "
        "deleted rows out",
        table_prefix, snap.files_with_deletion_vectors));
  }
  const std::string prefix = table_prefix.empty() ? std::string() : table_prefix + "/";
  const std::string dir = prefix + std::string(kSymlinkManifestDir) + "/";
  if (store->ReaderUri(prefix + "x").empty()) {
    return Status::InvalidArgument(
        fmt::format("{} has no URIs other readers could use in a manifest", store->Describe()));
  }
  // Partition folder -> manifest text, in path order (the snapshot's files are sorted by path).
  auto key_of = [&](const std::string& part) {
    return dir + (part.empty() ? std::string() : part + "/") + "manifest";
  };
  std::map<std::string, std::string> manifests;
  if (snap.metadata.partition_columns.empty()) manifests[""];  // an empty table: an empty manifest
  ManifestResult result;
  result.version = snap.version;
  for (const auto& [path, add] : snap.files) {
    std::string part = ManifestPartitionDir(snap.metadata.partition_columns, add.partition_values);
    if (partitions != nullptr && partitions->count(part) == 0) continue;
    std::string& text = manifests[part];
    text += ManifestUri(*store, prefix + path);
    text += '\n';
    ++result.files_listed;
  }
  std::set<std::string> written;
  for (const auto& [part, text] : manifests) {
    if (partitions != nullptr && partitions->count(part) == 0) continue;
    std::string key = key_of(part);
    SC_RETURN_IF_ERROR(store->Put(key, text).WithContext(
        fmt::format("writing the symlink manifest {}", store->ReaderUri(key))));
    written.insert(key);
    ++result.manifests_written;
  }
  // Partitions that no longer have files: their manifests go (after the new ones are in place).
  if (partitions != nullptr) {
    for (const std::string& part : *partitions) {
      if (manifests.count(part) != 0) continue;
      SC_RETURN_IF_ERROR(store->Delete(key_of(part)));
      ++result.manifests_deleted;
    }
    return result;
  }
  SC_ASSIGN_OR_RETURN(std::vector<ObjectInfo> old, store->List(dir));
  for (const ObjectInfo& o : old) {
    if (written.count(o.key) != 0) continue;
    SC_RETURN_IF_ERROR(store->Delete(o.key));
    ++result.manifests_deleted;
  }
  return result;
}

Result<ManifestResult> UpdateSymlinkManifest(DeltaLog* log, ObjectStore* store, Snapshot* snap,
                                             engine::Connection* conn,
                                             const std::set<std::string>* partitions) {
  ManifestResult result;
  for (int round = 0; round < kMaxManifestRounds; ++round) {
    // After the first round other writers' commits came in: what they touched is unknown here.
    SC_ASSIGN_OR_RETURN(result, WriteSymlinkManifest(store, log->table_prefix(), *snap,
                                                     round == 0 ? partitions : nullptr));
    // Another writer's commit after ours: its manifest write may have been overtaken by ours.
    SC_ASSIGN_OR_RETURN(int applied, log->Update(snap, conn));
    if (applied == 0) return result;
    if (!SymlinkManifestEnabled(snap->metadata)) return result;
  }
  return result;
}

Result<ManifestResult> EnableSymlinkManifest(ObjectStore* store, const std::string& table_prefix,
                                             engine::Connection* conn, bool* enabled_now) {
  *enabled_now = false;
  DeltaLog log(store, table_prefix, TableAccess::kWrite);
  SC_ASSIGN_OR_RETURN(Snapshot snap, log.Load(conn));
  if (!snap.exists()) {
    return Status::NotFound(
        fmt::format("no Delta table at {} in {}", table_prefix, store->Describe()));
  }
  for (int attempt = 1; !SymlinkManifestEnabled(snap.metadata); ++attempt) {
    if (attempt > kMaxEnableAttempts) {
      return Status::Unavailable(
          fmt::format("table {}: lost the race for a commit version {} times setting {}",
                      table_prefix, kMaxEnableAttempts, kSymlinkManifestProperty));
    }
    CommitActions c;
    CommitInfo ci;
    ci.timestamp_ms = NowMillis();
    ci.operation = "SET TBLPROPERTIES";
    ci.operation_parameters = {
        {"properties", fmt::format("{{\"{}\":\"true\"}}", kSymlinkManifestProperty)}};
    ci.is_blind_append = false;
    ci.txn_id = NewUuid();
    c.commit_info = ci;
    Metadata md = snap.metadata;
    md.configuration[std::string(kSymlinkManifestProperty)] = "true";
    c.metadata = md;
    const int64_t version = snap.version + 1;
    Status s = log.WriteCommit(version, c);
    if (s.ok()) {
      snap.Apply(c, version);
      *enabled_now = true;
      break;
    }
    if (s.kind() != ErrorKind::kAlreadyExists) {
      return s.WithContext(
          fmt::format("setting {} on table {}", kSymlinkManifestProperty, table_prefix));
    }
    SC_ASSIGN_OR_RETURN(int applied, log.Update(&snap, conn));
    (void)applied;
  }
  return UpdateSymlinkManifest(&log, store, &snap, conn);
}

}  // namespace smartcity::lake
