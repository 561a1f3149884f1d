// Starting the real binaries from tests: fork/exec with captured output, bounded waits, cleanup.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cascade::test {

// Polls `done` every 20 ms until it holds or `limit` has passed; true if it held. For waits whose
// length depends on the machine's load (start-ups, a first block): the test asserts the outcome,
// not how soon it came.
template <class Done>
bool eventually(Done done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string bin_dir();  // where cascade-tracker and cascade-peer were built

// How many descriptors a running process has open (from /proc; throws if it is gone).
std::size_t open_fds(pid_t pid);

// A fresh directory under the system temp dir, removed (recursively) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

// A child process whose stdout and stderr go to files. The destructor kills it (SIGKILL).
class Process {
 public:
  Process(const std::string& program, const std::vector<std::string>& args,
          const std::string& log_dir);
  ~Process();
  Process(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; nullopt on timeout. The value is the exit code, or 128+signal.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string out() const;  // what it printed on stdout so far
  std::string err() const;  // ... and on stderr

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_path_, err_path_;
};

// Runs to completion (bounded); returns {exit code, stdout, stderr}.
struct RunResult {
  int code = -1;
  std::string out, err;
};
RunResult run(const std::string& program, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Polls until `path` holds a number (a port file); 0 on timeout.
int wait_for_port_file(const std::string& path,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

std::string read_text(const std::string& path);

// Polls (as eventually() does) until `p` has written `words` on stderr; true if it did.
bool eventually_says(const Process& p, const std::string& words,
                     std::chrono::milliseconds limit = std::chrono::seconds(10));

// Restricts the calling thread (only) to the first CPU it may run on; processes it then starts
// inherit that. False if the kernel refused.
bool pin_this_thread_to_one_cpu();

}  // namespace cascade::test
