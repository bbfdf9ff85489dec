// ObjectStore: where the lake's bytes live, shaped like S3 so the same lake code runs on a local
// directory, in memory (tests) or an S3-compatible service (issue 5).
//
// Keys are '/'-separated relative names ("vehicle_data/_delta_log/00000000000000000000.json"): no
// leading '/', no empty, "." or ".." segment. There is no rename and no directory: a "folder" is
// just a key prefix. Writes are whole objects and atomic: a reader sees the old object, no object,
// or the whole new object, never part of one. PutIfAbsent is the Delta commit primitive: of any
// number of writers (threads or processes) putting the same absent key, exactly one gets OK and the
// others kAlreadyExists.
//
// Errors: kNotFound for a missing key (Get/Head), kAlreadyExists (PutIfAbsent lost), kUnavailable /
// kTimeout when a retry may help, kIOError / kPermissionDenied otherwise.
//
// Thread-safety: every implementation here is safe for concurrent use by many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace smartcity::lake {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::chrono::system_clock::time_point modified;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Creates or replaces the object.
  virtual Status Put(std::string_view key, std::string_view bytes) = 0;
  // Creates the object only if no object has the key; kAlreadyExists otherwise (atomically).
  virtual Status PutIfAbsent(std::string_view key, std::string_view bytes) = 0;
  // Creates or replaces the object with the contents of a local file (Parquet data files); the
  // local file is left in place (the caller removes it).
  virtual Status PutFile(std::string_view key, const std::filesystem::path& local_file) = 0;
  virtual Result<std::string> Get(std::string_view key) = 0;
  // Bytes [offset, offset + length) of the object (fewer at its end).
  virtual Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) = 0;
  virtual Result<ObjectInfo> Head(std::string_view key) = 0;
  // Every object whose key starts with `prefix`, sorted by key (implementations page internally).
  virtual Result<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
  // Removes the object; OK if it did not exist.
  virtual Status Delete(std::string_view key) = 0;

  // A local file holding the object's bytes if the store is a local filesystem (lets DuckDB read
  // data files in place), else nullopt.
  virtual std::optional<std::filesystem::path> LocalPath(std::string_view key) const {
    return std::nullopt;
  }
  // Where another reader (DuckDB, Python deltalake) finds the object: an absolute local path, or a
  // URI such as "s3://bucket/prefix/key"; empty if the store cannot be read from outside (in
  // memory).
  virtual std::string ReaderUri(std::string_view key) const {
    auto p = LocalPath(key);
    return p ? p->string() : std::string();
  }
  // "local directory /data/lake", for messages.
  virtual std::string Describe() const = 0;
};

// Opens the lake root named by the user (--lake): a local directory (created if missing), or
// s3://bucket/prefix (S3ObjectStore, configured from the standard AWS environment: docs/s3.md). The
// one place a lake location is interpreted.
// With !create, a local directory must exist and nothing is created in it (a reader's open).
Result<std::unique_ptr<ObjectStore>> OpenLakeStore(std::string_view location, bool create = true);
// True for a lake location that OpenLakeStore opens on S3 (s3://, s3a://) rather than a local
// folder.
bool IsS3Location(std::string_view location);

// OK if `key` is a valid object key; kInvalidArgument naming the problem otherwise.
Status ValidateKey(std::string_view key);

// Objects as files under a root directory. Put writes a temp file in <root>/.staging, fsyncs it,
// renames it over the key's path and fsyncs the directory; PutIfAbsent links the temp file with
// link(2), which fails with EEXIST if the key exists, so it is atomic against other processes too.
// The staging folder is never listed; Open() removes staging files older than an hour (puts that a
// crash interrupted).
class LocalObjectStore final : public ObjectStore {
 public:
  // Creates `root` if it does not exist. With !create, `root` must exist (kNotFound) and nothing
  // is created or removed at the open (the staging folder is made by the first put).
  static Result<std::unique_ptr<LocalObjectStore>> Open(const std::filesystem::path& root,
                                                        bool create = true);

  Status Put(std::string_view key, std::string_view bytes) override;
  Status PutIfAbsent(std::string_view key, std::string_view bytes) override;
  Status PutFile(std::string_view key, const std::filesystem::path& local_file) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  std::optional<std::filesystem::path> LocalPath(std::string_view key) const override;
  std::string Describe() const override;

  const std::filesystem::path& root() const { return root_; }
  static constexpr std::string_view kStagingDir = ".staging";

 private:
  explicit LocalObjectStore(std::filesystem::path root) : root_(std::move(root)) {}
  // Writes bytes (or copies `source`) to a fresh fsynced staging file; returns its path.
  Result<std::filesystem::path> Stage(std::string_view bytes, const std::filesystem::path* source);
  Status Publish(std::string_view key, const std::filesystem::path& staged, bool if_absent);

  std::filesystem::path root_;
};

// Objects in a map; for tests and benchmarks.
class InMemoryObjectStore final : public ObjectStore {
 public:
  Status Put(std::string_view key, std::string_view bytes) override;
  Status PutIfAbsent(std::string_view key, std::string_view bytes) override;
  Status PutFile(std::string_view key, const std::filesystem::path& local_file) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  std::string Describe() const override { return "in-memory object store"; }

  // Sets the modification time of an existing object (tests of age-based cleanup).
  void SetModified(std::string_view key, std::chrono::system_clock::time_point t);

 private:
  struct Object {
    std::string bytes;
    std::chrono::system_clock::time_point modified;
  };
  Mutex mu_;
  std::map<std::string, Object, std::less<>> objects_ GUARDED_BY(mu_);
};

// Wraps a store and injects failures, to test what a crash or an outage at any step leaves behind.
// Rules are checked in order on every call; the first that matches decides. After a rule with
// `crash` fires, every later call fails with kAborted ("simulated crash") as if the process had
// died.
class FaultInjectingObjectStore final : public ObjectStore {
 public:
  enum class Op { kPut, kPutIfAbsent, kPutFile, kGet, kGetRange, kHead, kList, kDelete, kAny };
  enum class When {
    kBefore,  // fail without doing the operation
    kAfter,   // do the operation, then report failure (the caller cannot know it happened)
  };
  struct Rule {
    Op op = Op::kAny;
    std::string key_contains;  // empty matches every key
    int nth = 1;               // fire on the nth matching call (1-based) ...
    int times = 1;             // ... and on this many matching calls from then on (-1: forever)
    When when = When::kBefore;
    bool crash = false;                         // after firing, the store is dead
    ErrorKind error = ErrorKind::kUnavailable;  // kOk: inject no failure, only run on_fire
    // The failure comes back marked Status::retries_spent(), as from a store that has retried the
    // request for its whole budget itself (S3).
    bool retries_spent = false;
    // Runs when the rule fires, before the operation (lets a test interleave another writer's work
    // at an exact step). It must not call back into this store.
    std::function<void()> on_fire;
  };

  explicit FaultInjectingObjectStore(ObjectStore* base) : base_(base) {}

  void AddRule(Rule r);
  void ClearRules();
  // Brings a "crashed" store back (the restarted process gets a working store).
  void Revive();
  bool crashed() const;
  // Calls made so far, per operation (kAny counts all).
  int calls(Op op) const;

  Status Put(std::string_view key, std::string_view bytes) override;
  Status PutIfAbsent(std::string_view key, std::string_view bytes) override;
  Status PutFile(std::string_view key, const std::filesystem::path& local_file) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Head(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  std::optional<std::filesystem::path> LocalPath(std::string_view key) const override {
    return base_->LocalPath(key);
  }
  std::string Describe() const override { return base_->Describe(); }

 private:
  struct Decision {
    bool fail_before = false;
    bool fail_after = false;
    Status error;
    std::function<void()> on_fire;
  };
  Decision Decide(Op op, std::string_view key);
  // Applies a decision around `do_op`.
  Status Run(Op op, std::string_view key, const std::function<Status()>& do_op);

  ObjectStore* base_;
  mutable Mutex mu_;
  struct RuleState {
    Rule rule;
    int seen = 0;
    int fired = 0;
  };
  std::vector<RuleState> rules_ GUARDED_BY(mu_);
  bool crashed_ GUARDED_BY(mu_) = false;
  std::map<Op, int> calls_ GUARDED_BY(mu_);
};

}  // namespace smartcity::lake
