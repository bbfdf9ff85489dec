#include "testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace smartcity::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

ExitStatus FromWaitStatus(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) s.code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) s.signal = WTERMSIG(wstatus);
  return s;
}

// Reaps `pid` if it has ended (or, with `block`, once it ends).
std::optional<ExitStatus> Reap(pid_t pid, bool block) {
  for (;;) {
    int wstatus = 0;
    const pid_t done = ::waitpid(pid, &wstatus, block ? 0 : WNOHANG);
    if (done == pid) return FromWaitStatus(wstatus);
    if (done == 0) return std::nullopt;
    if (errno != EINTR) return ExitStatus{};  // not our child: nothing to wait for
  }
}

// Waits until `pid` ends or `limit` passes, polling (1 ms doubling to 50 ms).
std::optional<ExitStatus> ReapWithin(pid_t pid, milliseconds limit) {
  const auto deadline = steady_clock::now() + limit;
  milliseconds pause(1);
  for (;;) {
    if (auto s = Reap(pid, false)) return s;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::this_thread::sleep_for(std::min(pause, left));
    pause = std::min(pause * 2, milliseconds(50));
  }
}

class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return fds_[0] >= 0; }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void CloseRead() { Close(0); }
  void CloseWrite() { Close(1); }

 private:
  void Close(int i) {
    if (fds_[i] >= 0) ::close(fds_[i]);
    fds_[i] = -1;
  }
  int fds_[2];
};

// posix_spawn's file actions and attributes, released on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
    // Ignored signals survive exec, and a blocked mask is inherited: the child gets neither.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attr_);
    posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t* actions() { return &actions_; }

  // Spawns argv with this process's environment plus `env`, in `cwd` when set.
  Result<pid_t> Spawn(const std::vector<std::string>& argv, const ProcessOptions& options) {
    if (argv.empty()) return Status::InvalidArgument("a child process needs a program to run");
    if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions_, options.cwd.c_str());
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      const std::string_view name = entry.substr(0, entry.find('='));
      const bool replaced = std::any_of(options.env.begin(), options.env.end(),
                                        [&](const auto& kv) { return kv.first == name; });
      if (!replaced) env_strings.emplace_back(entry);
    }
    for (const auto& [name, value] : options.env) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // The child's default SIGPIPE is set above; this process ignores it.
    ::signal(SIGPIPE, SIG_IGN);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &actions_, &attr_, args.data(), envp.data());
    if (rc != 0) return Status::NotFound("cannot run " + argv[0] + ": " + std::strerror(rc));
    return pid;
  }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// Appends what can be read from `fd` now to `sink`; closes the pipe's read end at its end.
void Drain(Pipe& pipe, std::string& sink) {
  char buf[65536];
  while (pipe.read_end() >= 0) {
    const ssize_t got = ::read(pipe.read_end(), buf, sizeof buf);
    if (got > 0) {
      sink.append(buf, static_cast<size_t>(got));
    } else if (got < 0 && errno == EINTR) {
      continue;
    } else if (got < 0 && errno == EAGAIN) {
      return;
    } else {
      pipe.CloseRead();
    }
  }
}

}  // namespace

std::string LastLines(const std::string& text, int max_lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < max_lines && pos > 0; ++n) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return pos == 0 ? text : text.substr(pos + 1);
}

std::string ExitStatus::ToString() const {
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  }
  return "exit " + std::to_string(code);
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options) {
  Pipe in, out, err;
  if (!in.ok() || !out.ok() || !err.ok())
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(setup.actions(), in.read_end(), 0);
  posix_spawn_file_actions_adddup2(setup.actions(), out.write_end(), 1);
  posix_spawn_file_actions_adddup2(setup.actions(), (options.merge_stderr ? out : err).write_end(),
                                   2);
  SC_ASSIGN_OR_RETURN(const pid_t pid, setup.Spawn(argv, options));
  in.CloseRead();
  out.CloseWrite();
  err.CloseWrite();
  if (options.merge_stderr) err.CloseRead();
  ::fcntl(out.read_end(), F_SETFL, O_NONBLOCK);
  if (err.read_end() >= 0) ::fcntl(err.read_end(), F_SETFL, O_NONBLOCK);

  // Feed stdin and drain stdout/stderr together so neither side can block on a full pipe.
  ProcessResult result;
  size_t written = 0;
  if (options.input.empty())
    in.CloseWrite();
  else
    ::fcntl(in.write_end(), F_SETFL, O_NONBLOCK);
  const auto deadline = steady_clock::now() + options.timeout;
  std::optional<ExitStatus> ended;
  bool timed_out = false;
  while (out.read_end() >= 0 || err.read_end() >= 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    int in_i = -1;
    for (Pipe* p : {&out, &err}) {
      if (p->read_end() >= 0) fds[n++] = {p->read_end(), POLLIN, 0};
    }
    if (in.write_end() >= 0) {
      fds[n] = {in.write_end(), POLLOUT, 0};
      in_i = n++;
    }
    const int ready = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (ready < 0 && errno != EINTR)
      return Status::IOError(std::string("poll: ") + std::strerror(errno));
    Drain(out, result.out);
    Drain(err, result.err);
    if (in_i >= 0 && fds[in_i].revents != 0) {
      const ssize_t put =
          ::write(in.write_end(), options.input.data() + written, options.input.size() - written);
      if (put > 0) written += static_cast<size_t>(put);
      if (put < 0 && errno != EAGAIN && errno != EINTR) in.CloseWrite();  // reader went away
      if (written == options.input.size()) in.CloseWrite();
    }
    // The child has ended: what it wrote is in the pipes now. A grandchild may still hold them
    // open (a server started in the background); its output is not this child's.
    if (!ended) ended = Reap(pid, false);
    if (ended) {
      Drain(out, result.out);
      Drain(err, result.err);
      break;
    }
  }
  in.CloseWrite();
  // The child may have closed its output and still run: the deadline holds for its exit too.
  if (!ended && !timed_out) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    ended = ReapWithin(pid, std::max(left, milliseconds(0)));
  }
  if (!ended) {
    ::kill(pid, SIGKILL);
    Reap(pid, true);
    return Status::Timeout(Join(argv) + " did not finish within " +
                           std::to_string(options.timeout.count()) +
                           " ms; stderr so far: " + LastLines(result.err, 20));
  }
  result.status = *ended;
  result.exit_code = ended->ShellCode();
  return result;
}

Result<Subprocess> Subprocess::Start(const std::vector<std::string>& argv,
                                     const ProcessOptions& options) {
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(setup.actions(), 0, "/dev/null", O_RDONLY, 0);
  if (!options.output_file.empty()) {
    posix_spawn_file_actions_addopen(setup.actions(), 1, options.output_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(setup.actions(), 1, 2);
  }
  SC_ASSIGN_OR_RETURN(const pid_t pid, setup.Spawn(argv, options));
  return Subprocess(pid);
}

Result<Subprocess> Subprocess::Fork(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid < 0) return Status::Unavailable(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) ::_exit(body());
  return Subprocess(pid);
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) Kill();
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) Kill();
}

bool Subprocess::Running() {
  if (status_) return false;
  status_ = Reap(pid_, false);
  return !status_;
}

Status Subprocess::Signal(int sig) {
  if (status_)
    return Status::Internal("pid " + std::to_string(pid_) + " has ended (" + status_->ToString() +
                            "): cannot send it signal " + std::to_string(sig));
  if (::kill(pid_, sig) != 0)
    return Status::Internal("kill " + std::to_string(pid_) + ": " + std::strerror(errno));
  return Status::OK();
}

Result<ExitStatus> Subprocess::Wait(milliseconds limit) {
  if (!status_) status_ = ReapWithin(pid_, limit);
  if (!status_) {
    return Status::Timeout("pid " + std::to_string(pid_) + " still runs after " +
                           std::to_string(limit.count()) + " ms");
  }
  return *status_;
}

ExitStatus Subprocess::Kill() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    status_ = Reap(pid_, true);
  }
  return *status_;
}

ExitStatus Subprocess::Stop(milliseconds grace) {
  if (!status_) {
    ::kill(pid_, SIGTERM);
    status_ = ReapWithin(pid_, grace);
  }
  return Kill();
}

}  // namespace smartcity::test
