// What a "don't have" answer can say besides "no": the blocks its sender holds.
//
// PROTOCOL.md gives status 2 a free UTF-8 message. A partial holder appends to it the blocks it
// holds, as people write page ranges: "2 is not currently held by this peer; it holds 5 of 64
// blocks: 0-3,7". A client of ours reads the ranges and asks that peer for one of them next,
// instead of guessing block after block; each guess costs a round trip through the peer's
// queued uplink (measured on the network lab: about 35 ms, and 34,800 guesses in a 16-leecher
// swarm). Any other client just shows the message. The bytes of the protocol do not change;
// a peer holding nothing (or everything) sends the plain message, except a seed still sending
// first copies: it names the blocks no other peer has yet ("; it holds all 64 blocks, and no
// other peer has these blocks: 8-31", unsent_hint), read the same way.
//
// The hint is a courtesy, not a promise: a client asks for a hinted block like any other and
// believes the answer (PeerMemory::refused: a "don't have" for a block the peer said it holds
// drops its hints). Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cascade {

// The words in a status-2 message of ours that ask the client to try other peers first and to
// come back only if none has the block (a busy peer, a seed's first-copy rule). A client of ours
// believes such an answer for its whole time (LackMemory: firm).
inline constexpr std::string_view ask_elsewhere_words = "ask other peers";
// ... and the words of the busy answer among them (every upload slot taken): one of its slots
// frees within about a block's send time, so a client of ours believes it for less (PeerMemory).
inline constexpr std::string_view busy_words = "busy sending other blocks";

// The longest hint appended: a file with scattered holdings lists its first ranges and ends
// with ",...". Well under what any client must read for a message (wire.hpp allows 64 KiB).
inline constexpr std::size_t max_holdings_hint = 1024;

// "; it holds K of N blocks: a-b,c,..." for the verified blocks in `held` (one flag per block;
// `count` of them set), in ascending ranges; when they do not all fit in `max_chars`, those from
// block `near` on (the block asked for: the asker works around it), cut with ",..." (the header
// itself always goes). Empty when none or all are held.
// `prefix` and `end` (BlockMap::holdings): blocks [0, prefix) are all held and none at or after
// `end` is. The scan lists the prefix as one range without reading it and stops at `end`, so a
// downloader's hint (its verified prefix, then what it holds in its picking window) costs about
// its window, not the file's size: for a 1M-block file half or nearly all held, 8 us per hint
// (bitmap copy included), against 0.46 and 0.89 ms when every flag was read.
std::string holdings_hint(const std::vector<bool>& held, std::uint64_t count,
                          std::uint64_t near = 0, std::size_t max_chars = max_holdings_hint,
                          std::uint64_t prefix = 0, std::uint64_t end = ~0ull);

// A seed's hint while it sends first copies (FirstCopies): "; it holds all N blocks, and no other
// peer has these blocks: a-b,c" for the blocks in [from, end) not yet `sent`; empty when none.
std::string unsent_hint(const std::vector<bool>& sent, std::uint64_t from, std::uint64_t end);

// The writer under both: appends the blocks in [from, end) whose flag is `want` to `out` as
// ascending ranges "a-b,c" while `out` fits in `max_chars`; past that it ends with ",..." (or
// "..." when no range fit) and returns false. Blocks [from, run_until) are known to be one run
// of `want` and are not read.
bool append_block_ranges(std::string& out, const std::vector<bool>& flags, bool want,
                         std::uint64_t from, std::uint64_t end, std::size_t max_chars,
                         std::uint64_t run_until = 0);

// The blocks a status-2 message says its sender holds, ascending, each below `count`, at most
// max_hinted_blocks of them (what BlockMap::pick looks at; a hint can name far more: "0-65535"
// is 7 bytes); empty when it says none (another implementation's message). A malformed range
// ends the list there.
inline constexpr std::uint64_t max_hinted_blocks = 2048;
std::vector<std::uint64_t> parse_holdings_hint(std::string_view message, std::uint64_t count);

}  // namespace cascade
