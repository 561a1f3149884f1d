// One fetch connection: speaks the fetch protocol (PROTOCOL.md section 3) to one peer, keeping
// several requests in flight on one kept-alive connection, and hands every block it receives
// to its CheckQueue. Framing and pipelining only: which block to ask for comes from the file's
// BlockMap (given the connection's InFlight record and the peer's LackMemory), what the end of
// the connection means for the peer is the PeerTable's business.
#pragma once

#include <atomic>
#include <memory>

#include "common/net.hpp"
#include "peer/events.hpp"
#include "peer/peer_table.hpp"
#include "peer/verifier.hpp"

namespace cascade {

// One file's established fetch connections. Connecting ones do not hold a download slot: a
// listed peer that never answers (gone, or behind a dead address whose connect hangs until it
// times out) must not keep the live ones waiting, so the downloader tries many at once
// (Downloader::attempts_wanted) and a connection that finds every slot taken once it is up ends
// at once.
struct ConnectionSlots {
  std::atomic<int> established{0};
};

struct FetchSettings {
  std::size_t pipeline = 4;  // most requests kept outstanding (fetch_policy.hpp: pipeline_depth)
  net::Millis connect_timeout{3000};
  net::Millis block_timeout{30000};  // a whole block (header and bytes) must arrive in this
  std::size_t connections = 16;      // established connections at once, per file
  bool adaptive = true;  // follow the measured rate up to `pipeline` (else always `pipeline`)
  TokenBucket* download = nullptr;  // the process's download limit (null: none)
  Events* events = nullptr;         // --events (null: none)
};

// Fetches blocks of `file` from `from` until the file is complete, `stopping` is set, the peer
// has nothing left that we need for a while, or the connection fails. `memory` is what the
// PeerTable remembers of the peer; its "don't have" answers and holdings are kept up to date.
// Returns what the connection came to. Runs on its own strand; returns only once every block it
// received has its verdict.
asio::awaitable<PeerTable::Outcome> fetch_from(std::shared_ptr<SharedFile> file,
                                               std::shared_ptr<Verifier> verifier, ThreadPool& pool,
                                               FetchSettings settings,
                                               const std::atomic<bool>& stopping,
                                               ConnectionSlots& slots, Endpoint from,
                                               PeerMemory& memory);

}  // namespace cascade
