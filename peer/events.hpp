// Events for scripts (--events PATH, "-" for stdout): one JSON object per line (NDJSON), each
// with "event" (its name) and "time" (Unix seconds, fractional), written whole and flushed at
// once, from any thread. The README lists every event and its fields.
// A FIFO (or pipe) as PATH must have a reader when the peer starts; a reader that falls behind
// loses events (counted in a warning) rather than stall the threads that write them, also when
// the pipe is the standard output ("-").
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace cascade {

class Events {
 public:
  // Opens `path` for appending ("-": stdout). Throws Fatal (exit 1) when it cannot.
  explicit Events(const std::string& path);
  ~Events();
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  // A file is being shared: its blocks, and how many were present (verified) at start-up.
  void file_started(const std::string& file, const std::string& cascade_hash, std::uint64_t blocks,
                    std::uint64_t present, bool complete);
  // A connection opened: "out" to a source we download from (with the file), "in" from a client.
  void peer_connected(const std::string& peer, const char* direction, const std::string& file);
  // A source banned for this file: "bad_blocks" or "refuses_file".
  void peer_banned(const std::string& file, const std::string& peer, const char* reason);
  // A tracker exchange failed (the first failure of a run of them).
  void tracker_error(const std::string& file, const std::string& tracker,
                     const std::string& message);
  // The whole file was checked against its cascade file: ok (complete) or not.
  void file_complete(const std::string& file, bool ok, double seconds, const std::string& detail);
  // A file left a shared directory (its cascade file was removed or rewritten).
  void file_removed(const std::string& file);
  // The process ends with this exit code.
  void exit(int code);

 private:
  void write(nlohmann::json& event);
  std::mutex mutex_;
  int fd_ = 1;  // stdout unless owned_
  bool owned_ = false;
  std::uint64_t dropped_ = 0;  // guarded by mutex_
};

}  // namespace cascade
