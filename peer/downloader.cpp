#include "peer/downloader.hpp"

#include <algorithm>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/log.hpp"
#include "peer/prefix_hasher.hpp"
#include "peer/tracker_client.hpp"

namespace cascade {

namespace {
using net::Clock;
using net::tcp;
using namespace std::chrono_literals;

constexpr int max_strikes = 3;                  // wrong blocks before a peer is banned
constexpr auto dont_have_memory = 750ms;        // how long a "don't have" answer is believed
constexpr auto idle_before_release = 1500ms;    // a connection with nothing to ask gives way
constexpr auto manager_tick = 100ms;

struct KnownPeer {
  Endpoint ep;
  bool good = false;
  bool connected = false;
  bool banned = false;
  int strikes = 0;
  int failures = 0;                 // consecutive failed connections
  Clock::time_point retry_at{};     // not before
  std::uint64_t delivered = 0;      // verified blocks received from it
  std::unordered_map<std::uint64_t, Clock::time_point> dont_have;  // block -> until
};

enum class Verdict { ok, bad, io_error };

// Blocks received on one connection and not yet verified. The connection's coroutine queues each
// block it reads; up to `max_jobs` pool jobs take blocks off the queue and check and write them,
// and hand back buffers and verdicts in batches (one wake-up of the connection per batch, not per
// block: with small blocks, cross-thread wake-ups cost more than the hashing).
struct Checks {
  struct Item {
    std::vector<std::uint8_t>* buffer;
    std::uint64_t block, length;
  };
  struct Result {
    std::vector<std::uint8_t>* buffer;
    std::uint64_t block;
    Verdict verdict;
  };
  Checks(const asio::any_io_executor& ex, std::shared_ptr<SharedFile> f, std::size_t most, std::size_t block)
      : strand(ex), wake(ex), file(std::move(f)), max_buffers(most), block_size(block) {}
  ~Checks() { file->buffer_bytes -= storage.size() * block_size; }
  // Allocates one more block buffer if this connection may: its first always, more while it has
  // fewer than max_buffers and the file's downloads together stay within buffer_budget.
  bool grow() {
    if (storage.size() >= max_buffers) return false;
    if (!storage.empty() && file->buffer_bytes.fetch_add(block_size) + block_size > SharedFile::buffer_budget) {
      file->buffer_bytes -= block_size;
      return false;
    }
    if (storage.empty()) file->buffer_bytes += block_size;
    storage.push_back(std::make_unique<std::vector<std::uint8_t>>(block_size));
    free.push_back(storage.back().get());
    allocated = storage.size();
    return true;
  }
  asio::any_io_executor strand;
  asio::steady_timer wake;  // cancelled whenever verdicts arrive
  const std::shared_ptr<SharedFile> file;
  const std::size_t max_buffers, block_size;
  std::atomic<std::size_t> allocated{0};  // storage.size(), readable by the pool jobs
  // Connection strand only:
  std::vector<std::unique_ptr<std::vector<std::uint8_t>>> storage;
  std::vector<std::vector<std::uint8_t>*> free;
  int pending = 0, delivered = 0, bad = 0;
  bool fatal = false;
  // Blocks read from this connection whose verdicts have not come back: no longer outstanding,
  // still not to be asked for again here (an endgame pick would, once per block).
  std::vector<std::uint64_t> in_hand;
  // Shared with the pool jobs:
  std::mutex mutex;
  std::deque<Item> queue;  // guarded by mutex
  int jobs = 0;            // guarded by mutex; pool jobs running for this connection
};
constexpr int max_jobs = 2;  // pool jobs per connection: one can verify while another hashes the prefix

// How many blocks make up `bytes`, kept within [least, most].
std::size_t blocks_worth(std::uint64_t bytes, std::uint64_t block_size, std::uint64_t least, std::uint64_t most) {
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(bytes / std::max<std::uint64_t>(block_size, 1), least, most));
}

// Requests a connection keeps outstanding: --pipeline, or by default enough to keep about 4 MiB
// in flight (4 to 64 requests).
std::size_t pipeline_depth(const Downloader::Options& o, std::uint64_t block_size) {
  return o.pipeline > 0 ? o.pipeline : blocks_worth(4ull << 20, block_size, 4, 64);
}

// Block buffers a connection may use: about 2 MiB's worth (3 to 64), so the socket is read while
// earlier blocks are checked. Allocated as needed, within the file's buffer budget.
std::size_t buffers_for(std::uint64_t block_size) { return blocks_worth(2ull << 20, block_size, 3, 64); }
}  // namespace

struct Downloader::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, ThreadPool& pool_, std::shared_ptr<SharedFile> f, Options o, FatalHandler fatal)
      : io(io_), pool(pool_), file(std::move(f)), options(std::move(o)), on_fatal(std::move(fatal)),
        strand(asio::make_strand(io_)), wake(strand), rng(std::random_device{}()),
        whole(file->blocks, *file->storage) {}

  asio::io_context& io;
  ThreadPool& pool;
  std::shared_ptr<SharedFile> file;
  const Options options;
  FatalHandler on_fatal;
  asio::strand<asio::io_context::executor_type> strand;  // the manager's
  asio::steady_timer wake;                                // the manager sleeps on it
  std::mt19937_64 rng;                                    // manager strand only
  std::atomic<bool> stopping{false};
  std::atomic<int> running_fetches{0};
  PrefixHasher whole;  // the whole file's SHA-256, kept up with the verified prefix
  // Blocks the whole-file hash covered when the last block was verified (what the download did
  // not leave for the end); not_yet until then.
  static constexpr std::uint64_t not_yet = ~0ull;
  std::atomic<std::uint64_t> hashed_at_last_block{not_yet};

  mutable std::mutex mutex;
  std::unordered_map<std::uint64_t, KnownPeer> peers;  // guarded by mutex; Endpoint::key() ->

  // Tracker state: manager strand only.
  Clock::time_point next_announce{}, next_list{};
  int tracker_failures = 0;
  int empty_lists = 0;  // consecutive answers that left us without a usable peer
  bool tracker_ok_logged = false;
  bool verifying = false;

  asio::awaitable<void> manage(std::shared_ptr<Impl> self);
  asio::awaitable<void> talk_to_tracker(TrackerCommand cmd);
  void merge(const std::vector<PeerEntry>& entries);
  std::vector<Endpoint> choose_sources(std::size_t want);
  std::size_t usable_peers() const {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::count_if(peers.begin(), peers.end(), [](const auto& kv) { return !kv.second.banned; }));
  }
  asio::awaitable<void> fetch(std::shared_ptr<Impl> self, Endpoint from);
  asio::awaitable<void> verify_whole();
  void check_blocks(const std::shared_ptr<Checks>& checks, const std::string& source);
  Verdict check_block(const Checks::Item& item, const std::string& source);
  void poke() {
    asio::post(strand, [self = shared_from_this()] { self->wake.cancel(); });
  }
};

Downloader::Downloader(asio::io_context& io, ThreadPool& pool, std::shared_ptr<SharedFile> file, Options options,
                       FatalHandler on_fatal)
    : impl_(std::make_shared<Impl>(io, pool, std::move(file), std::move(options), std::move(on_fatal))) {}

Downloader::~Downloader() { stop(); }

void Downloader::start() {
  Impl& d = *impl_;
  // The window holds at least twice what all connections may have in flight.
  const std::uint64_t block = std::max<std::uint64_t>(d.file->meta.block_size, 1);
  d.file->blocks.set_window(d.options.window_bytes == 0 ? 0
                                : std::max<std::uint64_t>(d.options.window_bytes / block,
                                                          2 * d.options.connections * pipeline_depth(d.options, block)));
  // Blocks verified at start-up (a resumed download) are taken into the whole-file hash now.
  if (!d.file->blocks.complete()) d.pool.post([impl = impl_] { impl->whole.advance(); });
  asio::co_spawn(d.strand, d.manage(impl_), asio::detached);
}

void Downloader::stop() {
  impl_->stopping = true;
  impl_->poke();
}

std::size_t Downloader::known_peers() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->peers.size();
}

std::size_t Downloader::banned_peers() const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(std::count_if(impl_->peers.begin(), impl_->peers.end(),
                                                [](const auto& kv) { return kv.second.banned; }));
}

void Downloader::Impl::merge(const std::vector<PeerEntry>& entries) {
  std::lock_guard lock(mutex);
  for (const auto& e : entries) {
    const Endpoint ep{e.ip, e.port};
    if (ep.ip == 0 || ep.port == 0 || ep == options.self) continue;  // never ourselves, never nonsense
    if (peers.size() >= options.max_peers && !peers.contains(ep.key())) continue;
    auto [it, added] = peers.try_emplace(ep.key());
    if (added) it->second.ep = ep;
    it->second.good = e.good;
  }
}

std::vector<Endpoint> Downloader::Impl::choose_sources(std::size_t want) {
  std::lock_guard lock(mutex);
  const auto now = Clock::now();
  std::vector<KnownPeer*> candidates;
  for (auto& [key, p] : peers)
    if (!p.connected && !p.banned && p.retry_at <= now) candidates.push_back(&p);
  std::shuffle(candidates.begin(), candidates.end(), rng);
  std::stable_sort(candidates.begin(), candidates.end(), [](const KnownPeer* a, const KnownPeer* b) {
    if (a->good != b->good) return a->good;
    return (a->delivered > 0) > (b->delivered > 0);
  });
  std::vector<Endpoint> out;
  for (std::size_t i = 0; i < candidates.size() && out.size() < want; ++i) {
    candidates[i]->connected = true;
    out.push_back(candidates[i]->ep);
  }
  return out;
}

asio::awaitable<void> Downloader::Impl::talk_to_tracker(TrackerCommand cmd) {
  TrackerRequest req{cmd, file->cascade_hash, options.self.ip, options.self.port};
  TrackerReply reply = co_await call_tracker(options.tracker_host, options.tracker_port, req, options.tracker_timeout);
  const auto now = Clock::now();
  next_list = now + options.list_interval;
  if (reply.ok) {
    if (tracker_failures > 0 || !tracker_ok_logged)
      log::info(file->cascade_path, ": tracker ", options.tracker_host, ":", options.tracker_port, " answered (",
                reply.peers.size(), " peers)");
    tracker_failures = 0;
    tracker_ok_logged = true;
    next_announce = now + options.announce_interval;
    merge(reply.peers);
    // An empty swarm (we started before any seed): look again soon, backing off 1, 2, 4 ... s up
    // to the list interval, rather than waiting a whole interval for the first peer.
    if (usable_peers() == 0) {
      next_list = now + std::min<Clock::duration>(options.list_interval, std::chrono::seconds(1 << std::min(empty_lists, 6)));
      ++empty_lists;
    } else {
      empty_lists = 0;
    }
    co_return;
  }
  if (tracker_failures == 0)
    log::warn(file->cascade_path, ": tracker ", options.tracker_host, ":", options.tracker_port,
              " failed: ", reply.error, "; retrying with backoff");
  ++tracker_failures;
  const auto backoff = std::chrono::seconds(std::min(60, 1 << std::min(tracker_failures - 1, 6)));
  next_announce = now + backoff;
  next_list = now + backoff;
}

asio::awaitable<void> Downloader::Impl::manage(std::shared_ptr<Impl> self) {
  while (!stopping) {
    const auto now = Clock::now();
    if (now >= next_announce)
      co_await talk_to_tracker(options.client_only ? TrackerCommand::list : TrackerCommand::subscribe);
    if (stopping) break;
    if (file->blocks.complete()) {
      if (!file->complete && !verifying) {
        verifying = true;
        co_await verify_whole();
      }
      if (options.client_only) break;  // nothing left to do; the app decides when to exit
    } else {
      const int running = running_fetches.load();
      const std::size_t want = options.connections > static_cast<std::size_t>(running)
                                   ? options.connections - static_cast<std::size_t>(running) : 0;
      auto sources = choose_sources(want);
      // Ask the tracker for more peers when the known set ran dry, or is smaller than the number
      // of connections wanted (peers that joined after us), at most once per list interval.
      if (Clock::now() >= next_list && Clock::now() < next_announce &&
          ((sources.empty() && running == 0) || usable_peers() < options.connections))
        co_await talk_to_tracker(TrackerCommand::list);
      for (const auto& ep : sources) {
        ++running_fetches;
        asio::co_spawn(asio::make_strand(io), fetch(self, ep), asio::detached);
      }
    }
    wake.expires_after(manager_tick);
    co_await wake.async_wait(net::nothrow);
  }
}

asio::awaitable<void> Downloader::Impl::fetch(std::shared_ptr<Impl> self, Endpoint from) {
  const std::string source = to_string(from);
  const SharedFile& f = *file;
  ++file->active_sources;
  std::unordered_map<std::uint64_t, Clock::time_point> dont_have;
  {
    std::lock_guard lock(mutex);
    dont_have = std::move(peers[from.key()].dont_have);
  }
  tcp::socket socket(co_await asio::this_coro::executor);
  net::Deadline deadline(socket);
  std::deque<std::uint64_t> outstanding;
  // Blocks being verified and written on the pool while the next ones are read: their buffers
  // and results live in `checks`, shared with the pool jobs.
  const auto block_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(f.meta.block_size, f.meta.target_size));
  auto checks = std::make_shared<Checks>(socket.get_executor(), file, buffers_for(block_bytes), block_bytes);
  Bytes requests;
  const std::size_t pipeline = pipeline_depth(options, f.meta.block_size);
  int strikes = 0, delivered = 0;
  bool failed = false, banned_here = false;
  std::mt19937_64 local_rng(std::random_device{}() ^ from.key());
  log::debug("connecting to ", source);
  std::error_code ec = co_await net::connect(socket, deadline, net::to_asio(from), options.connect_timeout);
  if (ec) {
    log::debug(source, ": connect failed: ", ec.message());
    failed = true;
  } else {
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
  }
  auto idle_since = Clock::now();
  while (!failed && !stopping && !f.blocks.complete()) {
    // Keep the pipeline full, topping it up in batches (one write for several requests).
    requests.clear();
    const auto now = Clock::now();
    while (outstanding.size() < pipeline && (outstanding.size() <= pipeline / 2 || !requests.empty())) {
      auto b = file->blocks.pick(local_rng, [&](std::uint64_t i) {
        auto d = dont_have.find(i);
        if (d != dont_have.end() && d->second > now) return true;
        return std::find(outstanding.begin(), outstanding.end(), i) != outstanding.end() ||
               std::find(checks->in_hand.begin(), checks->in_hand.end(), i) != checks->in_hand.end();
      });
      if (!b) break;
      outstanding.push_back(*b);
      const std::size_t at = requests.size();
      requests.resize(at + peer_request_size);
      encode_peer_request(PeerRequest{*b, f.cascade_hash},
                          std::span<std::uint8_t, peer_request_size>(requests.data() + at, peer_request_size));
    }
    if (!requests.empty() &&
        (ec = co_await net::write_all(socket, deadline, asio::buffer(requests), options.block_timeout))) {
      failed = true;
      break;
    }
    if (outstanding.empty()) {
      // Nothing this peer can give us right now; give the slot to another peer after a while.
      if (Clock::now() - idle_since > idle_before_release) break;
      asio::steady_timer t(socket.get_executor(), 50ms);
      co_await t.async_wait(net::nothrow);
      continue;
    }
    idle_since = Clock::now();
    // One answer, for the oldest request.
    const std::uint64_t b = outstanding.front();
    const std::uint64_t length = f.meta.block_length(b);
    std::array<std::uint8_t, peer_response_header_size> head{};
    if ((ec = co_await net::read_exact(socket, deadline, asio::buffer(head), options.block_timeout))) {
      failed = true;
      break;
    }
    auto h = decode_peer_response_header(head, length);
    if (!h.ok()) {
      log::warn(source, ": bad answer for block ", b, ": ", describe(h.error));
      ++strikes;
      failed = true;
      break;
    }
    if (h.value->status != 0) {
      std::string message(h.value->length, '\0');  // at most max_error_message: checked above
      if ((ec = co_await net::read_exact(socket, deadline, asio::buffer(message), options.block_timeout))) {
        failed = true;
        break;
      }
      outstanding.pop_front();
      file->blocks.finish(b, false);
      const auto status = static_cast<PeerStatus>(h.value->status);
      if (status == PeerStatus::not_held) {
        dont_have[b] = Clock::now() + dont_have_memory;
        continue;
      }
      log::warn(source, ": status ", int(h.value->status), " for block ", b, ": ", printable(message));
      if (status == PeerStatus::out_of_range) ++strikes;
      if (status == PeerStatus::unknown_cascade) banned_here = true;
      failed = true;
      break;
    }
    // A free buffer: a new one if allowed, else wait for a verification to finish.
    if (checks->free.empty()) checks->grow();
    while (checks->free.empty() && checks->bad == 0 && !checks->fatal) {
      checks->wake.expires_at(Clock::time_point::max());
      co_await checks->wake.async_wait(net::nothrow);
    }
    if (checks->bad > 0 || checks->fatal) {
      failed = true;
      break;
    }
    std::vector<std::uint8_t>* buffer = checks->free.back();
    checks->free.pop_back();
    if ((ec = co_await net::read_exact(socket, deadline, asio::buffer(buffer->data(), length), options.block_timeout))) {
      checks->free.push_back(buffer);
      failed = true;
      break;
    }
    outstanding.pop_front();
    checks->in_hand.push_back(b);
    ++checks->pending;
    bool start_job = false;
    {
      std::lock_guard lock(checks->mutex);
      checks->queue.push_back({buffer, b, length});
      if (checks->jobs < max_jobs && checks->queue.size() > static_cast<std::size_t>(checks->jobs)) {
        ++checks->jobs;
        start_job = true;
      }
    }
    if (start_job) pool.post([self, checks, source] { self->check_blocks(checks, source); });
  }
  // Let the verifications of this connection finish, so their verdicts count against the peer.
  while (checks->pending > 0) {
    checks->wake.expires_at(Clock::time_point::max());
    co_await checks->wake.async_wait(net::nothrow);
  }
  strikes += checks->bad;
  delivered += checks->delivered;
  // The peer closed the connection (a close with our next requests unread reaches us as a reset,
  // or breaks our next write).
  const bool closed_by_peer =
      ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
  if (checks->bad > 0) failed = true;
  for (std::uint64_t b : outstanding) file->blocks.finish(b, false);
  std::error_code ignored;
  socket.close(ignored);
  {
    std::lock_guard lock(mutex);
    KnownPeer& p = peers[from.key()];
    p.connected = false;
    p.delivered += static_cast<std::uint64_t>(delivered);
    p.strikes += strikes;
    p.dont_have = std::move(dont_have);
    if (p.strikes >= max_strikes && !p.banned) {
      p.banned = true;
      log::warn(source, ": banned after ", p.strikes, " bad blocks");
    }
    if (banned_here) p.banned = true;
    if (failed && delivered == 0) {
      ++p.failures;
      p.retry_at = Clock::now() + std::chrono::milliseconds(250) * (1 << std::min(p.failures, 8));
    } else if (closed_by_peer && strikes == 0) {
      // It delivered, then closed: some peers serve a few blocks per connection. Each such
      // connection makes progress, so asking again at once cannot spin.
      p.failures = 0;
      p.retry_at = Clock::now();
    } else {
      p.failures = failed ? 1 : 0;
      p.retry_at = Clock::now() + (failed ? 500ms : 200ms);
    }
  }
  --file->active_sources;
  --running_fetches;
  poke();
  (void)self;
}

// A pool job: checks and writes queued blocks until the queue is empty, handing verdicts back to
// the connection in batches.
void Downloader::Impl::check_blocks(const std::shared_ptr<Checks>& shared, const std::string& source) {
  Checks& checks = *shared;
  const std::size_t batch = std::max<std::size_t>(1, checks.allocated.load() / 2);
  std::vector<Checks::Result> results;
  auto hand_back = [&shared](std::vector<Checks::Result> done) {
    asio::post(shared->strand, [shared, done = std::move(done)] {
      Checks& checks = *shared;
      for (const auto& r : done) {
        checks.free.push_back(r.buffer);
        std::erase(checks.in_hand, r.block);
        --checks.pending;
        if (r.verdict == Verdict::ok) ++checks.delivered;
        if (r.verdict == Verdict::bad) ++checks.bad;
        if (r.verdict == Verdict::io_error) checks.fatal = true;
      }
      checks.wake.cancel();
    });
  };
  for (;;) {
    Checks::Item item{};
    {
      std::lock_guard lock(checks.mutex);
      if (checks.queue.empty()) {
        --checks.jobs;
        break;
      }
      item = checks.queue.front();
      checks.queue.pop_front();
    }
    results.push_back({item.buffer, item.block, check_block(item, source)});
    if (results.size() >= batch) hand_back(std::exchange(results, {}));
  }
  if (!results.empty()) hand_back(std::move(results));
}

Verdict Downloader::Impl::check_block(const Checks::Item& item, const std::string& source) {
  const std::uint64_t b = item.block, length = item.length;
  std::span<const std::uint8_t> data(item.buffer->data(), length);
  Verdict v = Verdict::ok;
  std::string io_error;
  if (!file->storage->block_matches(b, data)) {
    v = Verdict::bad;
  } else {
    try {
      file->storage->write_block(b, data);
    } catch (const std::exception& e) {
      io_error = e.what();
      v = Verdict::io_error;
    }
  }
  // Only now, hash matched and bytes written, does the block count as held.
  if (file->blocks.finish(b, v == Verdict::ok)) {
    file->bytes_downloaded += length;
    file->count_source(source);
    if (file->journal) file->journal->add(b);
    if (file->blocks.complete()) {
      std::uint64_t unset = not_yet;
      hashed_at_last_block.compare_exchange_strong(unset, whole.hashed_blocks());
    }
    whole.advance(b, data);
  }
  if (v == Verdict::bad) {
    ++file->bad_blocks;
    log::warn(source, ": block ", b, " failed its SHA-256 check");
  }
  if (v == Verdict::io_error) on_fatal(1, io_error);
  if (file->blocks.complete()) poke();
  return v;
}

asio::awaitable<void> Downloader::Impl::verify_whole() {
  SharedFile& f = *file;
  std::string error;
  const bool match = co_await net::on_pool(pool, [this, &f, &error] {
    try {
      f.storage->sync();
      return whole.finish() == f.meta.target_hash;
    } catch (const std::exception& e) {
      error = e.what();
      return false;
    }
  });
  if (!error.empty()) {
    on_fatal(1, error);
  } else if (!match) {
    on_fatal(2, f.cascade_path + ": every block verified but the whole file's SHA-256 does not match: "
                "the cascade file is inconsistent");
  } else {
    f.complete = true;
    if (f.journal) f.journal->remove();  // a complete file needs no redo log
    const std::uint64_t early = hashed_at_last_block.load();
    if (early == not_yet)
      log::info(f.data_path, ": complete, whole-file SHA-256 verified");
    else
      log::info(f.data_path, ": complete, whole-file SHA-256 verified (", early, " of ", f.meta.block_count(),
                " blocks hashed before the last block was verified, ", whole.hashed_from_memory(),
                " straight from memory)");
  }
  co_return;
}

}  // namespace cascade
