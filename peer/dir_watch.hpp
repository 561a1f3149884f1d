// A shared directory (SOURCE names a directory): which cascade files are in it, kept up to date.
// Every regular file named *.cascade directly in it counts; inotify wakes a rescan within about
// 100 ms of a change, and a rescan every few seconds catches anything inotify missed. A file the
// owner refused (not a valid cascade file, say) is tried again only once it changes.
//
// Threads: the watch has its own thread, which calls `add` and `remove`; they may block (opening
// and hashing a data file).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cascade {

class DirectoryWatch {
 public:
  // `add(path)` returns false when the file is refused.
  DirectoryWatch(std::string dir, std::function<bool(const std::string&)> add,
                 std::function<void(const std::string&)> remove);
  ~DirectoryWatch();
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

  // Compares the directory with what it had, calling add/remove for the differences. The first
  // call (before start) makes the start-up set. Throws std::runtime_error when the directory
  // cannot be read.
  void scan();
  // Watches on the watch's own thread until stop().
  void start();
  void stop();

  static constexpr std::chrono::milliseconds settle{100};  // after an inotify event
  static constexpr std::chrono::seconds rescan_every{5};

 private:
  struct Seen {
    std::int64_t mtime_ns = 0;
    std::uint64_t size = 0;
    bool accepted = false;
  };
  void run();

  const std::string dir_;
  const std::function<bool(const std::string&)> add_;
  const std::function<void(const std::string&)> remove_;
  std::map<std::string, Seen> seen_;  // the watch thread's (or scan()'s before start)
  int inotify_ = -1, wake_ = -1;      // inotify and eventfd descriptors
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Whether `path` names a directory (for SOURCE).
bool is_directory(const std::string& path);

}  // namespace cascade
