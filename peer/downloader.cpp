#include "peer/downloader.hpp"

#include <deque>
#include <new>
#include <optional>
#include <random>

#include "common/log.hpp"
#include "peer/fetch.hpp"
#include "peer/fetch_policy.hpp"
#include "peer/peer_table.hpp"
#include "peer/tracker_session.hpp"
#include "peer/verifier.hpp"

namespace cascade {

namespace {
// While the file downloads, the manager looks at its fetches and each tracker session at its
// schedule this often, and the manager whenever something it waits for happens (a fetch ended,
// the last block was verified, a stop). Once the file is complete and verified, the manager only
// waits for the stop and a session sleeps until its next announce: a peer sharing thousands of
// complete files does not wake for each of them ten times a second.
constexpr auto manager_tick = std::chrono::milliseconds(100);
// Connection attempts in flight at once, per connection wanted (see ConnectionSlots), and how
// long a pending attempt holds a slot before another peer is tried for it.
constexpr std::size_t attempts_per_connection = 4;
constexpr auto attempt_holds_slot = std::chrono::milliseconds(250);
}  // namespace

struct Downloader::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, ThreadPool& pool_, std::shared_ptr<SharedFile> f, Options o,
       std::function<void(const Fatal&)> fatal, std::function<void()> complete)
      : io(io_),
        pool(pool_),
        file(std::move(f)),
        options(std::move(o)),
        on_fatal(std::move(fatal)),
        on_complete(std::move(complete)),
        strand(asio::make_strand(io_)),
        wake(strand),
        rng(std::random_device{}()),
        peers(PeerTable::Options{options.max_peers, options.self}),
        fetch{pipeline_depth(options.pipeline, file->meta.block_size),
              options.connect_timeout,
              options.block_timeout,
              options.connections,
              options.pipeline == 0,
              options.download,
              options.events} {
    for (const auto& t : options.trackers)
      trackers.emplace_back(TrackerSession::Options{t.host,
                                                    t.port,
                                                    options.tracker_timeout,
                                                    {options.announce_interval,
                                                     options.list_interval, options.client_only}},
                            file->cascade_hash, options.self, file->cascade_path, options.events);
    // Made here, never changed after: stop() may run on another thread before or during start().
    for (std::size_t i = 0; i < trackers.size(); ++i)
      tracker_timers.push_back(std::make_unique<asio::steady_timer>(strand));
  }

  asio::io_context& io;
  ThreadPool& pool;
  const std::shared_ptr<SharedFile> file;
  const Options options;
  const std::function<void(const Fatal&)> on_fatal;
  const std::function<void()> on_complete;
  asio::strand<asio::io_context::executor_type> strand;             // the manager's
  asio::steady_timer wake;                                          // the manager sleeps on it
  std::vector<std::unique_ptr<asio::steady_timer>> tracker_timers;  // one per session, its sleep
  std::mt19937_64 rng;                                              // manager strand only
  std::atomic<bool> stopping{false};
  std::atomic<int> running{0};  // fetches running: connecting, established or ending
  ConnectionSlots slots;
  PeerTable peers;
  const FetchSettings fetch;
  std::vector<TrackerSession> trackers;         // manager strand only
  std::shared_ptr<Verifier> verifier;           // set in start()
  bool verifying = false;                       // manager strand only
  std::deque<net::Clock::time_point> attempts;  // manager strand only: recent connection attempts
  const net::Clock::time_point started = net::Clock::now();

  // New connections to start now: the free slots, less the attempts of the last
  // attempt_holds_slot still pending; within the cap on attempts pending at once.
  std::size_t attempts_wanted(net::Clock::time_point now) {
    while (!attempts.empty() && now - attempts.front() > attempt_holds_slot) attempts.pop_front();
    const std::ptrdiff_t pending = running.load() - slots.established.load();
    const std::ptrdiff_t young = std::min<std::ptrdiff_t>(attempts.size(), pending);
    const std::ptrdiff_t free_slots =
        static_cast<std::ptrdiff_t>(options.connections) - slots.established.load() - young;
    const std::ptrdiff_t room =
        static_cast<std::ptrdiff_t>(options.connections * attempts_per_connection) - pending;
    return static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, std::min(free_slots, room)));
  }

  asio::awaitable<void> manage(std::shared_ptr<Impl> self);
  // One tracker's session, on the manager strand: its own loop, so a slow tracker (its requests
  // wait up to tracker_timeout) never holds up the others or the manager.
  asio::awaitable<void> track(std::shared_ptr<Impl> self, std::size_t which);
  TrackerSchedule::Need tracker_need() {
    const auto c = peers.counts(net::Clock::now());
    // A complete file needs no peers: its sessions only keep announcing it.
    const bool complete = file->blocks.complete();
    return TrackerSchedule::Need{c.known - c.banned, complete ? 0 : options.connections,
                                 !complete && running.load() == 0 && c.ready == 0};
  }
  asio::awaitable<void> fetch_one(std::shared_ptr<Impl> self, Endpoint from);
  asio::awaitable<void> check_whole();
  void poke() {
    asio::post(strand, [self = shared_from_this()] { self->wake.cancel(); });
  }
};

Downloader::Downloader(asio::io_context& io, ThreadPool& pool, std::shared_ptr<SharedFile> file,
                       Options options, std::function<void(const Fatal&)> on_fatal,
                       std::function<void()> on_complete)
    : impl_(std::make_shared<Impl>(io, pool, std::move(file), std::move(options),
                                   std::move(on_fatal), std::move(on_complete))) {}

Downloader::~Downloader() {
  stop();
}

void Downloader::start() {
  Impl& d = *impl_;
  d.file->blocks.set_window(window_blocks(d.options.window_bytes, d.file->meta.block_size,
                                          d.options.connections, d.fetch.pipeline));
  d.file->blocks.set_in_order(d.options.client_only);  // nobody trades on a client's order
  std::weak_ptr<Impl> weak = impl_;
  d.verifier = std::make_shared<Verifier>(d.file, d.on_fatal, [weak] {
    if (auto impl = weak.lock()) impl->poke();
  });
  // Blocks verified at start-up (a resumed download) are taken into the whole-file hash now.
  if (!d.file->blocks.complete()) d.pool.post([v = d.verifier] { v->catch_up(); });
  asio::co_spawn(d.strand, d.manage(impl_), asio::detached);
  for (std::size_t i = 0; i < d.trackers.size(); ++i)
    asio::co_spawn(d.strand, d.track(impl_, i), asio::detached);
}

void Downloader::stop() {
  impl_->stopping = true;
  // The sessions may sleep until their next announce: wake them too.
  asio::post(impl_->strand, [self = impl_] {
    self->wake.cancel();
    for (auto& t : self->tracker_timers) t->cancel();
  });
}

asio::awaitable<void> Downloader::Impl::manage(std::shared_ptr<Impl> self) {
  while (!stopping) {
    const auto want = attempts_wanted(net::Clock::now());
    if (file->blocks.complete()) {
      if (!file->complete && !verifying) {
        verifying = true;
        co_await check_whole();
      }
      if (options.client_only)
        break;  // nothing left to do but report; the app decides when to exit
    } else {
      for (const auto& ep : peers.choose(want, net::Clock::now(), rng)) {
        ++running;
        attempts.push_back(net::Clock::now());
        asio::co_spawn(asio::make_strand(io), fetch_one(self, ep), asio::detached);
      }
    }
    // A stop that came while the whole-file check ran found no wait to cancel.
    if (stopping) break;
    if (file->complete)
      wake.expires_at(net::Clock::time_point::max());  // nothing to do until the stop
    else
      wake.expires_after(manager_tick);
    co_await wake.async_wait(net::nothrow);
  }
}

asio::awaitable<void> Downloader::Impl::track(std::shared_ptr<Impl> self, std::size_t which) {
  asio::steady_timer& timer = *tracker_timers[which];
  while (!stopping && !(options.client_only && file->blocks.complete())) {
    if (co_await trackers[which].step(tracker_need(), peers)) wake.cancel();  // new peers, maybe
    if (stopping) break;
    // A complete file's need stays as it is; a download's changes at any moment.
    const auto next = trackers[which].schedule().next_due(tracker_need());
    timer.expires_at(file->complete ? next : std::min(next, net::Clock::now() + manager_tick));
    co_await timer.async_wait(net::nothrow);
  }
  (void)self;
}

asio::awaitable<void> Downloader::Impl::fetch_one(std::shared_ptr<Impl> self, Endpoint from) {
  PeerMemory memory = peers.take_memory(from);
  PeerTable::Outcome outcome;
  std::optional<std::string> failure;
  try {
    outcome = co_await fetch_from(file, verifier, pool, fetch, stopping, slots, from, memory);
  } catch (const std::bad_alloc&) {
    failure = "out of memory (this file's blocks are " + std::to_string(file->meta.block_size) +
              " bytes, and each connection holds a few)";
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "an unknown error";
  }
  // Nothing else can be expected to go better (co_spawn with detached would drop the exception
  // without a word and leave the download waiting): exit 1 and say why.
  if (failure) {
    outcome.failed = true;
    on_fatal(Fatal(ExitCode::failure, "fetching from " + to_string(from) + ": " + *failure));
  }
  if (peers.release(from, outcome, std::move(memory), net::Clock::now()) ==
      PeerTable::Standing::banned_now) {
    log::warn(to_string(from), ": banned",
              outcome.refuses_file ? " (it does not serve this file)" : " after bad blocks");
    if (options.events)
      options.events->peer_banned(file->data_path, to_string(from),
                                  outcome.refuses_file ? "refuses_file" : "bad_blocks");
  }
  --running;
  poke();
  (void)self;
}

asio::awaitable<void> Downloader::Impl::check_whole() {
  std::optional<Fatal> failure = co_await net::on_pool(
      pool, [v = verifier.get(), evict = options.client_only] { return v->check_whole(evict); });
  if (options.events)
    options.events->file_complete(
        file->data_path, !failure,
        std::chrono::duration<double>(net::Clock::now() - started).count(),
        failure ? failure->what() : "");
  if (failure)
    on_fatal(*failure);
  else
    on_complete();
}

PeerTable::Counts Downloader::peer_counts() const {
  return impl_->peers.counts(net::Clock::now());
}

}  // namespace cascade
