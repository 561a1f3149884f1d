// The files a running peer shares, each with its downloader. The set changes while the peer
// runs when SOURCE names a directory; every reader takes a copy of the list. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "peer/downloader.hpp"
#include "peer/shared_file.hpp"

namespace cascade {

class FileSet {
 public:
  struct Entry {
    std::shared_ptr<SharedFile> file;
    std::shared_ptr<Downloader> downloader;
  };
  std::vector<Entry> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  std::vector<std::shared_ptr<SharedFile>> files() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<SharedFile>> out;
    for (const auto& e : entries_) out.push_back(e.file);
    return out;
  }
  void add(Entry e) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(e));
  }
  std::optional<Entry> remove(const std::string& cascade_path) {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->file->cascade_path == cascade_path) {
        Entry e = std::move(*it);
        entries_.erase(it);
        return e;
      }
    return std::nullopt;
  }
  // The cascade path of a shared file with this hash, if there is one.
  std::optional<std::string> path_of(const Hash256& cascade_hash) const {
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_)
      if (e.file->cascade_hash == cascade_hash) return e.file->cascade_path;
    return std::nullopt;
  }
  // Every file complete (and at least one file).
  bool all_complete() const {
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_)
      if (!e.file->complete) return false;
    return !entries_.empty();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;  // guarded by mutex_; in the order added
};

}  // namespace cascade
