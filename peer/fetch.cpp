#include "peer/fetch.hpp"

#include <atomic>
#include <cerrno>
#include <exception>
#include <random>

#include "common/log.hpp"
#include "common/sha256.hpp"
#include "peer/check_queue.hpp"
#include "peer/fetch_policy.hpp"

namespace cascade {

namespace {
using net::tcp;
using namespace std::chrono_literals;

// A connection with nothing to ask for gives its slot to another peer after this long.
constexpr auto idle_before_release = 1500ms;
// How often such a connection looks again for something to ask.
constexpr auto idle_poll = 50ms;

// The peer closed the connection: the end of its stream, or a reset (a close with our next
// requests unread reaches us as one), or a broken pipe on our next write.
bool closed_by_peer(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

// A connect that failed for want of something here (descriptors, memory), not because of the
// peer: the peer is not held responsible for it.
// (Asio's system category is its own: compared by value, not with std::errc.)
bool our_shortage(const std::error_code& ec) {
  if (ec.category() != asio::error::get_system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

// Counts itself in `n` while it lives.
struct Counted {
  explicit Counted(std::atomic<int>& n_) : n(n_) { ++n; }
  ~Counted() { --n; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  std::atomic<int>& n;
};

class Fetch {
 public:
  Fetch(std::shared_ptr<SharedFile> file, const FetchSettings& settings,
        const std::atomic<bool>& stopping, ConnectionSlots& slots, Endpoint from,
        PeerMemory& memory, tcp::socket& socket)
      : file_(std::move(file)),
        f_(*file_),
        settings_(settings),
        stopping_(stopping),
        slots_(slots),
        memory_(memory),
        lacks_(memory.lacks),
        answer_limit_(memory.answer_limit),
        depth_(settings.adaptive ? std::min(least_depth, settings.pipeline) : settings.pipeline),
        socket_(socket),
        deadline_(socket),
        rng_(std::random_device{}() ^ from.key()),
        source_(to_string(from)) {}

  InFlight& record() { return record_; }
  const std::string& source() const { return source_; }

  asio::awaitable<void> run(CheckQueue& checks, const Endpoint& from) {
    log::debug("connecting to ", source_);
    ec_ = co_await net::connect(socket_, deadline_, net::to_asio(from), settings_.connect_timeout);
    if (ec_ && our_shortage(ec_)) {
      // Tried again later like a connection that found every slot taken; said once a minute.
      static std::atomic<std::int64_t> said_at{0};
      const std::int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(net::Clock::now().time_since_epoch())
              .count();
      if (std::int64_t last = said_at.load();
          now - last >= 60 && said_at.compare_exchange_strong(last, now))
        log::warn("cannot connect to ", source_, ": ", ec_.message(),
                  " (not held against the peer; raise the open-files limit, ulimit -n, or "
                  "share fewer files at once)");
      outcome_.not_started = true;
      co_return;
    }
    if (ec_) {
      log::debug(source_, ": connect failed: ", ec_.message());
      outcome_.failed = true;
      co_return;
    }
    const Counted established(slots_.established);
    if (slots_.established > static_cast<int>(settings_.connections)) {
      outcome_.not_started = true;  // every slot taken meanwhile: tried again later
      co_return;
    }
    if (settings_.events) settings_.events->peer_connected(source_, "out", f_.data_path);
    co_await exchange(checks);
  }

 private:
  asio::awaitable<void> exchange(CheckQueue& checks) {
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    auto idle_since = net::Clock::now();
    while (!stopping_ && !f_.blocks.complete()) {
      if (!co_await send_requests()) break;
      if (!record_.waiting()) {
        // Nothing this peer can give us right now; give the slot to another peer after a while.
        if (net::Clock::now() - idle_since > idle_before_release) break;
        // Meanwhile its "don't have" answers go stale sooner: it may have the blocks by now.
        lacks_.forget_expired(net::Clock::now(), net::Clock::now() + PeerMemory::lack_memory -
                                                     PeerMemory::lack_memory_idle);
        asio::steady_timer t(socket_.get_executor(), idle_poll);
        co_await t.async_wait(net::nothrow);
        continue;
      }
      idle_since = net::Clock::now();
      if (!co_await read_answer(checks)) break;
    }
  }

 public:
  // Books the end of the connection: unanswered requests go back to the block map.
  PeerTable::Outcome finish(const CheckQueue& checks) {
    outcome_.strikes += checks.bad();
    outcome_.delivered = static_cast<std::uint64_t>(checks.delivered());
    outcome_.answered = answered_;
    outcome_.unanswered = record_.outstanding();
    if (checks.bad() > 0) outcome_.failed = true;
    outcome_.closed_by_peer = closed_by_peer(ec_);
    for (std::uint64_t b : record_.abandon()) f_.blocks.finish(b, false);
    return outcome_;
  }

 private:
  // Tops the pipeline up in one write; false when the write failed.
  asio::awaitable<bool> send_requests() {
    requests_.clear();
    lacks_.forget_expired(net::Clock::now());
    if (!record_.waiting()) {
      busy_since_ = net::Clock::now();
      timing_round_trip_ = true;  // the next answer's header times a round trip
    }
    while (ask_for_more(record_.outstanding(), requests_.size() / peer_request_size, depth_) &&
           may_ask(answer_limit_, answered_, record_.outstanding())) {
      const auto b = f_.blocks.pick(
          rng_, PickExclusions{record_.blocks(), lacks_.blocks(), &memory_.holds},
          endgame_copies(record_.outstanding(), f_.meta.block_count() - f_.blocks.verified_count(),
                         f_.meta.block_size));
      if (!b) break;
      record_.requested(*b);
      const std::size_t at = requests_.size();
      requests_.resize(at + peer_request_size);
      encode_peer_request(
          PeerRequest{*b, f_.cascade_hash},
          std::span<std::uint8_t, peer_request_size>(requests_.data() + at, peer_request_size));
    }
    if (requests_.empty()) co_return true;
    ec_ = co_await net::write_all(socket_, deadline_, asio::buffer(requests_),
                                  settings_.block_timeout);
    if (ec_) outcome_.failed = true;
    co_return !ec_;
  }

  // Reads the answer to the oldest request; false when the connection must end.
  asio::awaitable<bool> read_answer(CheckQueue& checks) {
    const std::uint64_t b = record_.oldest();
    const std::uint64_t length = f_.meta.block_length(b);
    std::array<std::uint8_t, peer_response_header_size> head{};
    if ((ec_ = co_await net::read_exact(socket_, deadline_, asio::buffer(head),
                                        settings_.block_timeout)))
      co_return fail();
    if (timing_round_trip_) {
      const double rtt = std::chrono::duration<double>(net::Clock::now() - busy_since_).count();
      round_trip_ = round_trip_ < 0 ? rtt : std::min(round_trip_, rtt);
      timing_round_trip_ = false;
    }
    auto h = decode_peer_response_header(head, length);
    if (!h.ok()) {
      log::warn(source_, ": bad answer for block ", b, ": ", describe(h.error));
      ++outcome_.strikes;
      co_return fail();
    }
    if (h.value->status != 0)
      co_return co_await read_refusal(b, static_cast<PeerStatus>(h.value->status), h.value->length);
    std::vector<std::uint8_t>* buffer = co_await checks.buffer();
    if (buffer == nullptr) co_return fail();  // a verdict said stop: a wrong block, a disk error
    if ((ec_ = co_await read_block(b, buffer->data(), length))) {
      checks.give_back(buffer);
      if (outcome_.dropped_copy) co_return false;
      co_return fail();
    }
    record_.received();
    ++answered_;
    follow_rate(length);
    // The block's SHA-256, computed on this thread while its bytes are still in this core's cache
    // rather than by a pool thread reading them from memory, when the rule allows
    // (fetch_policy.hpp: hash_on_read). The verifier compares it.
    std::optional<Hash256> digest;
    if (hash_on_read(static_cast<std::size_t>(slots_.established.load()), length)) {
      try {
        digest = sha256(ByteSpan(buffer->data(), length));
      } catch (const std::exception&) {  // left to the pool, which reports what fails
      }
    }
    checks.submit(buffer, b, length, digest);
    co_return true;
  }

  // An error status for block `b`, with its message of `length` bytes (bounded by the decoder).
  asio::awaitable<bool> read_refusal(std::uint64_t b, PeerStatus status, std::uint64_t length) {
    std::string message(length, '\0');
    if ((ec_ = co_await net::read_exact(socket_, deadline_, asio::buffer(message),
                                        settings_.block_timeout)))
      co_return fail();
    record_.refused();
    f_.blocks.finish(b, false);
    if (status == PeerStatus::not_held) {
      memory_.refused(b, message, f_.meta.block_count(), net::Clock::now());
      f_.blocks.keep_missing(memory_.holds);  // asking for one of those next
      co_return true;
    }
    log::warn(source_, ": status ", int(status), " for block ", b, ": ", printable(message));
    if (status == PeerStatus::out_of_range) ++outcome_.strikes;
    if (status == PeerStatus::unknown_cascade) outcome_.refuses_file = true;
    co_return fail();
  }

  // Reads block `b`'s `length` bytes within the block timeout, in chunks: 64 KiB under a
  // download limit (each followed by the limit's wait: unread, the bytes hold the sender back
  // through TCP; the time spent waiting on our own limit does not count against the peer), else
  // 256 KiB. Between chunks, a block that has meanwhile come from another peer and verified (an
  // endgame's second copy, or the first one it overtook) is dropped while more than
  // `worth_dropping` of it is still to come: the rest would only take the sender's uplink from
  // blocks others still need. The protocol has no cancel, so the connection closes at once
  // (dropped_copy; the sender's next write fails, and the peer is asked again at once on a new
  // connection). Each chunk wakes this thread about once (net::read_exact_woken_once).
  static constexpr std::uint64_t worth_dropping = 128 * 1024;
  asio::awaitable<std::error_code> read_block(std::uint64_t b, std::uint8_t* data,
                                              std::uint64_t length) {
    const std::uint64_t chunk = settings_.download != nullptr ? 64 * 1024 : 256 * 1024;
    const auto started = net::Clock::now();
    net::Clock::duration waited{};
    for (std::uint64_t done = 0; done < length;) {
      if (length - done > worth_dropping && f_.blocks.verified(b)) {
        log::debug("dropped block ", b, " from ", source_, " after ", done, " of ", length,
                   " bytes: it came from another peer first");
        outcome_.dropped_copy = true;
        std::error_code ignored;
        socket_.close(ignored);
        co_return asio::error::operation_aborted;
      }
      const std::uint64_t n = std::min(chunk, length - done);
      const auto spent = net::Clock::now() - started - waited;
      const auto left = std::chrono::duration_cast<net::Millis>(settings_.block_timeout - spent);
      if (left <= net::Millis::zero()) co_return asio::error::timed_out;
      if (auto ec = co_await net::read_exact_woken_once(socket_, deadline_,
                                                        asio::buffer(data + done, n), left, mark_))
        co_return ec;
      done += n;
      if (settings_.download != nullptr) waited += co_await net::pace(settings_.download, n);
    }
    // The next answer's header may be all there is to come.
    if (!net::reset_low_water(socket_, mark_)) co_return asio::error::operation_not_supported;
    co_return std::error_code{};
  }

  // Books one block's arrival in the connection's rate, and sets the pipeline depth from it.
  void follow_rate(std::uint64_t length) {
    const auto now = net::Clock::now();
    const double seconds =
        std::chrono::duration<double>(now - std::max(last_answer_, busy_since_)).count();
    last_answer_ = now;
    if (!settings_.adaptive || seconds <= 0) return;
    const double sample = static_cast<double>(length) / seconds;
    rate_ = rate_ == 0 ? sample : 0.75 * rate_ + 0.25 * sample;
    depth_ =
        depth_for_rate(rate_, f_.meta.block_size, settings_.pipeline, std::max(round_trip_, 0.0));
  }

  bool fail() {
    outcome_.failed = true;
    return false;
  }

  const std::shared_ptr<SharedFile> file_;
  SharedFile& f_;
  const FetchSettings& settings_;
  const std::atomic<bool>& stopping_;
  ConnectionSlots& slots_;  // the file's established connections (this one counted while up)
  PeerMemory& memory_;      // what we know of the peer: "don't have" answers, what it holds
  LackMemory& lacks_;
  const std::size_t answer_limit_;  // the peer's answers per connection (0: no limit seen)
  std::uint64_t answered_ = 0;      // blocks it sent on this connection
  std::size_t depth_;               // requests to keep outstanding now (fetch_policy.hpp)
  double rate_ = 0;                 // bytes per second, a moving average over its answers
  double round_trip_ = -1;          // seconds, the shortest seen (-1: none yet)
  bool timing_round_trip_ = false;  // a request went out on an empty pipeline
  net::Clock::time_point busy_since_{}, last_answer_{};
  tcp::socket& socket_;
  net::Deadline deadline_;
  net::LowWater mark_;  // raised while a block is read (read_block)
  std::mt19937_64 rng_;
  const std::string source_;
  InFlight record_;
  Bytes requests_;
  std::error_code ec_;  // the last network error
  PeerTable::Outcome outcome_;
};
}  // namespace

asio::awaitable<PeerTable::Outcome> fetch_from(std::shared_ptr<SharedFile> file,
                                               std::shared_ptr<Verifier> verifier, ThreadPool& pool,
                                               FetchSettings settings,
                                               const std::atomic<bool>& stopping,
                                               ConnectionSlots& slots, Endpoint from,
                                               PeerMemory& memory) {
  tcp::socket socket(co_await asio::this_coro::executor);
  ++file->stats.active_sources;
  Fetch fetch(file, settings, stopping, slots, from, memory, socket);
  auto checks = std::make_shared<CheckQueue>(socket.get_executor(), pool, std::move(verifier), file,
                                             fetch.record(), fetch.source());
  // Anything thrown (out of memory for a block buffer, a bug) still ends the connection in
  // order, and then goes to the caller: the blocks it held go back to the map, no verdict is
  // left to arrive after its record is gone.
  std::exception_ptr failure;
  try {
    co_await fetch.run(*checks, from);
  } catch (...) {
    failure = std::current_exception();
  }
  // Let the verifications of this connection finish, so their verdicts count for or against the
  // peer.
  co_await checks->drain();
  const PeerTable::Outcome outcome = fetch.finish(*checks);
  std::error_code ignored;
  socket.close(ignored);
  --file->stats.active_sources;
  if (failure) std::rethrow_exception(failure);
  co_return outcome;
}

}  // namespace cascade
