#include "peer/events.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/exit.hpp"
#include "common/log.hpp"

namespace cascade {

namespace {
nlohmann::json event(const char* name) {
  return nlohmann::json{{"event", name}};
}
}  // namespace

Events::Events(const std::string& path) {
  if (path == "-") {
    // A pipe as the standard output (`--events - | a-script`) is opened again, not blocking: a
    // new open file description of the same pipe, so the flag touches no other process's
    // descriptor (as it would on a terminal shared with the shell, which is left as it is).
    struct stat st {};
    if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
      const int fd = ::open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
      if (fd >= 0) {
        fd_ = fd;
        owned_ = true;
      }
    }
    return;
  }
  // Not blocking: the open of a FIFO nobody reads fails (ENXIO) instead of waiting for good, and
  // a reader that stops reading makes a write fail (EAGAIN) instead of stalling a network thread.
  fd_ =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd_ < 0)
    throw Fatal(ExitCode::failure,
                "--events: cannot open " + path + ": " +
                    (errno == ENXIO ? std::string("nothing is reading it (a named pipe with no "
                                                  "reader, or a socket)")
                                    : std::strerror(errno)));
  owned_ = true;
}

Events::~Events() {
  if (owned_) ::close(fd_);
}

void Events::write(nlohmann::json& j) {
  std::lock_guard lock(mutex_);  // the time is taken here too: lines come in time order
  j["time"] =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // A path that is not UTF-8 is written with U+FFFD in place of its bad bytes.
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // One write per line: whole into a pipe (up to its atomic size, which every line but one with
  // a path near PATH_MAX is within), or not at all when its reader has fallen behind.
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // A line begun (longer than the pipe writes whole) is finished, waiting up to a second for
    // room, so the lines after it stay lines.
    pollfd room{fd_, POLLOUT, 0};
    if (n < 0 && errno == EAGAIN && done > 0 && ::poll(&room, 1, 1000) > 0) continue;
    if (dropped_++ % 1000 == 0)
      log::warn("--events: ", n < 0 ? std::strerror(errno) : "nothing written", "; ", dropped_,
                " event(s) dropped so far");
    return;
  }
}

void Events::file_started(const std::string& file, const std::string& cascade_hash,
                          std::uint64_t blocks, std::uint64_t present, bool complete) {
  auto j = event("file_started");
  j["file"] = file;
  j["cascade_hash"] = cascade_hash;
  j["blocks"] = blocks;
  j["blocks_present"] = present;
  j["complete"] = complete;
  write(j);
}

void Events::peer_connected(const std::string& peer, const char* direction,
                            const std::string& file) {
  auto j = event("peer_connected");
  j["peer"] = peer;
  j["direction"] = direction;
  if (!file.empty()) j["file"] = file;
  write(j);
}

void Events::peer_banned(const std::string& file, const std::string& peer, const char* reason) {
  auto j = event("peer_banned");
  j["file"] = file;
  j["peer"] = peer;
  j["reason"] = reason;
  write(j);
}

void Events::tracker_error(const std::string& file, const std::string& tracker,
                           const std::string& message) {
  auto j = event("tracker_error");
  j["file"] = file;
  j["tracker"] = tracker;
  j["message"] = message;
  write(j);
}

void Events::file_complete(const std::string& file, bool ok, double seconds,
                           const std::string& detail) {
  auto j = event("file_complete");
  j["file"] = file;
  j["check"] = ok ? "ok" : "mismatch";
  j["seconds"] = seconds;
  if (!detail.empty()) j["detail"] = detail;
  write(j);
}

void Events::file_removed(const std::string& file) {
  auto j = event("file_removed");
  j["file"] = file;
  write(j);
}

void Events::exit(int code) {
  auto j = event("exit");
  j["code"] = code;
  write(j);
}

}  // namespace cascade
