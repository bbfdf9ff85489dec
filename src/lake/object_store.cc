#include "lake/object_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "lake/s3_object_store.h"

namespace smartcity::lake {

namespace fs = std::filesystem;

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("object key is empty");
  if (key.front() == '/')
    return Status::InvalidArgument(fmt::format("object key {} starts with '/'", key));
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return Status::InvalidArgument(
          fmt::format("object key {} has an empty, '.' or '..' segment", key));
    }
    start = end + 1;
  }
  if (key.find('\0') != std::string_view::npos)
    return Status::InvalidArgument("object key contains NUL");
  return Status::OK();
}

namespace {

Status ErrnoStatus(std::string_view what, const fs::path& p, int err) {
  std::string msg = fmt::format("{} {}: {}", what, p.string(), std::strerror(err));
  switch (err) {
    case ENOENT:
      return Status::NotFound(msg);
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(msg + " (check the lake directory's permissions)");
    case ENOSPC:
    case EDQUOT:
      return Status::IOError(msg + " (free some disk space)");
    default:
      return Status::IOError(msg);
  }
}

std::chrono::system_clock::time_point MTime(const struct stat& st) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

Status FsyncPath(const fs::path& p, bool directory) {
  int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", p, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("cannot fsync", p, err);
  return Status::OK();
}

// Creates every missing directory of `dir`, fsyncing each parent whose entry list changed.
Status MakeDirs(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::OK();
  SC_RETURN_IF_ERROR(MakeDirs(dir.parent_path()));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return ErrnoStatus("cannot create directory", dir, errno);
  return FsyncPath(dir.parent_path(), true);
}

Status WriteAll(int fd, const char* data, size_t n, const fs::path& p) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot write", p, errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

std::string UniqueSuffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}-{}-{:016x}", ::getpid(), counter.fetch_add(1), rng());
}

Result<std::string> ReadRange(const fs::path& p, uint64_t offset, uint64_t length) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot read object", p, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", p, err);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t begin = std::min(offset, size);
  uint64_t n = std::min(length, size - begin);
  std::string out(n, '\0');
  uint64_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(begin + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot read", p, err);
    }
    if (r == 0) break;
    done += static_cast<uint64_t>(r);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

}  // namespace

// -------------------------------------------------------------------------------- LocalObjectStore

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::Open(const fs::path& root,
                                                                 bool create) {
  fs::path abs = fs::absolute(root).lexically_normal();
  if (abs.has_filename() == false) abs = abs.parent_path();
  if (!create) {
    std::error_code ec;
    if (!fs::is_directory(abs, ec))
      return Status::NotFound(fmt::format("no lake folder {}", abs.string()));
    return std::unique_ptr<LocalObjectStore>(new LocalObjectStore(abs));
  }
  SC_RETURN_IF_ERROR(MakeDirs(abs / kStagingDir));
  // Temp files of puts that a crash interrupted. Another process may be mid-put right now, so only
  // files older than any put could take are removed.
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(abs / kStagingDir, ec)) {
    std::error_code ec2;
    if (e.is_regular_file(ec2) && e.last_write_time(ec2) < cutoff) fs::remove(e.path(), ec2);
  }
  return std::unique_ptr<LocalObjectStore>(new LocalObjectStore(abs));
}

bool IsS3Location(std::string_view location) {
  return location.starts_with("s3://") || location.starts_with("s3a://");
}

Result<std::unique_ptr<ObjectStore>> OpenLakeStore(std::string_view location, bool create) {
  if (location.empty())
    return Status::InvalidArgument("the lake location is empty; give a directory with --lake");
  if (IsS3Location(location)) {
    SC_ASSIGN_OR_RETURN(S3Config config, S3Config::FromEnvironment(location));
    SC_ASSIGN_OR_RETURN(auto s3, S3ObjectStore::Open(std::move(config)));
    return std::unique_ptr<ObjectStore>(std::move(s3));
  }
  auto local = LocalObjectStore::Open(fs::path(std::string(location)), create);
  if (!local.ok()) return local.status();
  return std::unique_ptr<ObjectStore>(std::move(*local));
}

std::string LocalObjectStore::Describe() const {
  return "local directory " + root_.string();
}

std::optional<fs::path> LocalObjectStore::LocalPath(std::string_view key) const {
  if (!ValidateKey(key).ok()) return std::nullopt;
  return root_ / fs::path(std::string(key));
}

Result<fs::path> LocalObjectStore::Stage(std::string_view bytes, const fs::path* source) {
  fs::path staged = root_ / kStagingDir / ("put-" + UniqueSuffix());
  int fd = ::open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {
    // Someone removed the staging folder; make it again.
    SC_RETURN_IF_ERROR(MakeDirs(staged.parent_path()));
    fd = ::open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  }
  if (fd < 0) return ErrnoStatus("cannot create", staged, errno);
  Status s;
  if (source == nullptr) {
    s = WriteAll(fd, bytes.data(), bytes.size(), staged);
  } else {
    int in = ::open(source->c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
      s = ErrnoStatus("cannot read", *source, errno);
    } else {
      std::string buf(1 << 20, '\0');
      while (s.ok()) {
        ssize_t r = ::read(in, buf.data(), buf.size());
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
          s = ErrnoStatus("cannot read", *source, errno);
          break;
        }
        if (r == 0) break;
        s = WriteAll(fd, buf.data(), static_cast<size_t>(r), staged);
      }
      ::close(in);
    }
  }
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus("cannot fsync", staged, errno);
  ::close(fd);
  if (!s.ok()) {
    ::unlink(staged.c_str());
    return s;
  }
  return staged;
}

Status LocalObjectStore::Publish(std::string_view key, const fs::path& staged, bool if_absent) {
  fs::path dest = root_ / fs::path(std::string(key));
  Status s = MakeDirs(dest.parent_path());
  if (s.ok()) {
    if (if_absent) {
      // link(2) creates the name only if it does not exist: the atomic "put if absent".
      if (::link(staged.c_str(), dest.c_str()) != 0) {
        int err = errno;
        s = err == EEXIST ? Status::AlreadyExists(fmt::format("object {} already exists", key))
                          : ErrnoStatus("cannot create", dest, err);
      }
      ::unlink(staged.c_str());
    } else if (::rename(staged.c_str(), dest.c_str()) != 0) {
      s = ErrnoStatus("cannot create", dest, errno);
    }
  }
  if (!s.ok()) {
    ::unlink(staged.c_str());
    return s;
  }
  return FsyncPath(dest.parent_path(), true);
}

Status LocalObjectStore::Put(std::string_view key, std::string_view bytes) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  SC_ASSIGN_OR_RETURN(fs::path staged, Stage(bytes, nullptr));
  return Publish(key, staged, false);
}

Status LocalObjectStore::PutIfAbsent(std::string_view key, std::string_view bytes) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  SC_ASSIGN_OR_RETURN(fs::path staged, Stage(bytes, nullptr));
  return Publish(key, staged, true);
}

Status LocalObjectStore::PutFile(std::string_view key, const fs::path& local_file) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  // Same filesystem: a hard link shares the bytes without copying them (after an fsync, so the data
  // is durable before the name). Otherwise copy.
  fs::path staged = root_ / kStagingDir / ("put-" + UniqueSuffix());
  if (::link(local_file.c_str(), staged.c_str()) == 0) {
    Status synced = FsyncPath(staged, false);
    if (!synced.ok()) {
      ::unlink(staged.c_str());
      return synced;
    }
    return Publish(key, staged, false);
  }
  SC_ASSIGN_OR_RETURN(staged, Stage({}, &local_file));
  return Publish(key, staged, false);
}

Result<std::string> LocalObjectStore::Get(std::string_view key) {
  return GetRange(key, 0, UINT64_MAX);
}

Result<std::string> LocalObjectStore::GetRange(std::string_view key, uint64_t offset,
                                               uint64_t length) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  return ReadRange(root_ / fs::path(std::string(key)), offset, length);
}

Result<ObjectInfo> LocalObjectStore::Head(std::string_view key) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  fs::path p = root_ / fs::path(std::string(key));
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return ErrnoStatus("no object", p, errno);
  if (!S_ISREG(st.st_mode))
    return Status::NotFound(fmt::format("no object {} in {}", key, Describe()));
  return ObjectInfo{std::string(key), static_cast<uint64_t>(st.st_size), MTime(st)};
}

Result<std::vector<ObjectInfo>> LocalObjectStore::List(std::string_view prefix) {
  std::vector<ObjectInfo> out;
  // Walk only the deepest folder that the prefix names completely.
  std::string_view dir_part =
      prefix.substr(0, prefix.rfind('/') == std::string_view::npos ? 0 : prefix.rfind('/'));
  fs::path start = dir_part.empty() ? root_ : root_ / fs::path(std::string(dir_part));
  std::error_code ec;
  if (!fs::is_directory(start, ec)) return out;
  fs::recursive_directory_iterator it(start, fs::directory_options::skip_permission_denied, ec);
  if (ec) return ErrnoStatus("cannot list", start, ec.value());
  const std::string root_str = root_.string() + "/";
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return ErrnoStatus("cannot list", start, ec.value());
    const fs::path& p = it->path();
    if (it.depth() == 0 && dir_part.empty() && p.filename() == kStagingDir) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::string key = p.string().substr(root_str.size());
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    out.push_back(ObjectInfo{std::move(key), static_cast<uint64_t>(st.st_size), MTime(st)});
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status LocalObjectStore::Delete(std::string_view key) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  fs::path p = root_ / fs::path(std::string(key));
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("cannot delete", p, errno);
  return Status::OK();
}

// ----------------------------------------------------------------------------- InMemoryObjectStore

Status InMemoryObjectStore::Put(std::string_view key, std::string_view bytes) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  MutexLock lock(&mu_);
  objects_[std::string(key)] = Object{std::string(bytes), std::chrono::system_clock::now()};
  return Status::OK();
}

Status InMemoryObjectStore::PutIfAbsent(std::string_view key, std::string_view bytes) {
  SC_RETURN_IF_ERROR(ValidateKey(key));
  MutexLock lock(&mu_);
  auto [it, inserted] = objects_.try_emplace(std::string(key));
  if (!inserted) return Status::AlreadyExists(fmt::format("object {} already exists", key));
  it->second = Object{std::string(bytes), std::chrono::system_clock::now()};
  return Status::OK();
}

Status InMemoryObjectStore::PutFile(std::string_view key, const fs::path& local_file) {
  SC_ASSIGN_OR_RETURN(std::string bytes, ReadRange(local_file, 0, UINT64_MAX));
  return Put(key, bytes);
}

Result<std::string> InMemoryObjectStore::Get(std::string_view key) {
  return GetRange(key, 0, UINT64_MAX);
}

Result<std::string> InMemoryObjectStore::GetRange(std::string_view key, uint64_t offset,
                                                  uint64_t length) {
  MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end())
    return Status::NotFound(fmt::format("no object {} in the in-memory store", key));
  const std::string& b = it->second.bytes;
  uint64_t begin = std::min<uint64_t>(offset, b.size());
  return b.substr(begin, std::min<uint64_t>(length, b.size() - begin));
}

Result<ObjectInfo> InMemoryObjectStore::Head(std::string_view key) {
  MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end())
    return Status::NotFound(fmt::format("no object {} in the in-memory store", key));
  return ObjectInfo{it->first, it->second.bytes.size(), it->second.modified};
}

Result<std::vector<ObjectInfo>> InMemoryObjectStore::List(std::string_view prefix) {
  MutexLock lock(&mu_);
  std::vector<ObjectInfo> out;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(ObjectInfo{it->first, it->second.bytes.size(), it->second.modified});
  }
  return out;
}

Status InMemoryObjectStore::Delete(std::string_view key) {
  MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) objects_.erase(it);
  return Status::OK();
}

void InMemoryObjectStore::SetModified(std::string_view key,
                                      std::chrono::system_clock::time_point t) {
  MutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) it->second.modified = t;
}

// ------------------------------------------------------------------------
// FaultInjectingObjectStore

void FaultInjectingObjectStore::AddRule(Rule r) {
  MutexLock lock(&mu_);
  rules_.push_back(RuleState{std::move(r)});
}

void FaultInjectingObjectStore::ClearRules() {
  MutexLock lock(&mu_);
  rules_.clear();
}

void FaultInjectingObjectStore::Revive() {
  MutexLock lock(&mu_);
  crashed_ = false;
  rules_.clear();
}

bool FaultInjectingObjectStore::crashed() const {
  MutexLock lock(&mu_);
  return crashed_;
}

int FaultInjectingObjectStore::calls(Op op) const {
  MutexLock lock(&mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

FaultInjectingObjectStore::Decision FaultInjectingObjectStore::Decide(Op op, std::string_view key) {
  MutexLock lock(&mu_);
  ++calls_[op];
  ++calls_[Op::kAny];
  Decision d;
  if (crashed_) {
    d.fail_before = true;
    d.error = Status::Aborted("simulated crash: the object store is gone");
    return d;
  }
  for (RuleState& rs : rules_) {
    const Rule& r = rs.rule;
    if (r.op != Op::kAny && r.op != op) continue;
    if (!r.key_contains.empty() && key.find(r.key_contains) == std::string_view::npos) continue;
    ++rs.seen;
    if (rs.seen < r.nth) continue;
    if (r.times >= 0 && rs.fired >= r.times) continue;
    ++rs.fired;
    if (r.crash) crashed_ = true;
    d.on_fire = r.on_fire;
    if (r.error == ErrorKind::kOk) return d;  // a pure hook: run on_fire, then the operation
    d.fail_before = r.when == When::kBefore;
    d.fail_after = r.when == When::kAfter;
    d.error =
        Status(r.error, fmt::format("injected {} fault on {}", r.crash ? "crash" : "store", key));
    if (r.retries_spent) d.error = d.error.WithRetriesSpent();
    return d;
  }
  return d;
}

Status FaultInjectingObjectStore::Run(Op op, std::string_view key,
                                      const std::function<Status()>& do_op) {
  Decision d = Decide(op, key);
  if (d.on_fire) d.on_fire();
  if (d.fail_before) return d.error;
  Status s = do_op();
  if (d.fail_after) return d.error;
  return s;
}

Status FaultInjectingObjectStore::Put(std::string_view key, std::string_view bytes) {
  return Run(Op::kPut, key, [&] { return base_->Put(key, bytes); });
}

Status FaultInjectingObjectStore::PutIfAbsent(std::string_view key, std::string_view bytes) {
  return Run(Op::kPutIfAbsent, key, [&] { return base_->PutIfAbsent(key, bytes); });
}

Status FaultInjectingObjectStore::PutFile(std::string_view key, const fs::path& local_file) {
  return Run(Op::kPutFile, key, [&] { return base_->PutFile(key, local_file); });
}

Result<std::string> FaultInjectingObjectStore::Get(std::string_view key) {
  std::optional<Result<std::string>> r;
  Status s = Run(Op::kGet, key, [&] {
    r.emplace(base_->Get(key));
    return r->status();
  });
  if (!s.ok()) return s;
  return std::move(*r);
}

Result<std::string> FaultInjectingObjectStore::GetRange(std::string_view key, uint64_t offset,
                                                        uint64_t length) {
  std::optional<Result<std::string>> r;
  Status s = Run(Op::kGetRange, key, [&] {
    r.emplace(base_->GetRange(key, offset, length));
    return r->status();
  });
  if (!s.ok()) return s;
  return std::move(*r);
}

Result<ObjectInfo> FaultInjectingObjectStore::Head(std::string_view key) {
  std::optional<Result<ObjectInfo>> r;
  Status s = Run(Op::kHead, key, [&] {
    r.emplace(base_->Head(key));
    return r->status();
  });
  if (!s.ok()) return s;
  return std::move(*r);
}

Result<std::vector<ObjectInfo>> FaultInjectingObjectStore::List(std::string_view prefix) {
  std::optional<Result<std::vector<ObjectInfo>>> r;
  Status s = Run(Op::kList, prefix, [&] {
    r.emplace(base_->List(prefix));
    return r->status();
  });
  if (!s.ok()) return s;
  return std::move(*r);
}

Status FaultInjectingObjectStore::Delete(std::string_view key) {
  return Run(Op::kDelete, key, [&] { return base_->Delete(key); });
}

}  // namespace smartcity::lake
