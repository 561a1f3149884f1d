// One request to a tracker over TCP, as a coroutine, bounded in time and in what it accepts.
#pragma once

#include <string>
#include <vector>

#include "common/net.hpp"
#include "proto/wire.hpp"

namespace cascade {

struct TrackerReply {
  bool ok = false;
  std::vector<PeerEntry> peers;  // when ok
  std::string error;             // when not ok: the tracker's message or what went wrong
};

// Largest peer list accepted from a tracker (existing trackers send at most 20).
inline constexpr std::size_t max_tracker_peers = 1000;

// Resolves `host:port` (a name or dotted quad), sends `req`, reads and validates the answer.
asio::awaitable<TrackerReply> call_tracker(const std::string& host, const std::string& port,
                                           TrackerRequest req, net::Millis timeout);

}  // namespace cascade
