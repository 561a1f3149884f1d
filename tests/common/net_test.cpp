// The Asio helpers against real sockets on 127.0.0.1.
#include "common/net.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

using namespace cascade;
using net::tcp;

namespace {
// A connected pair of sockets on loopback, both on `io`.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  tcp::acceptor acc = net::listen(io.get_executor(), "127.0.0.1", 0);
  tcp::socket client(io), server(io);
  client.connect(acc.local_endpoint());
  acc.accept(server);
  return {std::move(client), std::move(server)};
}
}  // namespace

TEST(Net, ReadExactTimesOutWhenThePeerSendsTooLittle) {
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  asio::write(client, asio::buffer("abc", 3));
  std::error_code result;
  auto start = net::Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::Deadline d(server);
        std::array<char, 10> buf;
        result = co_await net::read_exact(server, d, asio::buffer(buf), net::Millis(200));
      },
      asio::detached);
  io.run();
  const auto took = net::Clock::now() - start;
  EXPECT_EQ(result, asio::error::timed_out);
  EXPECT_GE(took, net::Millis(190));
  EXPECT_LT(took, net::Millis(3000));
}

TEST(Net, ADeadlineThatCancelsLeavesTheSocketOpenForALastWord) {
  for (const auto how : {net::Deadline::OnExpiry::cancel, net::Deadline::OnExpiry::close}) {
    asio::io_context io;
    auto [client, server] = socket_pair(io);
    std::error_code read_result, write_result;
    bool open_after = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          net::Deadline d(server, how);
          std::array<char, 10> buf;
          read_result = co_await net::read_exact(server, d, asio::buffer(buf), net::Millis(100));
          open_after = server.is_open();
          d.reset();
          write_result =
              co_await net::write_all(server, d, asio::buffer("late", 4), net::Millis(1000));
          std::error_code ignored;
          server.close(ignored);
        },
        asio::detached);
    io.run();
    EXPECT_EQ(read_result, asio::error::timed_out);
    std::array<char, 4> got{};
    std::error_code ec;
    const std::size_t n = asio::read(client, asio::buffer(got), ec);
    if (how == net::Deadline::OnExpiry::cancel) {
      EXPECT_TRUE(open_after);
      EXPECT_FALSE(write_result) << write_result.message();
      EXPECT_EQ(std::string(got.data(), n), "late");
    } else {
      EXPECT_FALSE(open_after);
      EXPECT_TRUE(write_result);
      EXPECT_EQ(n, 0u);
    }
  }
}

TEST(Net, OnceACancellingDeadlinePassedEveryReadAndWriteEndsAtOnceUntilReset) {
  // The deadline passes while nothing is pending on the socket, as when it falls between two
  // steps of a composed read (a tracker request dripped byte by byte, a multi-threaded server):
  // expiry cancels nothing then, and the next step must still not wait, neither for a client that
  // went quiet nor for a new timeout. Only reset() lets the last word out.
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  asio::write(client, asio::buffer("x", 1));  // one byte of the two a read below wants
  std::vector<std::error_code> results;
  std::vector<net::Clock::duration> took;
  std::error_code write_result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::Deadline d(server, net::Deadline::OnExpiry::cancel);
        d.expires_after(net::Millis(20));
        asio::steady_timer t(server.get_executor(), std::chrono::milliseconds(200));
        co_await t.async_wait(net::nothrow);  // the deadline passes here, nothing to cancel
        EXPECT_TRUE(d.expired());
        std::array<char, 2> two;
        for (int op = 0; op < 4; ++op) {
          const auto start = net::Clock::now();
          std::error_code ec;
          if (op == 0)
            ec = co_await net::read_exact(server, d, asio::buffer(two), net::Millis(2000));
          if (op == 1)
            ec = (co_await net::read_at_least(server, d, asio::buffer(two), 2, net::Millis(2000)))
                     .first;
          if (op == 2)
            ec = co_await net::write_all(server, d, asio::buffer("ab", 2), net::Millis(2000));
          if (op == 3)
            ec = co_await net::write_last(server, d, asio::buffer("ab", 2), net::Millis(2000));
          results.push_back(ec);
          took.push_back(net::Clock::now() - start);
        }
        d.reset();  // the last word still goes out
        write_result =
            co_await net::write_all(server, d, asio::buffer("late", 4), net::Millis(1000));
        std::error_code ignored;
        server.close(ignored);
      },
      asio::detached);
  io.run_for(std::chrono::seconds(20));
  ASSERT_EQ(results.size(), 4u);
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i], asio::error::timed_out) << "operation " << i;
    EXPECT_LT(took[i], net::Millis(1000)) << "operation " << i << " waited for a new timeout";
  }
  EXPECT_FALSE(write_result) << write_result.message();
  std::array<char, 4> got{};
  std::error_code ec;
  const std::size_t n = asio::read(client, asio::buffer(got), ec);
  EXPECT_EQ(std::string(got.data(), n), "late");
}

TEST(Net, ReadExactAssemblesOneByteWrites) {
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  std::string got;
  std::error_code result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::Deadline d(server);
        std::array<char, 5> buf;
        result = co_await net::read_exact(server, d, asio::buffer(buf), net::Millis(2000));
        got.assign(buf.data(), buf.size());
      },
      asio::detached);
  std::thread writer([&client] {
    for (char c : std::string("hello")) {
      asio::write(client, asio::buffer(&c, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  io.run();
  writer.join();
  EXPECT_FALSE(result) << result.message();
  EXPECT_EQ(got, "hello");
}

// The low-water mark is the kernel's: a bulk read is woken once, when all its bytes are there, and
// while the mark stays raised a read that waits for fewer bytes is not woken by them (it times
// out); after reset_low_water it is.
TEST(Net, ReadExactWokenOnceRaisesTheKernelsLowWaterMarkUntilItIsReset) {
  if (!net::low_water_works()) GTEST_SKIP() << "Linux before 5.12: the mark is not used";
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  constexpr std::size_t total = 200 * 1024;
  std::vector<std::uint8_t> sent(total);
  for (std::size_t i = 0; i < total; ++i) sent[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
  std::atomic<int> phase{0};  // the reader's step, for the writer to follow
  std::error_code bulk, after_reset;
  std::size_t queued = 0;
  bool readable_below_mark = true, readable_after_reset = false;
  std::size_t mark_after = 0;
  int kernel_mark = 0;
  std::string last_two;
  std::vector<std::uint8_t> got(total);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::Deadline d(server, net::Deadline::OnExpiry::cancel);
        net::LowWater mark;
        phase = 1;
        bulk = co_await net::read_exact_woken_once(server, d, asio::buffer(got), net::Millis(5000),
                                                   mark);
        mark_after = mark.bytes;
        asio::socket_base::receive_low_watermark option;
        server.get_option(option);
        kernel_mark = option.value();
        phase = 2;  // one byte comes in 100 ms: below the mark, the socket is not readable
        asio::steady_timer t(server.get_executor(), std::chrono::milliseconds(400));
        co_await t.async_wait(net::nothrow);
        queued = server.available();
        pollfd ready{server.native_handle(), POLLIN, 0};
        readable_below_mark = ::poll(&ready, 1, 0) == 1;
        net::reset_low_water(server, mark);
        readable_after_reset = ::poll(&ready, 1, 0) == 1;
        phase = 3;  // the next byte comes in 100 ms: now it wakes the read (of both)
        std::array<char, 2> two{};
        after_reset = co_await net::read_exact(server, d, asio::buffer(two), net::Millis(3000));
        last_two.assign(two.data(), two.size());
        phase = 4;
      },
      asio::detached);
  std::thread writer([&] {
    auto wait_for = [&](int p) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (phase.load() < p && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    };
    wait_for(1);  // in three pieces, 50 ms apart
    asio::write(client, asio::buffer(sent.data(), 100 * 1024));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    asio::write(client, asio::buffer(sent.data() + 100 * 1024, 60 * 1024));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    asio::write(client, asio::buffer(sent.data() + 160 * 1024, 40 * 1024));
    wait_for(2);
    asio::write(client, asio::buffer("a", 1));
    wait_for(3);
    asio::write(client, asio::buffer("b", 1));
  });
  const auto start = net::Clock::now();
  io.run();
  writer.join();
  EXPECT_FALSE(bulk) << bulk.message();
  EXPECT_EQ(got, sent);
  // The mark was raised, to what was still missing at the last wait (the kernel may wake a read
  // early while the receive window is small, so not necessarily all of it), and it is the
  // kernel's (capped at half its largest receive buffer).
  EXPECT_GT(mark_after, 1u);
  EXPECT_LE(mark_after, total);
  std::size_t rmem_min = 0, rmem_default = 0, rmem_max = 0;
  std::ifstream("/proc/sys/net/ipv4/tcp_rmem") >> rmem_min >> rmem_default >> rmem_max;
  EXPECT_EQ(static_cast<std::size_t>(kernel_mark),
            rmem_max ? std::min(mark_after, rmem_max / 2) : mark_after);
  EXPECT_EQ(queued, 1u);
  EXPECT_FALSE(readable_below_mark) << "one byte below the mark must wake no reader";
  EXPECT_TRUE(readable_after_reset);
  EXPECT_FALSE(after_reset) << after_reset.message();
  EXPECT_EQ(last_two, "ab");
  EXPECT_EQ(phase.load(), 4);
  EXPECT_LT(net::Clock::now() - start, std::chrono::seconds(5));
}

TEST(Net, ReadAtLeastWaitsForTheMinimumAndNeverReadsPastTheBuffer) {
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  std::string got;
  std::size_t n = 0;
  std::error_code result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::Deadline d(server);
        std::array<char, 8> buf{};
        std::tie(result, n) =
            co_await net::read_at_least(server, d, asio::buffer(buf), 4, net::Millis(2000));
        got.assign(buf.data(), n);
      },
      asio::detached);
  std::thread writer([&client] {
    asio::write(client, asio::buffer("ab", 2));  // not enough yet
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    asio::write(client, asio::buffer("cdefghijkl", 10));  // more than the buffer holds
  });
  io.run();
  writer.join();
  EXPECT_FALSE(result) << result.message();
  ASSERT_GE(n, 4u);
  ASSERT_LE(n, 8u);
  EXPECT_EQ(got, std::string("abcdefgh").substr(0, n));
}

// Sends 2 bytes (then ends the stream if `then_close`) and asks for at least 4 of them.
static std::error_code read_at_least_4_of_2(bool then_close, net::Millis timeout) {
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  asio::write(client, asio::buffer("ab", 2));
  if (then_close) client.shutdown(tcp::socket::shutdown_send);
  std::error_code result;
  asio::co_spawn(
      io,
      [&, &server = server]() -> asio::awaitable<void> {
        net::Deadline d(server);
        std::array<char, 8> buf{};
        result = (co_await net::read_at_least(server, d, asio::buffer(buf), 4, timeout)).first;
      },
      asio::detached);
  io.run();
  return result;
}

TEST(Net, ReadAtLeastTimesOutOrFailsBelowTheMinimum) {
  EXPECT_EQ(read_at_least_4_of_2(false, net::Millis(100)), asio::error::timed_out);
  // Two bytes and then the end of the stream: an error, not a short success.
  EXPECT_EQ(read_at_least_4_of_2(true, net::Millis(2000)), asio::error::eof);
}

TEST(Net, OnPoolRunsElsewhereAndResumesWithTheResult) {
  asio::io_context io;
  ThreadPool pool(1);
  std::thread::id io_thread = std::this_thread::get_id(), worker;
  int value = 0;
  bool caught = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        value = co_await net::on_pool(pool, [&] {
          worker = std::this_thread::get_id();
          return 41 + 1;
        });
        try {
          co_await net::on_pool(pool, []() -> int { throw std::runtime_error("x"); });
        } catch (const std::runtime_error&) {
          caught = true;
        }
      },
      asio::detached);
  io.run();  // must not return before the pool's result arrives
  EXPECT_EQ(value, 42);
  EXPECT_NE(worker, io_thread);
  EXPECT_TRUE(caught);
}

TEST(Net, GracefulCloseDeliversTheReplyBeforeClosing) {
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  asio::write(client, asio::buffer(std::string(10000, 'x')));  // unread input would cause a RST
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::Deadline d(server);
        co_await net::write_all(server, d, asio::buffer("reply", 5), net::Millis(1000));
        co_await net::graceful_close(server, d, net::Millis(500));
      },
      asio::detached);
  std::thread closer([&client] {
    std::array<char, 16> buf;
    std::error_code ec;
    std::size_t n = asio::read(client, asio::buffer(buf), asio::transfer_at_least(5), ec);
    EXPECT_EQ(std::string(buf.data(), n), "reply");
    client.shutdown(tcp::socket::shutdown_send, ec);
  });
  io.run();
  closer.join();
}

// net::nothrow hands operations a handler that Asio treats as a continuation (so an operation
// that completes at once resumes the coroutine on the same thread, waking no other), which still
// carries the coroutine's executor, and which completes the coroutine with (error, values...).
TEST(Net, NothrowHandlersAreContinuationsThatKeepTheCoroutinesExecutor) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  bool continuation = false, plain_continuation = true, same_executor = false,
       ran_in_strand = false;
  std::error_code got;
  std::size_t n = 0;
  asio::co_spawn(
      strand,
      [&]() -> asio::awaitable<void> {
        auto my_executor = co_await asio::this_coro::executor;
        std::tie(got, n) = co_await asio::async_initiate<decltype(net::nothrow),
                                                         void(std::error_code, std::size_t)>(
            [&](auto handler) {
              continuation = asio_handler_cont_helpers::is_continuation(handler);
              same_executor = asio::get_associated_executor(handler) == my_executor;
              std::move(handler)(asio::error::eof, std::size_t{7});
            },
            net::nothrow);
        ran_in_strand = my_executor.template target<decltype(strand)>()->running_in_this_thread();
        // The same operation with the plain token, to show the check above can tell them apart.
        auto plain = asio::experimental::as_tuple(asio::use_awaitable);
        co_await asio::async_initiate<decltype(plain), void(std::error_code)>(
            [&](auto handler) {
              plain_continuation = asio_handler_cont_helpers::is_continuation(handler);
              std::move(handler)(std::error_code{});
            },
            plain);
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(continuation);
  EXPECT_FALSE(plain_continuation);
  EXPECT_TRUE(same_executor);
  EXPECT_TRUE(ran_in_strand);
  EXPECT_EQ(got, asio::error::eof);
  EXPECT_EQ(n, 7u);
}

namespace cascade {
std::int64_t tcp_segments_out(int fd);  // tcp_segments.cpp; -1 if it cannot tell
}

namespace {
// Segments `server` sends from the reply to its FIN, and what the client read (until the end of
// the stream); with write_last, or with write_all for comparison.
std::pair<std::int64_t, std::string> segments_for_reply_and_fin(bool last) {
  asio::io_context io;
  auto [client, server] = socket_pair(io);
  auto segs_out = [&server] {
    const std::int64_t n = tcp_segments_out(server.native_handle());
    EXPECT_GE(n, 0);
    return n;
  };
  server.set_option(tcp::no_delay(true));
  std::int64_t sent = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::Deadline d(server);
        const std::int64_t before = segs_out();
        const std::string reply(300, 'r');
        const auto ec =
            last ? co_await net::write_last(server, d, asio::buffer(reply), net::Millis(1000))
                 : co_await net::write_all(server, d, asio::buffer(reply), net::Millis(1000));
        EXPECT_FALSE(ec) << ec.message();
        server.shutdown(tcp::socket::shutdown_send);
        sent = segs_out() - before;
      },
      asio::detached);
  io.run();
  std::string got;
  std::error_code ec;
  asio::read(client, asio::dynamic_buffer(got), ec);
  EXPECT_EQ(ec, asio::error::eof);
  return {sent, got};
}
}  // namespace

// write_last holds the reply back so that the FIN leaves with it: one segment, not two, and the
// client still gets every byte and then the end of the stream.
TEST(Net, WriteLastSendsTheReplyAndTheFinInOneSegment) {
  auto [last_segments, last_got] = segments_for_reply_and_fin(true);
  auto [all_segments, all_got] = segments_for_reply_and_fin(false);
  EXPECT_EQ(last_got, std::string(300, 'r'));
  EXPECT_EQ(all_got, last_got);
  EXPECT_EQ(last_segments, 1);
  EXPECT_EQ(all_segments, 2);  // the same exchange without it: the check can tell the difference
}
