#include "lake/delta_features.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace smartcity::lake {

namespace {

constexpr int kMaxReaderVersion = 3;
constexpr int kMaxWriterVersion = 7;

std::string_view Verb(TableAccess access) {
  return access == TableAccess::kWrite ? "write to" : "read";
}

// What to do about a refused feature.
std::string_view Advice(TableAccess access) {
  return access == TableAccess::kWrite
             ? "write to it with an engine that supports the feature (e.g. Spark with "
               "delta-spark) or point smartcity at a new table"
             : "read it with an engine that supports the feature (e.g. Spark with delta-spark or "
               "the deltalake package)";
}

Status Refuse(std::string_view table, std::string_view what, TableAccess access) {
  return Status::InvalidArgument(fmt::format("table {} uses {}, which smartcity cannot {}; {}",
                                             table, what, Verb(access), Advice(access)));
}

bool HasFieldMetadata(const Metadata& m, std::string_view prefix) {
  return std::any_of(m.field_metadata_keys.begin(), m.field_metadata_keys.end(),
                     [&](const std::string& k) { return k.rfind(prefix, 0) == 0; });
}

std::string ConfigValue(const Metadata& m, const std::string& key) {
  auto it = m.configuration.find(key);
  return it == m.configuration.end() ? std::string() : it->second;
}

// Column mapping is in use unless its mode is absent or "none".
Status CheckColumnMapping(const Snapshot& snap, TableAccess access, std::string_view table) {
  const std::string mode = ConfigValue(snap.metadata, "delta.columnMapping.mode");
  if (mode.empty() || mode == "none") return Status::OK();
  return Refuse(table,
                fmt::format("column mapping (delta.columnMapping.mode = {}: data files name "
                            "their columns by physical names)",
                            mode),
                access);
}

Status CheckReader(const Snapshot& snap, TableAccess access, std::string_view table) {
  const Protocol& p = snap.protocol;
  if (p.min_reader_version > kMaxReaderVersion || p.min_reader_version < 1) {
    return Refuse(table, fmt::format("Delta reader version {}", p.min_reader_version), access);
  }
  std::vector<std::string> features;
  if (p.min_reader_version == 2) features = {"columnMapping"};
  if (p.min_reader_version == 3) features = p.reader_features;
  for (const std::string& f : features) {
    if (f == "columnMapping") {
      SC_RETURN_IF_ERROR(CheckColumnMapping(snap, access, table));
    } else if (f == "deletionVectors") {
      if (access == TableAccess::kRead && snap.files_with_deletion_vectors > 0) {
        return Status::InvalidArgument(fmt::format(
            "table {} has {} data files with deletion vectors (rows deleted by another engine), "
            "which smartcity's Parquet readers cannot apply; purge them with Spark (REORG TABLE "
            "… APPLY (PURGE)) or read the table with an engine that applies them",
            table, snap.files_with_deletion_vectors));
      }
    } else if (f != "vacuumProtocolCheck") {
      return Refuse(table, fmt::format("the reader table feature {}", f), access);
    }
  }
  return Status::OK();
}

Status CheckWriter(const Snapshot& snap, std::string_view table) {
  constexpr TableAccess kW = TableAccess::kWrite;
  const Protocol& p = snap.protocol;
  const Metadata& m = snap.metadata;
  if (p.min_writer_version > kMaxWriterVersion || p.min_writer_version < 1) {
    return Refuse(table, fmt::format("Delta writer version {}", p.min_writer_version), kW);
  }
  std::vector<std::string> features;
  if (p.min_writer_version == 7) {
    features = p.writer_features;
  } else {
    // The features a legacy writer version stands for.
    static const char* kLegacy[] = {"appendOnly",     "invariants",       "checkConstraints",
                                    "changeDataFeed", "generatedColumns", "columnMapping",
                                    "identityColumns"};
    static const int kSince[] = {2, 2, 3, 4, 4, 5, 6};
    for (size_t i = 0; i < std::size(kLegacy); ++i) {
      if (p.min_writer_version >= kSince[i]) features.emplace_back(kLegacy[i]);
    }
  }
  for (const std::string& f : features) {
    if (f == "appendOnly" || f == "changeDataFeed" || f == "deletionVectors" ||
        f == "allowColumnDefaults" || f == "vacuumProtocolCheck") {
      continue;  // appends (and compaction's dataChange=false rewrites) are correct as they are
    }
    if (f == "invariants") {
      if (HasFieldMetadata(m, "delta.invariants")) {
        return Refuse(table, "column invariants (delta.invariants, SQL expressions)", kW);
      }
    } else if (f == "checkConstraints") {
      for (const auto& [key, value] : m.configuration) {
        if (key.rfind("delta.constraints.", 0) != 0) continue;
        return Status::InvalidArgument(fmt::format(
            "table {} has the CHECK constraint {} ({}), which smartcity does not enforce; drop "
            "it (ALTER TABLE … DROP CONSTRAINT {}) or point smartcity at a new table",
            table, key.substr(18), value, key.substr(18)));
      }
    } else if (f == "generatedColumns") {
      if (HasFieldMetadata(m, "delta.generationExpression")) {
        return Refuse(table, "generated columns (delta.generationExpression)", kW);
      }
    } else if (f == "identityColumns") {
      if (HasFieldMetadata(m, "delta.identity")) {
        return Refuse(table, "identity columns (delta.identity.*)", kW);
      }
    } else if (f == "columnMapping") {
      SC_RETURN_IF_ERROR(CheckColumnMapping(snap, kW, table));
    } else {
      return Refuse(table, fmt::format("the writer table feature {}", f), kW);
    }
  }
  return Status::OK();
}

}  // namespace

Status CheckProtocol(const Snapshot& snap, TableAccess access, std::string_view table) {
  SC_RETURN_IF_ERROR(CheckReader(snap, access, table));
  if (access == TableAccess::kWrite) SC_RETURN_IF_ERROR(CheckWriter(snap, table));
  return Status::OK();
}

}  // namespace smartcity::lake
