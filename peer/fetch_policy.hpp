// How much one fetch connection keeps in flight: pure rules, unit-tested.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace cascade {

// How many blocks make up `bytes`, kept within [least, most].
constexpr std::size_t blocks_worth(std::uint64_t bytes, std::uint64_t block_size,
                                   std::uint64_t least, std::uint64_t most) {
  return static_cast<std::size_t>(
      std::clamp<std::uint64_t>(bytes / std::max<std::uint64_t>(block_size, 1), least, most));
}

// Requests a connection keeps outstanding by default: about 4 MiB in flight, enough to fill a
// fast link's bandwidth-delay product, within 4 to 64 requests. `requested` (--pipeline) wins.
inline constexpr std::uint64_t pipeline_bytes = 4ull << 20;
constexpr std::size_t pipeline_depth(std::size_t requested, std::uint64_t block_size) {
  return requested > 0 ? requested : blocks_worth(pipeline_bytes, block_size, 4, 64);
}

// Unless --pipeline fixes it, a connection keeps about a tenth of a second and a round trip of its
// measured rate in flight, plus one request (at most pipeline_depth; the round trip is the
// shortest seen from a request on an empty pipeline to its answer's first byte, so a long link
// fills its pipe): a request beyond what the link needs only queues at the peer, where the
// block is held hostage while other peers could send it now. It starts at the least and follows
// each answer. On loopback the rate makes it pipeline_depth at once. Measured on the network
// lab (16 leechers, 100 Mbit/s, 1 MiB blocks, 16 connections, busy peers saying so): a tenth of
// a second and at least 1 gave 1.39 x T*, a quarter and at least 2 gave 1.41 x, within the
// noise; the smaller depth was kept for holding fewer blocks at busy peers. Before the busy
// rule, a quarter and at least 2 was clearly best (1.60 x against 1.87 x for a tenth and 1).
inline constexpr double in_flight_seconds = 0.1;
inline constexpr std::size_t least_depth = 1;
constexpr std::size_t depth_for_rate(double bytes_per_second, std::uint64_t block_size,
                                     std::size_t most, double round_trip_seconds = 0) {
  const double blocks =
      bytes_per_second * (in_flight_seconds + round_trip_seconds) / static_cast<double>(block_size);
  const double wanted = blocks + 1;
  if (wanted >= static_cast<double>(most)) return std::max(most, least_depth);
  return std::max(least_depth, static_cast<std::size_t>(wanted));
}

// Whether a connection hashes a block it just read itself (on its network thread, the bytes still
// in that core's cache) instead of leaving it to the pool: only while the file has other
// connections established, which go on receiving meanwhile (a file's only connection leaves it
// to the pool and reads its next block while this one is hashed), and only for a block that fits
// a core's cache (at most hash_on_read_bytes; a larger one would hold the network thread, shared
// with serving and timers, for tens of milliseconds). Measured on loopback (ext4, 1 GiB, 1 MiB
// blocks, 4 leechers trading, 6 runs each way alternating): 5.81 s against 6.39 s, leecher CPU
// 2.79 against 2.90 s; one leecher from a seed, hashing on read too: 1.66 s against 1.50 s.
inline constexpr std::uint64_t hash_on_read_bytes = 2ull << 20;
constexpr bool hash_on_read(std::size_t established, std::uint64_t length) {
  return established > 1 && length <= hash_on_read_bytes;
}

// Block buffers a connection may use: about 2 MiB's worth (3 to 64), so the socket is read while
// earlier blocks are checked.
inline constexpr std::uint64_t buffer_bytes_per_connection = 2ull << 20;
constexpr std::size_t buffers_for(std::uint64_t block_size) {
  return blocks_worth(buffer_bytes_per_connection, block_size, 3, 64);
}

// Requests go out in batches (one write for several): a connection tops its pipeline up once half
// of it has been answered, and then fills it. Given `outstanding` requests and `batch` picked so
// far in this top-up, whether to pick one more.
constexpr bool ask_for_more(std::size_t outstanding, std::size_t batch, std::size_t pipeline) {
  return outstanding < pipeline && (outstanding <= pipeline / 2 || batch > 0);
}

// A peer that closes after `limit` answers per connection (PeerTable learns it; 0: none seen) is
// asked for no more than that at once, so its close never finds our requests unread (which turns
// the close into a reset that can take the block in flight with it). Past the limit, one request
// at a time: each answer there shows the limit was too low, and twice the limit answered shows
// the peer keeps going, so the pipeline is whole again. Given the answers this connection got and
// its requests outstanding, whether it may ask for one more.
constexpr bool may_ask(std::size_t limit, std::uint64_t answered, std::size_t outstanding) {
  if (limit == 0 || answered >= 2 * limit) return true;
  return answered + outstanding < limit || (answered >= limit && outstanding == 0);
}

// Endgame (every missing block is asked for somewhere already): how many requests for one block
// may be out at once, when this connection has `outstanding` of its own and the file misses
// `missing` blocks of `block_size`. Only a connection with nothing in flight asks for a second
// copy, one at a time, and only for a file's last few blocks: as many as one connection's
// default pipeline holds (pipeline_depth: 4 MiB's worth, 4 to 64 blocks), so a peer that
// vanished with its whole pipeline unanswered cannot hold the end up until the block timeout. A
// second copy costs a whole block of some peer's uplink, and with large blocks a file's last half
// can be "all asked for" (16 connections x 2 requests cover 32 of 64 blocks). Measured on the
// network lab (16 leechers, 100 Mbit/s, 1 MiB blocks, medians of 3): second copies from any idle
// connection made the swarm serve 1.11 x what it needed, for the last 4 blocks only 1.05 x, in
// the same time or less (1.34 x T* against 1.38 x); none at all, 1.00 x, left a slow last block
// (1.38 x). Later (medians of 5, two alternating batches each, 1.28-1.30 x with this rule), none
// better: no second copies, 1.33 and 1.36 x; a second copy only of a block first asked for 400 ms
// or more ago, 1.28 x in both (within the noise); only of one asked for longer than the file's
// blocks took on average, 1.31 and 1.29 x; a third copy of a file's last 2 blocks, 1.30 and 1.29 x.
// The slower copy is dropped once the other has verified (fetch.cpp: read_block): the swarm then
// served 1.01-1.02 x what it needed instead of 1.04-1.05 x, done in 6.86 and 6.82 s against 6.95
// and 6.98 s (medians of 5, alternating batches). With the drop, second copies of the last 8
// or 16 blocks were worse (7.05 and 7.07 s, serving 1.05-1.07 x), a third copy no better (6.96 s).
constexpr std::uint64_t endgame_blocks(std::uint64_t block_size) {
  return pipeline_depth(0, block_size);
}
constexpr unsigned endgame_copies(std::size_t outstanding, std::uint64_t missing,
                                  std::uint64_t block_size) {
  return outstanding == 0 && missing <= endgame_blocks(block_size) ? 2 : 1;
}

// The picking window, in blocks: `window_bytes` (0: none), but at least twice what all of a
// file's connections may have in flight, so they never run out of distinct blocks to ask for.
constexpr std::uint64_t window_blocks(std::uint64_t window_bytes, std::uint64_t block_size,
                                      std::size_t connections, std::size_t pipeline) {
  if (window_bytes == 0) return 0;
  return std::max<std::uint64_t>(window_bytes / std::max<std::uint64_t>(block_size, 1),
                                 2 * connections * pipeline);
}

}  // namespace cascade
