// Serves verified blocks of every shared file on one port (PROTOCOL.md section 3).
//
// Each connection is a coroutine on its own strand that answers requests in order, pipelined
// ones included. Block bytes are read on the worker pool in bounded chunks, so neither a slow
// disk nor a large block holds up the network threads or memory.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "peer/events.hpp"
#include "peer/shared_file.hpp"
#include "peer/upload_slots.hpp"

namespace cascade {

class BlockServer {
 public:
  struct Options {
    std::size_t max_connections = 2048;      // serving connections at once
    std::size_t max_connections_per_ip = 0;  // serving connections from one address (0: no cap)
    net::Millis idle_timeout{60'000};        // waiting for the next request
    net::Millis write_timeout{30'000};       // sending one chunk of an answer
    TokenBucket* upload = nullptr;           // the process's upload limit (null: none)
    std::size_t upload_slots = UploadSlots::default_slots;  // blocks sent at once (0: any number)
    Events* events = nullptr;                               // --events (null: none)
    // Told once of a complete file found changed by another program since its whole-file check
    // (none of it is served any more); on a network thread, so it must not wait.
    std::function<void(std::shared_ptr<SharedFile>)> changed;
  };
  BlockServer(asio::io_context& io, ThreadPool& pool,
              std::vector<std::shared_ptr<SharedFile>> files, Options options);
  ~BlockServer();

  // Binds and starts accepting; returns the bound port. Throws std::system_error.
  std::uint16_t start(const std::string& address, std::uint16_t port);
  // Stops accepting and closes every open connection. Call from any thread.
  void stop();
  // Files joining and leaving the shared set (a shared directory); thread-safe. A request for a
  // removed file is answered "unknown cascade"; one being answered finishes.
  void add_file(std::shared_ptr<SharedFile> file);
  void remove_file(const Hash256& cascade_hash);

  // Requests answered with an error status, by reason.
  // asked_elsewhere: a seed's first copies (FirstCopies); busy: every upload slot taken.
  enum Refusal {
    unknown_file,
    out_of_range,
    not_held,
    asked_elsewhere,
    busy,
    malformed,
    refusal_kinds
  };
  static constexpr std::array<const char*, refusal_kinds> refusal_names = {
      "unknown_file", "out_of_range", "not_held", "asked_elsewhere", "busy", "malformed"};
  static_assert(refusal_names.back() != nullptr, "a name for every refusal");
  struct Counts {
    std::size_t connections = 0;             // open now
    std::uint64_t rejected_connections = 0;  // over max-connections (per address)
    std::array<std::uint64_t, refusal_kinds> refused{};
  };
  Counts counts() const;  // thread-safe

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The one-line reasons sent with error statuses.
std::string not_held_message(std::uint64_t block);
std::string elsewhere_message(std::uint64_t block);  // FirstCopies: sent once already
std::string busy_message(std::uint64_t block);       // every upload slot taken
std::string ahead_message(std::uint64_t block);      // FirstCopies: beyond the front, unsent

}  // namespace cascade
