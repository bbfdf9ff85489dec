// --lake: the one lake option of every command. The same name, default (smartcity-lake, the folder
// `run` writes when not told otherwise), environment variable (SMARTCITY_LAKE), forms (a local
// folder or s3://bucket/prefix) and messages everywhere.
//
// A command that only reads the lake (load, sql, crawl's check, serve, compact's check) opens it
// with LakeAccess::kRead: a local lake must be an existing folder, and nothing is created in it (no
// .staging folder); a writer (run, stream) creates the folder. A local path that is a file is
// refused the same way by both.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/object_store.h"

namespace smartcity::cli {

inline constexpr const char* kDefaultLake = "smartcity-lake";

enum class LakeAccess { kRead, kWrite };

// Adds --lake (env SMARTCITY_LAKE) with the default kDefaultLake stored in *lake, or, if
// !with_default, an empty *lake that the command resolves itself (sql: the catalog's lake).
CLI::Option* AddLakeOption(CLI::App* app, std::string* lake, bool with_default = true);

// Adds --table-format delta[,iceberg] (the one place it is parsed): with iceberg, the lake's
// writers also keep Apache Iceberg metadata of every table they write (lake/iceberg.h); sets
// *iceberg. Delta is always written (it is the source of truth).
CLI::Option* AddTableFormatOption(CLI::App* app, bool* iceberg);

// kInvalidArgument when `lake` cannot be the lake of a command with that access: empty, a local
// path that is a file, or (kRead) a local folder that does not exist.
Status CheckLakeLocation(const std::string& lake, LakeAccess access);

// CheckLakeLocation, then the store (lake::OpenLakeStore; with kRead nothing is created).
Result<std::unique_ptr<lake::ObjectStore>> OpenLake(const std::string& lake, LakeAccess access);

// kInvalidArgument naming the tables of `wanted` that have no Delta log in the lake, with the
// tables it has (or saying it has none).
Status CheckTablesExist(lake::ObjectStore* store, const std::string& lake,
                        const std::vector<std::string>& wanted);

}  // namespace smartcity::cli

namespace smartcity::cli {

// The advisory lock of a local lake (flock(2) on <lake>/_smartcity.lock, held for the process's
// life and dropped by the kernel when it exits, however it exits). `run` owns its lake alone
// (exclusive); `stream` processes share theirs with each other (a consumer group splits the
// partitions among them) but not with a `run` (shared). Commands that only read (load, sql, crawl,
// serve) take none. An S3 lake has no such lock: S3 has no lease primitive we could trust without
// a clock bound, so there the operator keeps one writer (docs/s3.md); the Delta commit protocol
// still keeps the lake consistent.
class LakeLock {
 public:
  enum class Mode { kExclusive, kShared };
  // kAlreadyExists naming the holder when another process holds the lock in a conflicting mode;
  // an unlocked no-op for an S3 lake. `command` ("run", "stream") is recorded for that message.
  static Result<std::unique_ptr<LakeLock>> Acquire(const std::string& lake, Mode mode,
                                                   const std::string& command);
  ~LakeLock();
  LakeLock(const LakeLock&) = delete;
  LakeLock& operator=(const LakeLock&) = delete;

  static constexpr const char* kFileName = "_smartcity.lock";

 private:
  explicit LakeLock(int fd, Mode mode) : fd_(fd), mode_(mode) {}
  int fd_;
  Mode mode_;
};

}  // namespace smartcity::cli
