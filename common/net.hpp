// Asio helpers shared by the tracker and the peer: listening, deadlines, exact reads and writes
// with timeouts, graceful close, and handing blocking work to the worker pool.
//
// Threading: a connection's socket, its Deadline and its coroutine all live on one strand;
// nothing here is safe to use from another strand at the same time.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common/endpoint.hpp"
#include "common/thread_pool.hpp"
#include "common/token_bucket.hpp"

namespace cascade::net {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
// Completion token adapter: the handler is a continuation of the coroutine that started the
// operation (Asio's asio_handler_is_continuation hook). An operation that completes at once
// (a speculative read or write, an accept with a connection waiting) then resumes the coroutine
// on the same thread, instead of queueing it for and waking another thread of the pool.
template <typename Token>
struct as_continuation_t {
  Token token;
};
template <typename Handler>
struct continuation_handler {
  Handler handler;
  template <typename... Args>
  void operator()(Args&&... args) {
    std::move(handler)(std::forward<Args>(args)...);
  }
};
template <typename Handler>
inline bool asio_handler_is_continuation(continuation_handler<Handler>*) {
  return true;
}
}  // namespace cascade::net

namespace asio {
// The wrapped handler keeps the wrapped one's executor, allocator and cancellation slot.
template <template <typename, typename> class Associator, typename Handler, typename Default>
struct associator<Associator, cascade::net::continuation_handler<Handler>, Default> {
  using type = typename Associator<Handler, Default>::type;
  static type get(const cascade::net::continuation_handler<Handler>& h,
                  const Default& d = Default()) noexcept {
    return Associator<Handler, Default>::get(h.handler, d);
  }
};
template <typename Token, typename... Signatures>
struct async_result<cascade::net::as_continuation_t<Token>, Signatures...> {
  template <typename Initiation, typename RawToken, typename... Args>
  static auto initiate(Initiation&& initiation, RawToken&& token, Args&&... args) {
    Token inner = token.token;
    return async_initiate<Token, Signatures...>(
        [init = std::forward<Initiation>(initiation)](auto&& handler, auto&&... a) mutable {
          using H = std::decay_t<decltype(handler)>;
          std::move(init)(
              cascade::net::continuation_handler<H>{std::forward<decltype(handler)>(handler)},
              std::forward<decltype(a)>(a)...);
        },
        inner, std::forward<Args>(args)...);
  }
};
}  // namespace asio

namespace cascade::net {
// Completion token that reports errors as values instead of throwing, and resumes the coroutine
// as a continuation (above).
inline constexpr auto nothrow =
    as_continuation_t<decltype(asio::experimental::as_tuple(asio::use_awaitable))>{
        asio::experimental::as_tuple(asio::use_awaitable)};

tcp::endpoint to_asio(const Endpoint& e);
Endpoint from_asio(const tcp::endpoint& e);  // IPv4 only; a v6 endpoint maps to ip 0

// Opens a listening socket: SO_REUSEADDR (never SO_REUSEPORT), a large backlog.
// Throws std::system_error whose what() names the address.
tcp::acceptor listen(const asio::any_io_executor& ex, const std::string& address,
                     std::uint16_t port, int backlog = 4096);

// Accepts the next connection into `socket` (whose executor is the strand it will live on), with
// the client's address from accept() itself: no getpeername(). Running out of descriptors or
// buffers is logged once per episode (`short_of_descriptors` remembers it) and waited out 20 ms
// at a time instead of spinning; that error is then returned and the caller accepts again.
asio::awaitable<std::error_code> accept_next(tcp::acceptor& acceptor, tcp::socket& socket,
                                             tcp::endpoint& peer, bool& short_of_descriptors);

// SIGINT/SIGTERM handling shared by both programs: the first signal calls `on_first(signal)`
// (which should begin an orderly stop); a second one exits the process at once with status 1.
// Cancelling the set disarms the second.
void on_stop_signals(asio::signal_set& signals, std::function<void(int)> on_first);

// A per-connection deadline: once it passes, the socket is closed (or, with OnExpiry::cancel, its
// pending operations cancelled), which aborts whatever read or write is pending on it. Moving
// the deadline costs no system call (the watcher re-arms lazily), so it can be set before every
// read and write. The watcher lives as long as the Deadline, so a socket may be closed and reused
// for one connection after another. Construct it after the socket and destroy it before (declare
// it after the socket); the watcher coroutine keeps its own state alive and stops when the
// Deadline goes away. Must be used from the socket's strand.
class Deadline {
 public:
  // On expiry, `close` the socket (the default), or only `cancel` its pending operations, so
  // that the caller may still write a last word (an error reply) under a new deadline after
  // reset(). Until then every read and write here ends at once with timed_out: a composed one
  // between two of its steps had nothing pending to cancel, and checks before each step.
  enum class OnExpiry { close, cancel };
  explicit Deadline(tcp::socket& socket, OnExpiry on_expiry = OnExpiry::close);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void expires_after(Millis d);
  void clear();
  // For a socket that is reused for another connection: no deadline, not expired.
  void reset();
  bool expired() const { return state_->expired; }

 private:
  struct State {
    State(tcp::socket& s, OnExpiry how) : timer(s.get_executor()), socket(&s), on_expiry(how) {}
    asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    tcp::socket* socket;  // null once the Deadline is gone
    const OnExpiry on_expiry;
    bool expired = false;
  };
  static asio::awaitable<void> watch(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// Waits as long as `bucket` says before `bytes` may be sent or read (a rate limit); returns at
// once when there is no bucket or it is unlimited. Returns the time it waited.
asio::awaitable<std::chrono::steady_clock::duration> pace(TokenBucket* bucket, std::uint64_t bytes);

// Reads exactly buffer.size() bytes before the timeout. Returns asio::error::timed_out on expiry.
asio::awaitable<std::error_code> read_exact(tcp::socket& s, Deadline& d,
                                            asio::mutable_buffer buffer, Millis timeout);
// A socket's receive low-water mark (SO_RCVLOWAT) as this program last set it (0: unknown, a
// setting failed). The kernel reports the socket readable once that many bytes are queued, or the
// stream ended or failed, or it cannot take more without the reader (memory pressure; a receive
// window down to one segment); it caps the mark at half the largest receive buffer (tcp_rmem).
struct LowWater {
  std::size_t bytes = 1;  // the kernel's default
};
// read_exact for bulk data: the reading thread is woken about once, when every byte has arrived,
// rather than once per arriving segment (W1 on loopback: the downloader's context switches about
// halved, its CPU 2.34 s against 2.82 s). Before each wait it sets the low-water mark to the bytes
// still missing, and it leaves the mark there: reset_low_water() before a read that may be
// answered with fewer bytes (a header; a short refusal), or that read's wait would not end before
// its timeout. Only on Linux 5.12 or later (low_water_works()): earlier kernels could leave a
// reader with a raised mark unwoken; there it reads as read_exact does.
asio::awaitable<std::error_code> read_exact_woken_once(tcp::socket& s, Deadline& d,
                                                       asio::mutable_buffer buffer, Millis timeout,
                                                       LowWater& mark);
// Sets the mark back to 1 byte; false if the kernel refused (the connection should end: a wait
// could outlast its data).
bool reset_low_water(tcp::socket& s, LowWater& mark);
// Whether this kernel wakes readers with a raised mark reliably (Linux 5.12 or later).
bool low_water_works();
// Reads at least `at_least` bytes and at most buffer.size() before the timeout (whatever has
// arrived by then, in as few system calls as the data allows). Returns the error and the count.
asio::awaitable<std::pair<std::error_code, std::size_t>> read_at_least(tcp::socket& s, Deadline& d,
                                                                       asio::mutable_buffer buffer,
                                                                       std::size_t at_least,
                                                                       Millis timeout);
// Writes every byte before the timeout.
asio::awaitable<std::error_code> write_all(tcp::socket& s, Deadline& d, asio::const_buffer buffer,
                                           Millis timeout);
asio::awaitable<std::error_code> write_all(tcp::socket& s, Deadline& d,
                                           const std::vector<asio::const_buffer>& buffers,
                                           Millis timeout);
// Writes a connection's last bytes, held back (MSG_MORE) so that the FIN of the close or
// shutdown that must follow at once leaves in the same TCP segment: one packet fewer, and the
// peer sees the reply and the end of the stream together. Nothing is sent until that close.
asio::awaitable<std::error_code> write_last(tcp::socket& s, Deadline& d, asio::const_buffer buffer,
                                            Millis timeout);
asio::awaitable<std::error_code> connect(tcp::socket& s, Deadline& d, const tcp::endpoint& to,
                                         Millis timeout);

// Closes so that a reply already written is not lost to a TCP reset. With unread input pending,
// shut down the send side, read and discard input until the peer closes, `max_drain` bytes, or
// `timeout`; then close. With none pending, close at once (a plain FIN).
asio::awaitable<void> graceful_close(tcp::socket& s, Deadline& d, Millis timeout,
                                     std::size_t max_drain = 64 * 1024);

// Runs f() on the worker pool and resumes the coroutine on its own executor with the result.
// f must not own anything (capture references or plain pointers; the caller keeps the objects
// alive across the co_await): g++ 12 can destroy a coroutine's by-value parameter twice, and a
// captured shared_ptr then loses a reference (seen as a use-after-free of the Verifier at exit).
// Exceptions thrown by f are rethrown in the coroutine. R must be default-constructible.
template <class F>
auto on_pool(ThreadPool& pool, F f) -> asio::awaitable<std::invoke_result_t<F>> {
  using R = std::invoke_result_t<F>;
  auto initiate = [&pool](auto handler, F fn) {
    auto ex = asio::get_associated_executor(handler);
    pool.post([handler = std::move(handler), fn = std::move(fn), ex,
               work = asio::make_work_guard(ex)]() mutable {
      std::exception_ptr error;
      R result{};
      try {
        result = fn();
      } catch (...) {
        error = std::current_exception();
      }
      asio::post(ex, [handler = std::move(handler), error, result = std::move(result)]() mutable {
        std::move(handler)(error, std::move(result));
      });
    });
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                          void(std::exception_ptr, R)>(
      initiate, asio::use_awaitable, std::move(f));
}

// Runs io.run() on `threads` threads (the caller's included) until the context stops.
void run_threads(asio::io_context& io, std::size_t threads);

}  // namespace cascade::net
