#include "transport/line_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace smartcity {

namespace {
constexpr size_t kBufferBytes = 1 << 20;
}

Result<LineFormat> ParseLineFormat(std::string_view s) {
  if (s == "jsonl") return LineFormat::kJsonl;
  if (s == "tsv") return LineFormat::kTsv;
  if (s == "value") return LineFormat::kValue;
  return Status::InvalidArgument("unknown output format '" + std::string(s) +
                                 "' (use jsonl, tsv or value)");
}

Result<std::unique_ptr<LineSink>> LineSink::Open(const std::string& path, LineFormat format,
                                                 const TopicNames& topics) {
  // A closed pipe (smartcity simulate | head) must be an error value, not a silent death by
  // SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (path == "-" || path.empty()) {
    return std::unique_ptr<LineSink>(new LineSink(STDOUT_FILENO, false, "stdout", format, topics));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError("cannot open output file '" + path + "': " + std::strerror(errno));
  }
  return std::unique_ptr<LineSink>(new LineSink(fd, true, path, format, topics));
}

LineSink::LineSink(int fd, bool owns_fd, std::string path, LineFormat format,
                   const TopicNames& topics)
    : fd_(fd), owns_fd_(owns_fd), path_(std::move(path)), format_(format), topics_(topics) {
  buf_.reserve(kBufferBytes + 64 * 1024);
}

LineSink::~LineSink() {
  (void)Drain();
  if (owns_fd_) ::close(fd_);
}

std::string LineSink::Describe() const {
  const char* f = format_ == LineFormat::kJsonl ? "jsonl"
                  : format_ == LineFormat::kTsv ? "tsv"
                                                : "value";
  return path_ + " (" + f + ")";
}

void LineSink::Append(std::string_view s) {
  buf_.append(s.data(), s.size());
}

void LineSink::AppendJsonString(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  buf_.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      buf_.push_back('\\');
      buf_.push_back(c);
    } else if (u < 0x20) {
      buf_.append("\\u00");
      buf_.push_back(kHex[u >> 4]);
      buf_.push_back(kHex[u & 15]);
    } else {
      buf_.push_back(c);
    }
  }
  buf_.push_back('"');
}

Status LineSink::Write(std::span<const Message> batch) {
  if (!sticky_.ok()) return sticky_;
  for (const Message& m : batch) {
    const std::string& topic = topics_[m.topic];
    switch (format_) {
      case LineFormat::kJsonl:
        Append("{\"topic\":\"");
        Append(topic);
        Append("\",\"key\":");
        AppendJsonString(m.key);
        Append(",\"value\":");
        if (m.json_ok) {
          Append(m.value);
        } else {
          AppendJsonString(m.value);
        }
        Append("}\n");
        break;
      case LineFormat::kTsv:
        Append(topic);
        buf_.push_back('\t');
        Append(m.key);
        buf_.push_back('\t');
        Append(m.value);
        buf_.push_back('\n');
        break;
      case LineFormat::kValue:
        Append(m.value);
        buf_.push_back('\n');
        break;
    }
    const auto t = static_cast<size_t>(m.topic);
    counters_.sent[t]++;
    counters_.bytes += m.value.size();
    pending_since_flush_[t]++;
    if (buf_.size() >= kBufferBytes) SC_RETURN_IF_ERROR(Drain());
  }
  return Status::OK();
}

Status LineSink::Drain() {
  if (!sticky_.ok()) return sticky_;
  size_t off = 0;
  while (off < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      for (size_t t = 0; t < kTopicCount; ++t) {
        counters_.failed[t] += pending_since_flush_[t];
        pending_since_flush_[t] = 0;
      }
      buf_.clear();
      if (err == EPIPE) {
        sticky_ = Status::IOError("output to " + path_ + " was closed by the reader");
      } else if (err == ENOSPC) {
        sticky_ = Status::IOError("disk full while writing " + path_ +
                                  ": free space or choose another --output");
      } else {
        sticky_ = Status::IOError("cannot write " + path_ + ": " + std::strerror(err));
      }
      return sticky_;
    }
    off += static_cast<size_t>(n);
  }
  buf_.clear();
  for (size_t t = 0; t < kTopicCount; ++t) {
    counters_.delivered[t] += pending_since_flush_[t];
    pending_since_flush_[t] = 0;
  }
  return Status::OK();
}

Status LineSink::Flush(std::chrono::milliseconds) {
  return Drain();
}

}  // namespace smartcity
