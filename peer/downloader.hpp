// Fetches the missing blocks of one file from the swarm.
//
// Design: a manager coroutine talks to the tracker (SUBSCRIBE every announce interval, LIST when
// the known peers run dry, with backoff while the tracker fails) and keeps up to `connections`
// fetch coroutines running, one per peer, preferring peers flagged good and peers that delivered.
// Each fetch keeps several requests outstanding on one kept-alive connection, picking random
// missing blocks near the front of the file (so concurrent downloaders hold different blocks and
// can trade, while the whole-file hash keeps up with the verified prefix), and remembers
// which blocks that peer said it does not hold. Every received block is checked (length, SHA-256)
// and written on the worker pool before it counts as held; a wrong block is a strike against
// the peer, and three strikes ban it. The whole file's SHA-256 is computed as the verified prefix
// grows; when the last block is in, what is left of it is hashed and the digest checked.
//
// Threading: the manager and each fetch run on their own strands; peer bookkeeping is guarded
// by one mutex, never held while calling into the BlockMap.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/endpoint.hpp"
#include "common/net.hpp"
#include "peer/shared_file.hpp"

namespace cascade {

class Downloader {
 public:
  struct Options {
    std::size_t connections = 8;   // fetch connections at once, per file
    std::size_t pipeline = 0;      // outstanding requests per connection (0: 4 MiB's worth, 4 to 64)
    // Picks are random within this many bytes after the first missing block (0: anywhere), so
    // the whole-file hash can follow the download (see BlockMap and PrefixHasher).
    std::uint64_t window_bytes = 64ull << 20;
    net::Millis connect_timeout{3000};
    net::Millis block_timeout{30000};    // a whole block (header and bytes) must arrive in this
    net::Millis tracker_timeout{5000};
    std::chrono::seconds announce_interval{600};
    std::chrono::seconds list_interval{30};  // at least this long between LISTs when peers run dry
    bool client_only = false;                // LIST only, never SUBSCRIBE
    std::size_t max_peers = 1000;            // peers remembered per file
    std::string tracker_host, tracker_port;
    Endpoint self;  // the address this peer reports; never used as a source
  };
  // on_fatal(exit_code, message): a failure that should end the process (disk full: 1; the
  // whole file does not match its cascade file: 2).
  using FatalHandler = std::function<void(int, const std::string&)>;

  Downloader(asio::io_context& io, ThreadPool& pool, std::shared_ptr<SharedFile> file, Options options,
             FatalHandler on_fatal);
  ~Downloader();
  void start();
  void stop();  // thread-safe

  std::size_t known_peers() const;
  std::size_t banned_peers() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cascade
