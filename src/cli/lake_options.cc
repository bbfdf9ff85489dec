#include "cli/lake_options.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "lake/compaction.h"

namespace smartcity::cli {

namespace fs = std::filesystem;

CLI::Option* AddLakeOption(CLI::App* app, std::string* lake, bool with_default) {
  if (with_default) *lake = kDefaultLake;
  return app
      ->add_option("--lake", *lake,
                   with_default ? std::string("Lake root: a local folder or s3://bucket/prefix "
                                              "(docs/s3.md) [default: ") +
                                      kDefaultLake + "]"
                                : std::string("Lake root: a local folder or s3://bucket/prefix "
                                              "(docs/s3.md) [default: the catalog's lake, else ") +
                                      kDefaultLake + "]")
      ->envname("SMARTCITY_LAKE")
      ->type_name("DIR|S3URI");
}

CLI::Option* AddTableFormatOption(CLI::App* app, bool* iceberg) {
  return app
      ->add_option_function<std::vector<std::string>>(
          "--table-format",
          [iceberg](const std::vector<std::string>& formats) {
            bool delta = false;
            *iceberg = false;
            for (const std::string& f : formats) {
              if (f == "delta") delta = true;
              if (f == "iceberg") *iceberg = true;
            }
            if (!delta) {
              throw CLI::ValidationError(
                  "--table-format",
                  "must include delta (the source of truth): delta or delta,iceberg");
            }
          },
          "Metadata formats of the lake's tables: delta, or delta,iceberg to also keep Apache "
          "Iceberg metadata of the same data files (docs/lake_format.md) [default: delta]")
      ->delimiter(',')
      ->check(CLI::IsMember({"delta", "iceberg"}))
      ->type_name("delta[,iceberg]");
}

Status CheckLakeLocation(const std::string& lake, LakeAccess access) {
  if (lake.empty())
    return Status::InvalidArgument("--lake is empty: give a local folder or s3://bucket/prefix");
  if (lake::IsS3Location(lake)) return Status::OK();
  std::error_code ec;
  const fs::file_status st = fs::status(lake, ec);
  if (fs::exists(st) && !fs::is_directory(st)) {
    return Status::InvalidArgument(fmt::format(
        "--lake {} is a file, not a lake folder: give the folder `run` or `stream` writes", lake));
  }
  if (access == LakeAccess::kRead && !fs::exists(st)) {
    return Status::InvalidArgument(
        fmt::format("no lake at {}: the folder does not exist (give the folder `run` or `stream` "
                    "writes with --lake or SMARTCITY_LAKE)",
                    lake));
  }
  return Status::OK();
}

Result<std::unique_ptr<lake::ObjectStore>> OpenLake(const std::string& lake, LakeAccess access) {
  SC_RETURN_IF_ERROR(CheckLakeLocation(lake, access));
  return lake::OpenLakeStore(lake, /*create=*/access == LakeAccess::kWrite);
}

Status CheckTablesExist(lake::ObjectStore* store, const std::string& lake,
                        const std::vector<std::string>& wanted) {
  std::string missing;
  for (const std::string& t : wanted) {
    SC_ASSIGN_OR_RETURN(std::vector<lake::ObjectInfo> log, store->List(t + "/_delta_log/"));
    if (log.empty()) missing += (missing.empty() ? "" : ", ") + t;
  }
  if (missing.empty()) return Status::OK();
  // Only now the whole listing, for the message.
  SC_ASSIGN_OR_RETURN(std::vector<std::string> have, lake::ListTables(store, ""));
  std::string tables;
  for (const std::string& t : have) tables += (tables.empty() ? "" : ", ") + t;
  return Status::InvalidArgument(
      have.empty()
          ? fmt::format("{} is no lake: it has no Delta table (no table {}); give the "
                        "folder `run` or `stream` writes with --lake",
                        lake, missing)
          : fmt::format("the lake {} has no table {}; its tables are {}", lake, missing, tables));
}

}  // namespace smartcity::cli

namespace smartcity::cli {

Result<std::unique_ptr<LakeLock>> LakeLock::Acquire(const std::string& lake, Mode mode,
                                                    const std::string& command) {
  if (lake::IsS3Location(lake)) return std::unique_ptr<LakeLock>(new LakeLock(-1, mode));
  const fs::path path = fs::path(lake) / kFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError(fmt::format("cannot open the lake's lock file {}: {}", path.string(),
                                       std::strerror(errno)));
  }
  if (::flock(fd, (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder;
    char buf[256];
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0) holder.assign(buf, static_cast<size_t>(n));
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return Status::IOError(
          fmt::format("cannot lock the lake {} ({}): {}", lake, path.string(), std::strerror(err)));
    }
    return Status::AlreadyExists(fmt::format(
        "the lake {} is in use by {}; stop it first, or give this {} another --lake", lake,
        holder.empty() ? std::string("one or more `stream` processes") : holder, command));
  }
  if (mode == Mode::kExclusive) {
    const std::string who = fmt::format("`{}` (pid {})\n", command, ::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, who.data(), who.size(), 0) < 0) {
      // The lock holds without the note; only the message of a refused process is poorer.
    }
  }
  return std::unique_ptr<LakeLock>(new LakeLock(fd, mode));
}

LakeLock::~LakeLock() {
  if (fd_ < 0) return;
  // The note names a live holder only.
  if (mode_ == Mode::kExclusive && ::ftruncate(fd_, 0) != 0) {
  }
  ::close(fd_);
}

}  // namespace smartcity::cli
