// kafka_group_member: one member of a Kafka consumer group reading the five co-partitioned topics
// through KafkaSource and writing its output exactly once, the way the stream processor will. Used
// by kafka_source_itest.cc, which runs several of these against a real broker and kill -9's some.
//
// Shared directory DIR (all members of the group use the same one):
//   DIR/out/<topic>-<p>.dat   the output: one line "<offset>\t<value>\n" per record of that
//   partition DIR/ckpt/p<p>             the checkpoint of partition group p (partition p of every
//   topic):
//                             "<topic> <next offset|-> <output length>" per topic; replaced
//                             atomically (write temp, fsync, rename, fsync dir)
//   DIR/assignments.log       one line per assignment change: "<name> assigned
//   vehicle_data:0,1;..."
//
// Protocol: records are appended to the output files after every batch (not synced); a checkpoint
// of group p fsyncs them, then replaces ckpt/p<p> with the positions the source reports and the
// file lengths. On assignment the member truncates each output file to its checkpointed length and
// starts reading at the checkpointed offset, so output past the last checkpoint (written by a
// member that died) is discarded and produced again exactly once. Checkpoints happen every
// --checkpoint-ms, on revocation (not when lost) and at exit (SIGTERM/SIGINT).
//
// Usage: kafka_group_member --bootstrap B --group G --dir DIR --name NAME [--topic-prefix P]
//          [--batch N] [--checkpoint-ms MS] [--max-rate RECORDS_PER_S] [--max-runtime-s S]
// Exit: 0 after a clean stop, 1 on an error (message on stderr), 2 on bad usage.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "transport/kafka_source.h"

namespace smartcity {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) {
  g_stop = true;
}

struct Args {
  std::string bootstrap, group, dir, name, topic_prefix;
  size_t batch = 2000;
  int checkpoint_ms = 50;
  double max_rate = 0;  // 0: unthrottled
  int max_runtime_s = 600;
};

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status FsyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError("cannot fsync " + path + ": " + std::strerror(errno));
  return Status::OK();
}

class Member final : public PositionStore, public RebalanceListener {
 public:
  explicit Member(Args args) : args_(std::move(args)) {
    for (Topic t : kAllTopics) names_[t] = args_.topic_prefix + std::string(DefaultTopicName(t));
  }
  const TopicNames& names() const { return names_; }
  void Attach(KafkaSource* source) { source_ = source; }

  // Reads ckpt/p<p> for each partition group in `partitions` and remembers the output lengths.
  Status LoadPositions(std::span<const TopicPartition> partitions,
                       std::span<std::optional<SourcePosition>> out) override {
    loaded_.clear();
    for (size_t i = 0; i < partitions.size(); ++i) {
      const int32_t p = partitions[i].partition.value();
      if (!loaded_.contains(p)) {
        SC_ASSIGN_OR_RETURN(auto ckpt, ReadCheckpoint(p));
        loaded_[p] = ckpt;
      }
      const auto& entry = loaded_[p][static_cast<size_t>(partitions[i].topic)];
      out[i] = entry.offset;
    }
    return Status::OK();
  }

  void OnPartitionsAssigned(std::span<const PartitionPosition> positions) override {
    std::map<Topic, std::vector<int32_t>> by_topic;
    for (const PartitionPosition& pp : positions) {
      by_topic[pp.tp.topic].push_back(pp.tp.partition.value());
      const int32_t p = pp.tp.partition.value();
      Group& g = groups_[p];
      const size_t t = static_cast<size_t>(pp.tp.topic);
      const std::string path = OutPath(pp.tp.topic, p);
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) Die(Status::IOError("cannot open " + path + ": " + std::strerror(errno)));
      const int64_t length = loaded_[p][t].length;
      // Output beyond the checkpoint was written by a member that died before checkpointing it: the
      // records behind it are read again from the checkpointed offset.
      if (::ftruncate(fd, length) != 0 || ::lseek(fd, length, SEEK_SET) != length) {
        Die(Status::IOError("cannot truncate " + path + ": " + std::strerror(errno)));
      }
      g.fd[t] = fd;
      g.length[t] = length;
      g.owned[t] = true;
    }
    loaded_.clear();
    std::string line = args_.name + " assigned";
    bool first_topic = true;
    for (const auto& [t, parts] : by_topic) {
      line += first_topic ? " " : ";";
      first_topic = false;
      line += names_[t] + ":";
      for (size_t i = 0; i < parts.size(); ++i) line += (i ? "," : "") + std::to_string(parts[i]);
    }
    Log(line);
  }

  void OnPartitionsRevoked(std::span<const TopicPartition> partitions, bool lost) override {
    std::vector<int32_t> ps;
    for (const TopicPartition& tp : partitions) ps.push_back(tp.partition.value());
    std::sort(ps.begin(), ps.end());
    ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
    if (!lost) {
      if (Status s = Checkpoint(ps); !s.ok()) Die(s);
    }
    for (const TopicPartition& tp : partitions) {
      auto it = groups_.find(tp.partition.value());
      if (it == groups_.end()) continue;
      const size_t t = static_cast<size_t>(tp.topic);
      if (it->second.fd[t] >= 0) ::close(it->second.fd[t]);
      it->second.fd[t] = -1;
      it->second.owned[t] = false;
      it->second.buffer[t].clear();
      bool any = false;
      for (bool o : it->second.owned) any = any || o;
      if (!any) groups_.erase(it);
    }
    Log(args_.name + (lost ? " lost " : " revoked ") + std::to_string(partitions.size()) +
        " partitions");
  }

  void Append(const SourceRecord& r) {
    std::string& buf = groups_[r.partition.value()].buffer[static_cast<size_t>(r.topic)];
    buf += std::to_string(r.position.value());
    buf += '\t';
    buf += r.value;
    buf += '\n';
  }

  // Writes the buffered output to the files without syncing: like a processor's data files, output
  // is on disk before the checkpoint that commits it, so a kill leaves uncommitted output behind.
  Status WriteBuffers() {
    for (auto& [p, g] : groups_) {
      for (Topic t : kAllTopics) {
        const size_t i = static_cast<size_t>(t);
        if (g.buffer[i].empty()) continue;
        SC_RETURN_IF_ERROR(WriteAll(g.fd[i], g.buffer[i], OutPath(t, p)));
        g.length[i] += static_cast<int64_t>(g.buffer[i].size());
        g.buffer[i].clear();
      }
    }
    return Status::OK();
  }

  Status CheckpointAll() {
    std::vector<int32_t> ps;
    for (const auto& [p, g] : groups_) ps.push_back(p);
    return Checkpoint(ps);
  }

 private:
  struct Entry {
    std::optional<SourcePosition> offset;
    int64_t length = 0;
  };
  using GroupCheckpoint = std::array<Entry, kTopicCount>;
  struct Group {
    std::array<int, kTopicCount> fd{-1, -1, -1, -1, -1};
    std::array<int64_t, kTopicCount> length{};
    std::array<bool, kTopicCount> owned{};
    std::array<std::string, kTopicCount> buffer;
  };

  std::string OutPath(Topic t, int32_t p) const {
    return args_.dir + "/out/" + names_[t] + "-" + std::to_string(p) + ".dat";
  }
  std::string CkptPath(int32_t p) const { return args_.dir + "/ckpt/p" + std::to_string(p); }

  Result<GroupCheckpoint> ReadCheckpoint(int32_t p) const {
    GroupCheckpoint c;
    std::ifstream in(CkptPath(p));
    if (!in) return c;  // no checkpoint: from the earliest offset, empty output
    std::string topic, offset;
    int64_t length;
    while (in >> topic >> offset >> length) {
      const auto t = names_.Find(topic);
      if (!t)
        return Status::Corruption("checkpoint " + CkptPath(p) + " names unknown topic " + topic);
      c[static_cast<size_t>(*t)].length = length;
      if (offset != "-") c[static_cast<size_t>(*t)].offset = SourcePosition(std::stoll(offset));
    }
    if (!in.eof()) return Status::Corruption("checkpoint " + CkptPath(p) + " is malformed");
    return c;
  }

  Status Checkpoint(const std::vector<int32_t>& ps) {
    if (ps.empty()) return Status::OK();
    std::map<TopicPartition, std::optional<SourcePosition>> pos;
    for (const PartitionPosition& pp : source_->Positions()) pos[pp.tp] = pp.next;
    for (int32_t p : ps) {
      auto it = groups_.find(p);
      if (it == groups_.end()) continue;
      Group& g = it->second;
      std::string text;
      for (Topic t : kAllTopics) {
        const size_t i = static_cast<size_t>(t);
        if (!g.owned[i])
          return Status::Internal("partition group " + std::to_string(p) +
                                  " is not co-partitioned here");
        if (!g.buffer[i].empty()) {
          SC_RETURN_IF_ERROR(WriteAll(g.fd[i], g.buffer[i], OutPath(t, p)));
          g.length[i] += static_cast<int64_t>(g.buffer[i].size());
          g.buffer[i].clear();
        }
        if (::fdatasync(g.fd[i]) != 0) return Status::IOError("cannot fsync " + OutPath(t, p));
        const auto& next = pos[TopicPartition{t, PartitionId(p)}];
        text += names_[t] + " " + (next ? std::to_string(next->value()) : std::string("-")) + " " +
                std::to_string(g.length[i]) + "\n";
      }
      const std::string tmp = CkptPath(p) + "." + std::to_string(::getpid()) + ".tmp";
      const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) return Status::IOError("cannot create " + tmp + ": " + std::strerror(errno));
      Status s = WriteAll(fd, text, tmp);
      if (s.ok() && ::fsync(fd) != 0) s = Status::IOError("cannot fsync " + tmp);
      ::close(fd);
      SC_RETURN_IF_ERROR(s);
      if (::rename(tmp.c_str(), CkptPath(p).c_str()) != 0) {
        return Status::IOError("cannot rename " + tmp + ": " + std::strerror(errno));
      }
    }
    return FsyncPath(args_.dir + "/ckpt");
  }

  void Log(const std::string& line) {
    const std::string path = args_.dir + "/assignments.log";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    (void)WriteAll(fd, line + "\n", path);
    ::close(fd);
  }

  [[noreturn]] void Die(const Status& s) {
    std::fprintf(stderr, "kafka_group_member %s: %s\n", args_.name.c_str(), s.message().c_str());
    std::_Exit(1);
  }

  Args args_;
  TopicNames names_;
  KafkaSource* source_ = nullptr;
  std::map<int32_t, GroupCheckpoint> loaded_;  // between LoadPositions and OnPartitionsAssigned
  std::map<int32_t, Group> groups_;
};

int Usage(const char* msg) {
  std::fprintf(
      stderr,
      "kafka_group_member: %s\nusage: kafka_group_member --bootstrap B --group G --dir DIR --name "
      "NAME "
      "[--topic-prefix P] [--batch N] [--checkpoint-ms MS] [--max-rate R] [--max-runtime-s S]\n",
      msg);
  return 2;
}

int Main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return Usage(("missing value for " + k).c_str());
    const std::string v = argv[++i];
    try {
      if (k == "--bootstrap")
        a.bootstrap = v;
      else if (k == "--group")
        a.group = v;
      else if (k == "--dir")
        a.dir = v;
      else if (k == "--name")
        a.name = v;
      else if (k == "--topic-prefix")
        a.topic_prefix = v;
      else if (k == "--batch")
        a.batch = std::stoul(v);
      else if (k == "--checkpoint-ms")
        a.checkpoint_ms = std::stoi(v);
      else if (k == "--max-rate")
        a.max_rate = std::stod(v);
      else if (k == "--max-runtime-s")
        a.max_runtime_s = std::stoi(v);
      else
        return Usage(("unknown option " + k).c_str());
    } catch (const std::exception&) {
      return Usage(("bad value for " + k + ": " + v).c_str());
    }
  }
  if (a.bootstrap.empty() || a.group.empty() || a.dir.empty() || a.name.empty() || a.batch == 0) {
    return Usage("--bootstrap, --group, --dir and --name are required");
  }
  ::mkdir((a.dir + "/out").c_str(), 0755);
  ::mkdir((a.dir + "/ckpt").c_str(), 0755);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  Member member(a);
  KafkaSourceOptions options;
  options.kafka.bootstrap_servers = a.bootstrap;
  options.kafka.client_id = "kafka_group_member-" + a.name;
  options.kafka.topics = member.names();
  options.group_id = a.group;
  options.connect_timeout = std::chrono::seconds(30);
  // Notice a dead member quickly (the broker's minimum session timeout is 6 s).
  options.kafka.properties = {{"session.timeout.ms", "6000"},
                              {"heartbeat.interval.ms", "1000"},
                              {"max.poll.interval.ms", "30000"}};
  auto source = KafkaSource::Open(options, member, &member);
  if (!source.ok()) {
    std::fprintf(stderr, "kafka_group_member %s: %s\n", a.name.c_str(),
                 source.status().message().c_str());
    return 1;
  }
  member.Attach(source->get());

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last_checkpoint = start;
  uint64_t total = 0;
  while (!g_stop) {
    if (Clock::now() - start > std::chrono::seconds(a.max_runtime_s)) {
      std::fprintf(stderr, "kafka_group_member %s: --max-runtime-s reached\n", a.name.c_str());
      break;
    }
    auto batch = (*source)->Poll(a.batch, std::chrono::milliseconds(100));
    if (!batch.ok()) {
      if (batch.status().IsRetryable()) continue;
      std::fprintf(stderr, "kafka_group_member %s: %s\n", a.name.c_str(),
                   batch.status().message().c_str());
      return 1;
    }
    for (const SourceRecord& r : *batch) member.Append(r);
    total += batch->size();
    if (Status s = member.WriteBuffers(); !s.ok()) {
      std::fprintf(stderr, "kafka_group_member %s: %s\n", a.name.c_str(), s.message().c_str());
      return 1;
    }
    if (Clock::now() - last_checkpoint >= std::chrono::milliseconds(a.checkpoint_ms)) {
      if (Status s = member.CheckpointAll(); !s.ok()) {
        std::fprintf(stderr, "kafka_group_member %s: %s\n", a.name.c_str(), s.message().c_str());
        return 1;
      }
      last_checkpoint = Clock::now();
    }
    if (a.max_rate > 0) {
      const auto due =
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(total) / a.max_rate));
      std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::seconds(1)));
    }
  }
  if (Status s = member.CheckpointAll(); !s.ok()) {
    std::fprintf(stderr, "kafka_group_member %s: %s\n", a.name.c_str(), s.message().c_str());
    return 1;
  }
  if (Status s = (*source)->Close(); !s.ok()) {
    std::fprintf(stderr, "kafka_group_member %s: %s\n", a.name.c_str(), s.message().c_str());
  }
  std::fprintf(stderr, "kafka_group_member %s: read %llu records\n", a.name.c_str(),
               static_cast<unsigned long long>(total));
  return 0;
}

}  // namespace
}  // namespace smartcity

int main(int argc, char** argv) {
  return smartcity::Main(argc, argv);
}
