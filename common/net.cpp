#include "common/net.hpp"

#include <sys/utsname.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>

#include "common/log.hpp"

namespace cascade::net {

tcp::endpoint to_asio(const Endpoint& e) {
  return {asio::ip::address_v4(e.ip), e.port};
}

Endpoint from_asio(const tcp::endpoint& e) {
  auto a = e.address();
  if (a.is_v4()) return {a.to_v4().to_uint(), e.port()};
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return {asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_uint(), e.port()};
  return {0, e.port()};
}

tcp::acceptor listen(const asio::any_io_executor& ex, const std::string& address,
                     std::uint16_t port, int backlog) {
  const std::string where = address + ":" + std::to_string(port);
  std::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + where + ": bad address");
  tcp::endpoint ep(addr, port);
  tcp::acceptor acceptor(ex);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + where);
  return acceptor;
}

asio::awaitable<std::error_code> accept_next(tcp::acceptor& acceptor, tcp::socket& socket,
                                             tcp::endpoint& peer, bool& short_of_descriptors) {
  // How long to wait for descriptors to free up before accepting again.
  constexpr auto descriptor_backoff = std::chrono::milliseconds(20);
  auto [ec] = co_await acceptor.async_accept(socket, peer, nothrow);
  if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
    if (!short_of_descriptors)
      log::warn("accept: ", ec.message(), "; backing off until descriptors free up");
    short_of_descriptors = true;
    asio::steady_timer t(acceptor.get_executor(), descriptor_backoff);
    co_await t.async_wait(nothrow);
  } else if (!ec) {
    short_of_descriptors = false;
  }
  co_return ec;
}

void on_stop_signals(asio::signal_set& signals, std::function<void(int)> on_first) {
  signals.async_wait([&signals, on_first = std::move(on_first)](std::error_code ec, int sig) {
    if (ec) return;
    // Armed before the stop begins, so that the stop may cancel it once nothing is in flight.
    signals.async_wait([](std::error_code ec2, int) {
      if (!ec2) std::_Exit(1);
    });
    on_first(sig);
  });
}

Deadline::Deadline(tcp::socket& socket, OnExpiry on_expiry)
    : state_(std::make_shared<State>(socket, on_expiry)) {
  asio::co_spawn(socket.get_executor(), watch(state_), asio::detached);
}

Deadline::~Deadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void Deadline::expires_after(Millis d) {
  State& s = *state_;
  s.deadline = Clock::now() + d;
  // Only an earlier deadline needs the watcher woken; a later one is noticed when it wakes.
  if (s.deadline < s.timer.expiry()) s.timer.cancel();
}

void Deadline::clear() {
  state_->deadline = Clock::time_point::max();
}

void Deadline::reset() {
  clear();
  state_->expired = false;
}

asio::awaitable<void> Deadline::watch(std::shared_ptr<State> state) {
  while (state->socket != nullptr) {
    state->timer.expires_at(state->deadline);
    co_await state->timer.async_wait(nothrow);
    if (state->socket == nullptr) break;
    if (Clock::now() >= state->deadline) {
      state->expired = true;
      state->deadline = Clock::time_point::max();
      std::error_code ignored;
      if (state->on_expiry == OnExpiry::cancel)
        state->socket->cancel(ignored);
      else
        state->socket->close(ignored);
    }
  }
}

namespace {
std::error_code finish(const Deadline& d, std::error_code ec) {
  if (ec && d.expired()) return asio::error::timed_out;
  return ec;
}

// The completion condition of every composed read and write here: the next step may move up to
// 64 KiB (Asio's own step) until `at_least` bytes moved, and none once the deadline has passed.
// Expiry cancels only an operation pending at that moment; between two steps (the last one done,
// its handler not run yet) there is none, and without this check the next step would wait with no
// deadline at all. Deadline and steps share the socket's strand, so no expiry falls between the
// check and the step it allows.
auto until_expired(const Deadline& d, std::size_t at_least) {
  return [&d, at_least](const std::error_code& ec, std::size_t n) -> std::size_t {
    return ec || d.expired() || n >= at_least ? 0 : 65536;
  };
}

// What a composed operation that moved `n` of `at_least` bytes reports: a stop short of them with
// no error was the deadline's.
std::error_code finish(const Deadline& d, std::error_code ec, std::size_t n, std::size_t at_least) {
  if (!ec && n < at_least) return asio::error::timed_out;
  return finish(d, ec);
}
}  // namespace

asio::awaitable<std::error_code> read_exact(tcp::socket& s, Deadline& d,
                                            asio::mutable_buffer buffer, Millis timeout) {
  d.expires_after(timeout);
  auto [ec, n] = co_await asio::async_read(s, buffer, until_expired(d, buffer.size()), nothrow);
  co_return finish(d, ec, n, buffer.size());
}

bool low_water_works() {
  static const bool works = [] {
    utsname u{};
    if (::uname(&u) != 0) return false;
    unsigned major = 0, minor = 0;
    if (std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 12);
  }();
  return works;
}

namespace {
bool set_low_water(tcp::socket& s, LowWater& mark, std::size_t bytes) {
  if (mark.bytes == bytes) return true;
  std::error_code ec;
  s.set_option(asio::socket_base::receive_low_watermark(
                   static_cast<int>(std::min<std::size_t>(bytes, 1u << 30))),
               ec);
  mark.bytes = ec ? 0 : bytes;  // unknown after a failure: set again next time
  return !ec;
}
}  // namespace

asio::awaitable<std::error_code> read_exact_woken_once(tcp::socket& s, Deadline& d,
                                                       asio::mutable_buffer buffer, Millis timeout,
                                                       LowWater& mark) {
  if (!low_water_works()) co_return co_await read_exact(s, d, buffer, timeout);
  d.expires_after(timeout);
  while (buffer.size() > 0) {
    if (d.expired()) co_return asio::error::timed_out;  // see until_expired
    // Each read first takes what is queued already (asio tries before it waits); only a wait
    // needs the mark, and it is then the bytes still missing, so it can always be reached. If the
    // kernel refuses a mark the read wakes more often, no later.
    set_low_water(s, mark, buffer.size());
    auto [ec, n] = co_await s.async_read_some(buffer, nothrow);
    if (ec) co_return finish(d, ec);
    buffer += n;
  }
  co_return std::error_code{};
}

bool reset_low_water(tcp::socket& s, LowWater& mark) {
  return set_low_water(s, mark, 1);
}

asio::awaitable<std::pair<std::error_code, std::size_t>> read_at_least(tcp::socket& s, Deadline& d,
                                                                       asio::mutable_buffer buffer,
                                                                       std::size_t at_least,
                                                                       Millis timeout) {
  d.expires_after(timeout);
  auto [ec, n] = co_await asio::async_read(s, buffer, until_expired(d, at_least), nothrow);
  co_return std::pair{n >= at_least ? std::error_code{} : finish(d, ec, n, at_least), n};
}

asio::awaitable<std::error_code> write_all(tcp::socket& s, Deadline& d, asio::const_buffer buffer,
                                           Millis timeout) {
  d.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(s, buffer, until_expired(d, buffer.size()), nothrow);
  co_return finish(d, ec, n, buffer.size());
}

asio::awaitable<std::error_code> write_all(tcp::socket& s, Deadline& d,
                                           const std::vector<asio::const_buffer>& buffers,
                                           Millis timeout) {
  d.expires_after(timeout);
  const std::size_t total = asio::buffer_size(buffers);
  auto [ec, n] = co_await asio::async_write(s, buffers, until_expired(d, total), nothrow);
  co_return finish(d, ec, n, total);
}

asio::awaitable<std::error_code> write_last(tcp::socket& s, Deadline& d, asio::const_buffer buffer,
                                            Millis timeout) {
  d.expires_after(timeout);
  while (buffer.size() > 0) {
    if (d.expired()) co_return asio::error::timed_out;  // see until_expired
    auto [ec, n] = co_await s.async_send(buffer, MSG_MORE, nothrow);
    if (ec) co_return finish(d, ec);
    buffer += n;
  }
  co_return finish(d, {});
}

asio::awaitable<std::error_code> connect(tcp::socket& s, Deadline& d, const tcp::endpoint& to,
                                         Millis timeout) {
  d.expires_after(timeout);
  auto [ec] = co_await s.async_connect(to, nothrow);
  co_return finish(d, ec);
}

asio::awaitable<void> graceful_close(tcp::socket& s, Deadline& d, Millis timeout,
                                     std::size_t max_drain) {
  std::error_code ec;
  // Fast path: nothing unread means close() sends a plain FIN, never a reset, so there is nothing
  // to drain. (A well-behaved client has sent exactly its request.)
  if (s.available(ec) == 0 && !ec) {
    s.close(ec);
    co_return;
  }
  s.shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    d.expires_after(timeout);
    std::array<char, 4096> sink;
    std::size_t drained = 0;
    while (drained < max_drain && !d.expired()) {
      auto [rec, n] = co_await s.async_read_some(asio::buffer(sink), nothrow);
      if (rec) break;
      drained += n;
    }
  }
  s.close(ec);
}

void run_threads(asio::io_context& io, std::size_t threads) {
  std::vector<std::thread> extra;
  extra.reserve(threads);
  // As ThreadPool does: if the system will not give a thread, join the ones started, then say why.
  auto join_started = [&] {
    io.stop();
    for (auto& t : extra) t.join();
  };
  try {
    for (std::size_t i = 1; i < threads; ++i) extra.emplace_back([&io] { io.run(); });
  } catch (const std::system_error& e) {
    join_started();
    throw std::runtime_error("cannot start " + std::to_string(threads) +
                             " network threads: " + e.code().message());
  } catch (...) {
    join_started();
    throw;
  }
  io.run();
  for (auto& t : extra) t.join();
}

asio::awaitable<std::chrono::steady_clock::duration> pace(TokenBucket* bucket,
                                                          std::uint64_t bytes) {
  if (bucket == nullptr || bucket->unlimited()) co_return std::chrono::steady_clock::duration{};
  const auto wait = bucket->take(bytes, TokenBucket::Clock::now());
  if (wait <= TokenBucket::Clock::duration::zero()) co_return std::chrono::steady_clock::duration{};
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  co_await timer.async_wait(nothrow);
  co_return wait;
}

}  // namespace cascade::net
