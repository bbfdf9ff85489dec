#include "transport/kafka_cluster_testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

extern char** environ;

namespace smartcity {
namespace {

std::string SourceDir() {
#ifdef SMARTCITY_SOURCE_DIR
  return SMARTCITY_SOURCE_DIR;
#else
  const char* env = std::getenv("SMARTCITY_SOURCE_DIR");
  return env != nullptr ? env : ".";
#endif
}

// The last `max_lines` lines of `text`, so error messages stay readable.
std::string Tail(const std::string& text, int max_lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < max_lines && pos > 0; ++n) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return pos == 0 ? text : text.substr(pos + 1);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

class Pipe {
 public:
  Pipe() {
    if (pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  bool ok() const { return fds_[0] >= 0; }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void CloseRead() { Close(0); }
  void CloseWrite() { Close(1); }

 private:
  void Close(int i) {
    if (fds_[i] >= 0) close(fds_[i]);
    fds_[i] = -1;
  }
  int fds_[2];
};

}  // namespace

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::string& input,
                                 std::chrono::seconds timeout) {
  if (argv.empty()) return Status::InvalidArgument("RunProcess needs a program to run");
  Pipe in, out, err;
  if (!in.ok() || !out.ok() || !err.ok())
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read_end(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write_end(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.write_end(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  // We ignore SIGPIPE (a child that exits without reading its input must not kill the test), but
  // the child gets the default back: ignored signals would survive exec.
  signal(SIGPIPE, SIG_IGN);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::NotFound("cannot run " + argv[0] + ": " + std::strerror(rc));
  in.CloseRead();
  out.CloseWrite();
  err.CloseWrite();

  // Feed stdin and drain stdout/stderr together so neither side can block on a full pipe.
  ProcessResult result;
  size_t written = 0;
  if (input.empty())
    in.CloseWrite();
  else
    fcntl(in.write_end(), F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (out.read_end() >= 0 || err.read_end() >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out.read_end() >= 0) {
      fds[n] = {out.read_end(), POLLIN, 0};
      out_i = n++;
    }
    if (err.read_end() >= 0) {
      fds[n] = {err.read_end(), POLLIN, 0};
      err_i = n++;
    }
    if (in.write_end() >= 0) {
      fds[n] = {in.write_end(), POLLOUT, 0};
      in_i = n++;
    }
    int ready = poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buf[65536];
    auto drain = [&](int idx, Pipe& pipe, std::string& sink) {
      if (idx < 0 || fds[idx].revents == 0) return;
      ssize_t got = read(pipe.read_end(), buf, sizeof buf);
      if (got > 0)
        sink.append(buf, static_cast<size_t>(got));
      else if (got == 0 || errno != EINTR)
        pipe.CloseRead();
    };
    drain(out_i, out, result.out);
    drain(err_i, err, result.err);
    if (in_i >= 0 && fds[in_i].revents != 0) {
      ssize_t put = write(in.write_end(), input.data() + written, input.size() - written);
      if (put > 0) written += static_cast<size_t>(put);
      if (put < 0 && errno != EAGAIN && errno != EINTR) in.CloseWrite();  // reader went away
      if (written == input.size()) in.CloseWrite();
    }
  }
  in.CloseWrite();
  if (timed_out) kill(pid, SIGKILL);
  // The child may have closed its output and still run: the deadline holds for its exit too.
  int wstatus = 0;
  for (;;) {
    pid_t done = waitpid(pid, &wstatus, timed_out ? 0 : WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (done == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        timed_out = true;
        kill(pid, SIGKILL);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  if (timed_out) {
    return Status::Timeout(Join(argv) + " did not finish within " +
                           std::to_string(timeout.count()) +
                           " s; stderr so far: " + Tail(result.err, 20));
  }
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return result;
}

LocalKafkaCluster::LocalKafkaCluster(std::string script, std::string dir, std::string bootstrap,
                                     int nodes)
    : script_(std::move(script)),
      dir_(std::move(dir)),
      bootstrap_(std::move(bootstrap)),
      nodes_(nodes) {
  std::stringstream ss(bootstrap_);
  std::string address;
  while (std::getline(ss, address, ',')) node_addresses_.push_back(address);
}

Result<std::unique_ptr<LocalKafkaCluster>> LocalKafkaCluster::Start(int nodes) {
  if (nodes < 1 || nodes > 9)
    return Status::InvalidArgument("a local Kafka cluster has 1..9 nodes");
  std::string script = SourceDir() + "/scripts/kafka.sh";
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/smartcity-kafka-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    return Status::IOError("cannot create a temporary directory for Kafka: " +
                           std::string(std::strerror(errno)));
  }
  std::string dir = buf.data();
  SC_ASSIGN_OR_RETURN(ProcessResult r,
                      RunProcess({"bash", script, "start", "--dir", dir, "--brokers",
                                  std::to_string(nodes), "--watch-pid", std::to_string(getpid())},
                                 {}, std::chrono::seconds(900)));
  std::string bootstrap = Trim(r.out);
  if (r.exit_code != 0 || bootstrap.empty()) {
    std::error_code ignored;
    if (std::getenv("SMARTCITY_KEEP_KAFKA_DIR") == nullptr)
      std::filesystem::remove_all(dir, ignored);
    return Status::Unavailable("could not start a local " + std::to_string(nodes) +
                               "-node Kafka with scripts/kafka.sh (exit " +
                               std::to_string(r.exit_code) + "):\n" + Tail(r.err, 60));
  }
  return std::unique_ptr<LocalKafkaCluster>(new LocalKafkaCluster(script, dir, bootstrap, nodes));
}

LocalKafkaCluster::~LocalKafkaCluster() {
  Status s = RunScript({"stop", "--dir", dir_});
  if (!s.ok()) fprintf(stderr, "LocalKafkaCluster: %s\n", s.message().c_str());
  if (std::getenv("SMARTCITY_KEEP_KAFKA_DIR") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string LocalKafkaCluster::NodeAddress(int node) const {
  return node_addresses_.at(node - 1);
}

Status LocalKafkaCluster::RunScript(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv = {"bash", script_};
  argv.insert(argv.end(), args.begin(), args.end());
  SC_ASSIGN_OR_RETURN(ProcessResult r, RunProcess(argv, {}, std::chrono::seconds(600)));
  if (r.exit_code != 0) {
    return Status::Unavailable("scripts/kafka.sh " + Join(args) + " failed (exit " +
                               std::to_string(r.exit_code) + "):\n" + Tail(r.err, 40));
  }
  if (out != nullptr) *out = std::move(r.out);
  return Status::OK();
}

Status LocalKafkaCluster::StopNode(int node) {
  return RunScript({"stop-node", "--dir", dir_, "--node", std::to_string(node)});
}
Status LocalKafkaCluster::StartNode(int node) {
  return RunScript({"start-node", "--dir", dir_, "--node", std::to_string(node)});
}
Status LocalKafkaCluster::KillNode(int node) {
  return RunScript({"kill-node", "--dir", dir_, "--node", std::to_string(node)});
}

Result<std::string> LocalKafkaCluster::RunTool(const std::string& main_class,
                                               const std::vector<std::string>& args) {
  std::vector<std::string> script_args = {"run-class", main_class};
  script_args.insert(script_args.end(), args.begin(), args.end());
  std::string out;
  SC_RETURN_IF_ERROR(RunScript(script_args, &out));
  return out;
}

Status LocalKafkaCluster::CreateTopic(const std::string& name, int partitions, int replication) {
  SC_RETURN_IF_ERROR(
      RunScript({"create-topic", "--dir", dir_, "--topic", name, "--partitions",
                 std::to_string(partitions), "--replication", std::to_string(replication)}));
  // The controller has the topic; wait until a broker's metadata shows a leader for every
  // partition.
  const std::string header =
      "topic \"" + name + "\" with " + std::to_string(partitions) + " partitions:";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    SC_ASSIGN_OR_RETURN(ProcessResult r,
                        RunProcess({"kcat", "-L", "-b", bootstrap_, "-t", name, "-m", "5"}));
    last = r.out + r.err;
    if (r.exit_code == 0 && r.out.find(header) != std::string::npos &&
        r.out.find("leader -1") == std::string::npos &&
        r.out.find("Broker:") == std::string::npos) {
      return Status::OK();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Timeout("topic " + name +
                         " was created but its partitions have no leaders after 60 s:\n" +
                         Tail(last, 20));
}

}  // namespace smartcity
