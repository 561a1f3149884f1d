#include "tracker/server.hpp"

#include <array>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <sstream>

#include "common/connection_limits.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/system.hpp"

namespace cascade {

namespace {
using net::tcp;

std::uint64_t unix_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

using ErrorKind = TrackerErrorKind;
constexpr int kinds = error_kinds;

Registry::Options registry_options(const TrackerConfig& c) {
  return Registry::Options{c.peer_ttl_seconds, c.max_peers_reported, c.max_peers,
                           std::random_device{}()};
}

struct Connection {
  // The deadline cancels rather than closes: a request that stalls part-way is still told why.
  explicit Connection(tcp::socket s)
      : socket(std::move(s)), deadline(socket, net::Deadline::OnExpiry::cancel) {}
  tcp::socket socket;
  net::Deadline deadline;        // after the socket: destroyed first
  std::uint32_t counted_ip = 0;  // the address counted against max-connections-per-ip
  Endpoint from;                 // the client, as accept() reported it
};
}  // namespace

struct TrackerServer::Impl {
  Impl(TrackerConfig c, Options o)
      : config(std::make_shared<const TrackerConfig>(std::move(c))),
        options(std::move(o)),
        limits(config->max_connections, config->max_connections_per_ip),
        registry(registry_options(*config)),
        control(asio::make_strand(io)),
        acceptor(control),
        signals(control, SIGINT, SIGTERM),
        hangup(control, SIGHUP),
        stats_timer(control),
        sweep_timer(control),
        shutdown_timer(control) {}

  // The configuration in force; a reload swaps it whole, and each request keeps the one it
  // started with.
  mutable std::mutex config_mutex;
  std::shared_ptr<const TrackerConfig> config;  // guarded by config_mutex
  std::shared_ptr<const TrackerConfig> current() const {
    std::lock_guard lock(config_mutex);
    return config;
  }
  Options options;
  const net::Clock::time_point started = net::Clock::now();
  const std::uint64_t started_unix = unix_now();
  ConnectionLimits limits;
  Registry registry;
  asio::io_context io;
  // The acceptor, signals and timers are used only on this strand (accept loops, stats, sweeps,
  // stopping): Asio objects are not safe to touch from two threads at once.
  asio::strand<asio::io_context::executor_type> control;
  tcp::acceptor acceptor;
  asio::signal_set signals, hangup;
  asio::steady_timer stats_timer, sweep_timer, shutdown_timer, rate_timer{control};
  // Requests counted once a second for the last rate_window seconds (the rate loop writes).
  static constexpr std::size_t rate_window = 10;
  mutable std::mutex rate_mutex;
  std::deque<std::uint64_t> request_counts;  // guarded by rate_mutex; oldest first
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> active{0};  // connections being served (admitted or not yet released)
  std::atomic<std::uint64_t> requests{0}, answered_ok{0}, rejected_connections{0};
  std::array<std::atomic<std::uint64_t>, kinds> errors{};
  std::array<std::array<std::atomic<std::uint64_t>, 2>, command_kinds> by_command{};
  std::atomic<std::uint64_t> reloads_ok{0}, reloads_failed{0};
  metrics::Histogram latency;
  std::mutex spare_mutex;
  std::vector<std::shared_ptr<Connection>>
      spare;  // guarded by spare_mutex; closed, ready for reuse

  static net::Millis timeout(const TrackerConfig& c) { return net::Millis(c.request_timeout_ms); }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<Connection> c);
  // Decides the answer to a well-formed request; fills `out` with the encoded response.
  // Returns whether it was answered with an ok status.
  bool answer(const TrackerConfig& config, const TrackerRequest& req, const Endpoint& from,
              Bytes& out);
  void on_hangup();
  asio::awaitable<void> stats_loop();
  asio::awaitable<void> sweep_loop();
  asio::awaitable<void> rate_loop();
  void begin_stop();
};

TrackerServer::TrackerServer(TrackerConfig config, Options options)
    : impl_(std::make_unique<Impl>(std::move(config), options)) {}
TrackerServer::~TrackerServer() = default;

std::uint16_t TrackerServer::bind() {
  const auto& c = *impl_->current();
  impl_->acceptor = net::listen(impl_->io.get_executor(), c.bind, c.port.value_or(0));
  return impl_->acceptor.local_endpoint().port();
}

void TrackerServer::stop() {
  asio::post(impl_->control, [impl = impl_.get()] { impl->begin_stop(); });
}

void TrackerServer::run() {
  Impl& m = *impl_;
  net::on_stop_signals(m.signals, [&m](int sig) {
    log::info("signal ", sig,
              ": stopping (in-flight requests finish; a second signal exits at once)");
    m.begin_stop();  // cancels the second-signal exit once nothing is in flight
  });
  const std::size_t threads = threads_or_cores(m.options.threads);
  // One accept outstanding per network thread, so a burst of connections is taken at once; the
  // loops share the control strand (each connection is then served on its own strand).
  for (std::size_t i = 0; i < threads; ++i)
    asio::co_spawn(m.control, m.accept_loop(), asio::detached);
  asio::co_spawn(m.control, m.sweep_loop(), asio::detached);
  asio::co_spawn(m.control, m.rate_loop(), asio::detached);
  if (m.options.stats_interval_s > 0) asio::co_spawn(m.control, m.stats_loop(), asio::detached);
  if (m.options.reload) m.on_hangup();
  net::run_threads(m.io, threads);
  log::info("stopped: ", m.requests.load(), " requests served");
}

void TrackerServer::Impl::begin_stop() {
  if (stopping.exchange(true)) return;
  std::error_code ec;
  acceptor.close(ec);
  stats_timer.cancel();
  sweep_timer.cancel();
  rate_timer.cancel();
  hangup.cancel();
  {
    // Idle connection objects keep their deadline watchers (and so the io_context) alive:
    // destroy each on its own strand.
    std::lock_guard lock(spare_mutex);
    for (auto& c : spare) {
      auto ex = c->socket.get_executor();
      asio::post(ex, [c = std::move(c)] {});
    }
    spare.clear();
  }
  // Connections end by themselves (each has a deadline); bound the wait all the same.
  shutdown_timer.expires_after(timeout(*current()) + net::Millis(500));
  shutdown_timer.async_wait([this](std::error_code e) {
    if (!e) io.stop();
  });
  if (active.load() == 0) {
    shutdown_timer.cancel();
    signals.cancel();
  }
}

// Accepts straight into a reused connection object's socket, and takes the client's address
// from accept() itself: no getpeername(), and the socket is registered with epoll once.
asio::awaitable<void> TrackerServer::Impl::accept_loop() {
  bool short_of_descriptors = false;
  std::shared_ptr<Connection> conn;  // the object the next connection is accepted into
  while (!stopping) {
    if (!conn) {
      std::lock_guard lock(spare_mutex);
      if (!spare.empty()) {
        conn = std::move(spare.back());
        spare.pop_back();
      }
    }
    if (!conn) conn = std::make_shared<Connection>(tcp::socket(asio::make_strand(io)));
    tcp::endpoint peer;
    const std::error_code ec =
        co_await net::accept_next(acceptor, conn->socket, peer, short_of_descriptors);
    if (stopping) break;
    if (ec) continue;
    const Endpoint from = net::from_asio(peer);
    if (!limits.try_admit(from.ip)) {
      ++rejected_connections;
      std::error_code ignored;
      conn->socket.close(ignored);  // the object takes the next connection
      continue;
    }
    ++active;
    conn->counted_ip = from.ip;
    conn->from = from;
    if (log::level() == log::Level::debug)
      log::debug("accepted a connection from ", to_string(from));
    auto strand = conn->socket.get_executor();
    asio::co_spawn(strand, serve(std::move(conn)), asio::detached);
  }
  if (conn) {
    // Its deadline watcher lives on its strand: destroy it there.
    auto ex = conn->socket.get_executor();
    asio::post(ex, [c = std::move(conn)] {});
  }
}

asio::awaitable<void> TrackerServer::Impl::serve(std::shared_ptr<Connection> c) {
  const auto accepted = net::Clock::now();
  const std::shared_ptr<const TrackerConfig> config_in_force = current();
  const TrackerConfig& config = *config_in_force;
  auto timeout = [&] { return Impl::timeout(config); };
  std::array<std::uint8_t, tracker_request_size> in{};
  Bytes out;
  out.reserve(tracker_response_header_size + config.max_peers_reported * peer_entry_size);
  int command = command_invalid;
  bool ok = false;
  std::error_code ec;
  c->deadline.reset();
  const Endpoint from = c->from;
  // The whole request shares one deadline: a slow drip of bytes gets no more time than a stall.
  const auto request_deadline = net::Clock::now() + timeout();
  auto left = [&] {
    return std::max(net::Millis(1),
                    std::chrono::duration_cast<net::Millis>(request_deadline - net::Clock::now()));
  };
  bool replied = false;
  // The header, and the body too if it came with it (one system call for most requests); never
  // more than the 16 + 38 bytes of a request.
  auto [first_ec, got] = co_await net::read_at_least(c->socket, c->deadline, asio::buffer(in),
                                                     tracker_header_size, left());
  ec = first_ec;
  if (!ec) {
    auto header = decode_tracker_header(ByteSpan(in.data(), tracker_header_size));
    if (!header.ok()) {
      ++errors[bad_header];
      encode_tracker_error("bad request: " + std::string(describe(header.error)), out);
      replied = true;
    } else {
      if (got < in.size()) {
        const std::size_t rest = in.size() - got;
        auto [rest_ec, more] = co_await net::read_at_least(
            c->socket, c->deadline, asio::buffer(in.data() + got, rest), rest, left());
        ec = rest_ec;
        got += more;
      }
      if (!ec) {
        const TrackerRequest req = *decode_tracker_request(ByteSpan(in)).value;
        command = req.command == TrackerCommand::subscribe ? command_subscribe : command_list;
        ok = answer(config, req, from, out);
        replied = true;
      }
    }
  }
  const bool eof = ec == asio::error::eof;
  if (got > 0 && (eof || ec == asio::error::timed_out)) {
    // Part of a request, then the end of the client's stream or nothing more: say so before
    // closing (a client short of a few bytes may still be reading). One that sent nothing gets
    // nothing.
    ++errors[eof ? bad_header : timed_out];
    c->deadline.reset();
    const std::string n = std::to_string(got), size = std::to_string(tracker_request_size);
    encode_tracker_error(
        eof ? "bad request: it ended after " + n + " of the " + size + " bytes of a request"
            : "bad request: only " + n + " of its " + size + " bytes arrived within " +
                  std::to_string(config.request_timeout_ms) + " ms",
        out);
    replied = true;
  } else if (ec) {
    ++errors[ec == asio::error::timed_out ? timed_out : io_error];
  }
  if (replied) {
    ++requests;
    ++by_command[static_cast<std::size_t>(command)][ok ? 1 : 0];
    ec = co_await net::write_last(c->socket, c->deadline, asio::buffer(out), timeout());
    latency.observe(std::chrono::duration<double>(net::Clock::now() - accepted).count());
    if (ec)
      ++errors[ec == asio::error::timed_out ? timed_out : io_error];
    else
      co_await net::graceful_close(c->socket, c->deadline, std::min(timeout(), net::Millis(1000)),
                                   4096);
  }
  limits.release(c->counted_ip);
  // Disarmed before it goes back to the spares: a deadline left over from this request must not
  // fire on the next connection accepted into it before that one sets its own.
  c->deadline.clear();
  std::error_code ignored;
  c->socket.close(ignored);
  {
    std::lock_guard lock(spare_mutex);
    if (spare.size() < 256 && !stopping) spare.push_back(std::move(c));
  }
  if (--active == 0 && stopping) {
    asio::post(control, [this] {
      shutdown_timer.cancel();
      signals.cancel();
    });
  }
}

bool TrackerServer::Impl::answer(const TrackerConfig& config, const TrackerRequest& req,
                                 const Endpoint& from, Bytes& out) {
  auto refuse = [&](ErrorKind kind, std::string_view message) {
    ++errors[kind];
    encode_tracker_error(message, out);
    return false;
  };
  if (!config.open && !config.allowed_hashes.contains(req.cascade_hash))
    return refuse(not_tracked, "The supplied hash is not tracked by this tracker");
  const Endpoint peer{req.ip, req.port};
  const std::uint64_t now = unix_now();
  if (req.command == TrackerCommand::subscribe) {
    if (peer.ip == 0 || peer.port == 0)
      return refuse(refused, "SUBSCRIBE must report a non-zero IPv4 address and port");
    if (config.ban_private && is_private_ipv4(peer.ip))
      return refuse(
          refused, "This tracker does not accept private addresses (" + format_ipv4(peer.ip) + ")");
    if (config.require_source_ip && peer.ip != from.ip)
      return refuse(refused, "SUBSCRIBE must report the address it comes from (" +
                                 format_ipv4(from.ip) + ")");
    const bool good = config.good_ips.contains(peer.ip);
    if (good && peer.ip != from.ip)
      return refuse(refused,
                    "A SUBSCRIBE for good address " + format_ipv4(peer.ip) + " must come from it");
    if (registry.subscribe(req.cascade_hash, peer, good, now) == Registry::SubscribeResult::full)
      return refuse(full, "This tracker is full and cannot record more peers");
  }
  std::vector<PeerEntry> peers;
  peers.reserve(config.max_peers_reported);
  registry.list(req.cascade_hash, peer, now, peers);
  ++answered_ok;
  encode_tracker_ok(peers, out);
  return true;
}

asio::awaitable<void> TrackerServer::Impl::sweep_loop() {
  while (!stopping) {
    const auto period =
        std::chrono::seconds(std::clamp<std::uint64_t>(current()->peer_ttl_seconds / 4, 1, 60));
    sweep_timer.expires_after(period);
    auto [ec] = co_await sweep_timer.async_wait(net::nothrow);
    if (ec || stopping) break;
    registry.sweep(unix_now());
    // A request that began before a reload may have recorded a peer in a swarm the reload
    // dropped: drop such swarms again.
    const auto config = current();
    if (!config->open)
      registry.retain([&](const Hash256& h) { return config->allowed_hashes.contains(h); });
  }
}

asio::awaitable<void> TrackerServer::Impl::rate_loop() {
  while (!stopping) {
    {
      std::lock_guard lock(rate_mutex);
      request_counts.push_back(requests.load());
      if (request_counts.size() > rate_window + 1) request_counts.pop_front();
    }
    rate_timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await rate_timer.async_wait(net::nothrow);
    if (ec || stopping) break;
  }
}

asio::awaitable<void> TrackerServer::Impl::stats_loop() {
  std::uint64_t last = requests.load();
  auto last_time = net::Clock::now();
  while (!stopping) {
    stats_timer.expires_after(std::chrono::seconds(options.stats_interval_s));
    auto [ec] = co_await stats_timer.async_wait(net::nothrow);
    if (ec || stopping) break;
    const auto now = net::Clock::now();
    const std::uint64_t total = requests.load();
    const double secs = std::chrono::duration<double>(now - last_time).count();
    const auto counts = registry.counts();
    std::ostringstream line;
    line << "stats: swarms=" << counts.swarms << " peers=" << counts.peers
         << " connections=" << active.load()
         << " requests/s=" << static_cast<std::uint64_t>((total - last) / std::max(secs, 1e-3))
         << " requests=" << total << " ok=" << answered_ok.load()
         << " rejected_connections=" << rejected_connections.load() << " errors:";
    for (int k = 0; k < kinds; ++k)
      line << ' ' << tracker_error_names[static_cast<std::size_t>(k)] << '=' << errors[k].load();
    log::info(line.str());
    last = total;
    last_time = now;
  }
}

void TrackerServer::Impl::on_hangup() {
  hangup.async_wait([this](std::error_code ec, int) {
    if (ec || stopping) return;
    try {
      TrackerConfig next = options.reload();
      const std::string changes = TrackerServer::apply_to(*this, std::move(next));
      ++reloads_ok;
      log::info("SIGHUP: configuration reloaded", changes);
    } catch (const std::exception& e) {
      ++reloads_failed;
      log::warn("SIGHUP: configuration not reloaded, the old one stays in force: ", e.what());
    }
    on_hangup();
  });
}

std::string TrackerServer::apply(TrackerConfig next) {
  return apply_to(*impl_, std::move(next));
}

std::string TrackerServer::apply_to(Impl& m, TrackerConfig next) {
  const auto before = m.current();
  std::string changes;
  if (next.port != before->port || next.bind != before->bind) {
    log::warn("the configuration's port or bind address changed (now ", next.bind, ":",
              next.port ? std::to_string(*next.port) : std::string("?"),
              "): that takes a restart; still listening where we were");
    next.port = before->port;
    next.bind = before->bind;
  }
  m.limits.set_caps(next.max_connections, next.max_connections_per_ip);
  m.registry.set_options(registry_options(next));
  auto shared = std::make_shared<const TrackerConfig>(std::move(next));
  {
    std::lock_guard lock(m.config_mutex);
    m.config = shared;
  }
  const std::size_t dropped = m.registry.retain(
      [&](const Hash256& h) { return shared->open || shared->allowed_hashes.contains(h); });
  changes += std::string(": mode ") + (shared->open ? "open" : "closed");
  if (!shared->open)
    changes += ", " + std::to_string(shared->allowed_hashes.size()) + " allowed hashes";
  changes += ", " + std::to_string(shared->good_ips.size()) + " good addresses";
  if (dropped) changes += ", " + std::to_string(dropped) + " swarms no longer tracked dropped";
  return changes;
}

std::uint64_t TrackerSnapshot::total_requests() const {
  std::uint64_t n = 0;
  for (const auto& c : requests) n += c[0] + c[1];
  return n;
}

TrackerSnapshot TrackerServer::snapshot() const {
  const Impl& m = *impl_;
  TrackerSnapshot s;
  const auto config = m.current();
  s.uptime_seconds = std::chrono::duration<double>(net::Clock::now() - m.started).count();
  s.start_time_seconds = static_cast<double>(m.started_unix);
  s.open = config->open;
  s.allowed_hashes = config->allowed_hashes.size();
  for (std::size_t c = 0; c < command_kinds; ++c)
    for (std::size_t k = 0; k < 2; ++k) s.requests[c][k] = m.by_command[c][k].load();
  for (std::size_t k = 0; k < error_kinds; ++k) s.errors[k] = m.errors[k].load();
  s.rejected_connections = m.rejected_connections.load();
  s.reloads_ok = m.reloads_ok.load();
  s.reloads_failed = m.reloads_failed.load();
  s.connections = m.active.load();
  const auto counts = m.registry.counts();
  s.swarms = counts.swarms;
  s.peers = counts.peers;
  s.largest = m.registry.swarm_counts(TrackerSnapshot::max_listed);
  s.latency = m.latency.snapshot();
  {
    std::lock_guard lock(m.rate_mutex);
    if (m.request_counts.size() >= 2)
      s.requests_per_second =
          static_cast<double>(m.request_counts.back() - m.request_counts.front()) /
          static_cast<double>(m.request_counts.size() - 1);
  }
  return s;
}

}  // namespace cascade
