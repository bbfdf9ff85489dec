// Test support: child processes. One runner for the two ways tests use them:
//  - RunProcess runs a program to its end with a deadline, feeding its stdin and collecting its
//    stdout and stderr (kcat, the Kafka/MinIO/PostgreSQL scripts, the Python readers, the smartcity
//    binary);
//  - Subprocess is a child that runs beside the test (a consumer-group member, a process racing the
//    test's own writes) and is waited for, signalled or kill -9'd, its exit status kept.
//
// Ownership: a Subprocess owns its child; destroying it while the child still runs kills it
// (SIGKILL) and reaps it, so a failing test leaves no process behind.
//
// Thread-safety: none; use a Subprocess from one thread. RunProcess may be called from any thread.
// Both ignore SIGPIPE in this process (a child that exits without reading its stdin must not kill
// the test); children start with every signal at its default and none blocked.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace smartcity::test {

// How a child ended: it exited with `code`, or `signal` ended it.
struct ExitStatus {
  int code = -1;   // >= 0 when it exited
  int signal = 0;  // > 0 when a signal ended it

  bool ExitedWith(int want) const { return signal == 0 && code == want; }
  bool KilledBy(int sig) const { return signal == sig; }
  // As a shell reports it: the exit code, or 128 + the signal number.
  int ShellCode() const { return signal != 0 ? 128 + signal : code; }
  // "exit 0", "killed by signal 9 (Killed)".
  std::string ToString() const;
};

struct ProcessOptions {
  // Set in the child's environment on top of this process's (an entry replaces a variable of the
  // same name).
  std::vector<std::pair<std::string, std::string>> env{};
  std::filesystem::path cwd{};  // empty: this process's

  // RunProcess only.
  std::string input{};        // written to its stdin, which is closed after it
  bool merge_stderr = false;  // stderr goes to ProcessResult::out too, interleaved as written
  // Still running then: killed (SIGKILL) and reported as a Timeout with the end of its stderr.
  std::chrono::milliseconds timeout = std::chrono::minutes(3);

  // Subprocess::Start only: stdout and stderr both go to this file (created or truncated); empty:
  // they are the test's own. Its stdin is /dev/null.
  std::filesystem::path output_file{};
};

struct ProcessResult {
  ExitStatus status;
  int exit_code = -1;  // status.ShellCode(): 128 + the signal number when a signal ended it
  std::string out;     // everything it wrote to stdout (and stderr, with merge_stderr)
  std::string err;     // everything it wrote to stderr
};

// Runs argv[0] (looked up in PATH when it has no '/') to its end. A program that cannot be started
// is NotFound; one still running at the deadline is a Timeout. A non-zero exit is not an error
// here: callers look at the status. Output a grandchild keeps writing after the child has ended
// (a server the child started in the background) is not waited for.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options = {});

// The last `max_lines` lines of `text` (a child's output) for an error message that stays readable.
std::string LastLines(const std::string& text, int max_lines);

class Subprocess {
 public:
  // Starts argv[0] (looked up in PATH when it has no '/') beside the test.
  static Result<Subprocess> Start(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});
  // Runs `body` in a forked copy of this process; its return value is the child's exit code. The
  // child leaves with _exit: no destructor or atexit handler of the copy runs. REQUIRES: `body`
  // does only what is safe after fork() in a process that may have threads.
  static Result<Subprocess> Fork(const std::function<int()>& body);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();  // kills (SIGKILL) and reaps a child that still runs

  pid_t pid() const { return pid_; }
  // True while the child runs; once it has ended, reaps it and keeps its status.
  bool Running();
  // Sends `sig`. An error once the child has been reaped (its pid may name another process then).
  Status Signal(int sig);
  // Waits up to `limit` for the child to end; a Timeout while it still runs.
  Result<ExitStatus> Wait(std::chrono::milliseconds limit);
  // kill -9, then reaps it. The status is KilledBy(SIGKILL) unless the child had ended before.
  ExitStatus Kill();
  // SIGTERM; SIGKILL when it has not ended after `grace`. Its status either way.
  ExitStatus Stop(std::chrono::milliseconds grace);
  // Set once the child has been reaped.
  const std::optional<ExitStatus>& status() const { return status_; }

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace smartcity::test
