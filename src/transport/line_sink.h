// LineSink: messages as text lines to stdout or a file, buffered and written with write(2).
//
// Formats (docs/formats/simulator_output.md):
//   jsonl  {"topic":"vehicle_data","key":"vehicle-0001","value":{...}}   one message per line; a
//   value
//          that is not well-formed JSON (injected fault) is carried as a JSON string instead.
//   tsv    topic<TAB>key<TAB>value                     (what kcat -K'\t' and the file source read)
//   value  the value alone, one per line
//
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <string>

#include "transport/sink.h"

namespace smartcity {

enum class LineFormat { kJsonl, kTsv, kValue };

Result<LineFormat> ParseLineFormat(std::string_view s);

class LineSink final : public Sink {
 public:
  // Writes to stdout (path "-") or creates/truncates `path`.
  static Result<std::unique_ptr<LineSink>> Open(const std::string& path, LineFormat format,
                                                const TopicNames& topics);
  ~LineSink() override;

  Status Write(std::span<const Message> batch) override;
  Status Flush(std::chrono::milliseconds timeout) override;
  const SinkCounters& counters() const override { return counters_; }
  std::string Describe() const override;

 private:
  LineSink(int fd, bool owns_fd, std::string path, LineFormat format, const TopicNames& topics);
  Status Drain();
  void Append(std::string_view s);
  void AppendJsonString(std::string_view s);

  int fd_;
  bool owns_fd_;
  std::string path_;
  LineFormat format_;
  TopicNames topics_;
  std::string buf_;
  size_t pending_since_flush_[kTopicCount] = {};
  SinkCounters counters_;
  Status sticky_;  // first write error; later writes fail fast with it
};

}  // namespace smartcity
