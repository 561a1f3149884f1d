#include "peer/dir_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/file.hpp"
#include "common/log.hpp"

namespace cascade {

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

DirectoryWatch::DirectoryWatch(std::string dir, std::function<bool(const std::string&)> add,
                               std::function<void(const std::string&)> remove)
    : dir_(std::move(dir)), add_(std::move(add)), remove_(std::move(remove)) {}

DirectoryWatch::~DirectoryWatch() {
  stop();
}

void DirectoryWatch::scan() {
  std::map<std::string, Seen> now;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec), end;
  if (ec) throw std::runtime_error(dir_ + ": cannot read the directory: " + ec.message());
  for (; it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= 8 || !name.ends_with(".cascade") || name.front() == '.') continue;
    struct stat st {};
    const std::string path = dir_ + (dir_.ends_with('/') ? "" : "/") + name;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    now[path] = Seen{modified_ns(st), static_cast<std::uint64_t>(st.st_size), false};
  }
  if (ec) log::warn(dir_, ": reading the directory: ", ec.message());
  for (auto it2 = seen_.begin(); it2 != seen_.end();) {
    auto there = now.find(it2->first);
    const bool changed = there != now.end() && (there->second.mtime_ns != it2->second.mtime_ns ||
                                                there->second.size != it2->second.size);
    if (there == now.end() || (changed && it2->second.accepted)) {
      // Gone, or rewritten in place while shared: stop sharing it (a rewritten one comes back
      // below as new).
      if (it2->second.accepted) remove_(it2->first);
      it2 = seen_.erase(it2);
    } else if (changed) {
      it2 = seen_.erase(it2);  // refused before and changed since: try again
    } else {
      ++it2;
    }
  }
  for (auto& [path, s] : now) {
    if (seen_.contains(path)) continue;
    s.accepted = add_(path);
    seen_[path] = s;
  }
}

void DirectoryWatch::start() {
  inotify_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_ < 0 || ::inotify_add_watch(inotify_, dir_.c_str(),
                                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                              IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB) < 0) {
    log::warn(dir_, ": cannot watch with inotify (", std::strerror(errno), "); rescanning every ",
              rescan_every.count(), " s instead");
  }
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

void DirectoryWatch::stop() {
  if (thread_.joinable()) {
    stopping_ = true;
    const std::uint64_t one = 1;
    if (::write(wake_, &one, sizeof one) < 0) {
      // The thread still sees stopping_ within its poll timeout.
    }
    thread_.join();
  }
  if (inotify_ >= 0) ::close(inotify_);
  if (wake_ >= 0) ::close(wake_);
  inotify_ = wake_ = -1;
}

void DirectoryWatch::run() {
  auto next_rescan = std::chrono::steady_clock::now() + rescan_every;
  bool pending = false;  // an inotify event came: rescan once things settle
  auto settle_until = std::chrono::steady_clock::now();
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    const auto until = pending ? std::min(settle_until, next_rescan) : next_rescan;
    const int timeout_ms = static_cast<int>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1));
    pollfd fds[2] = {{inotify_, POLLIN, 0}, {wake_, POLLIN, 0}};
    const int n = ::poll(fds, 2, std::min(timeout_ms, 1000));
    if (stopping_) break;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      alignas(inotify_event) char buf[8192];
      while (::read(inotify_, buf, sizeof buf) > 0) {
      }
      pending = true;
      settle_until = std::chrono::steady_clock::now() + settle;
    }
    const auto t = std::chrono::steady_clock::now();
    if ((pending && t >= settle_until) || t >= next_rescan) {
      pending = false;
      next_rescan = t + rescan_every;
      try {
        scan();
      } catch (const std::exception& e) {
        log::warn(e.what());
      }
    }
  }
}

}  // namespace cascade
