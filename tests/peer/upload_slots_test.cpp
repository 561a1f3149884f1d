// UploadSlots: blocks take turns for a few slots, first come first served, with bounded waits.
#include "peer/upload_slots.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace cascade;
using namespace std::chrono_literals;

namespace {
// Runs `body` as a coroutine on a fresh io_context until everything spawned is done (bounded).
template <class F>
void run_coroutines(F body) {
  asio::io_context io;
  body(io);
  io.run_for(10s);
  ASSERT_TRUE(io.stopped()) << "something still waits after 10 s";
}

// Waits `d` on the coroutine's executor.
asio::awaitable<void> pause(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(net::nothrow);
}

// Takes a slot, notes whether it got one, holds it for `hold`.
asio::awaitable<void> hold_slot(UploadSlots& slots, std::vector<std::string>& order,
                                std::string name, net::Millis hold) {
  auto slot = co_await slots.acquire(net::Millis(5000));
  order.push_back(name + (slot.held() ? "+" : "-"));
  co_await pause(hold);
}
}  // namespace

TEST(UploadSlots, TheThirdOfTwoSlotsWaitsAndWaitersAreServedInOrder) {
  UploadSlots slots(2);
  std::vector<std::string> order;
  run_coroutines([&](asio::io_context& io) {
    for (const char* n : {"a", "b"})
      asio::co_spawn(io, hold_slot(slots, order, n, net::Millis(200)), asio::detached);
    for (const char* n : {"c", "d", "e"})
      asio::co_spawn(io, hold_slot(slots, order, n, net::Millis(10)), asio::detached);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"a+", "b+", "c+", "d+", "e+"}));
  EXPECT_EQ(slots.waiting(), 0u);
}

TEST(UploadSlots, AWaitThatRunsOutOfPatienceGoesOnWithoutASlot) {
  UploadSlots slots(1);
  std::vector<std::string> order;
  run_coroutines([&](asio::io_context& io) {
    asio::co_spawn(io, hold_slot(slots, order, "first", net::Millis(500)), asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto slot = co_await slots.acquire(net::Millis(50));
          order.push_back(slot.held() ? "impatient+" : "impatient-");
        },
        asio::detached);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"first+", "impatient-"}));
  EXPECT_EQ(slots.waiting(), 0u) << "the impatient waiter left the queue";
  // The slot came back: a new asker gets it at once.
  run_coroutines([&](asio::io_context& io) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto slot = co_await slots.acquire(net::Millis(1));
          order.push_back(slot.held() ? "later+" : "later-");
        },
        asio::detached);
  });
  EXPECT_EQ(order.back(), "later+");
}

TEST(UploadSlots, StopWakesTheWaitersAndLaterAsksDoNotWait) {
  UploadSlots slots(1);
  std::vector<std::string> order;
  run_coroutines([&](asio::io_context& io) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto slot = co_await slots.acquire(net::Millis(5000));
          co_await pause(100ms);
          slots.stop();
          co_await pause(100ms);
          order.push_back("holder done");
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const auto started = net::Clock::now();
          auto slot = co_await slots.acquire(net::Millis(60'000));
          order.push_back(std::string(slot.held() ? "waiter+" : "waiter-") +
                          (net::Clock::now() - started < 5s ? " soon" : " late"));
          auto after = co_await slots.acquire(net::Millis(60'000));
          order.push_back(after.held() ? "after+" : "after-");
        },
        asio::detached);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"waiter- soon", "after-", "holder done"}));
}

TEST(UploadSlots, AllTakenSaysWhenAnAnswerWouldWait) {
  UploadSlots slots(2);
  std::vector<bool> seen;
  run_coroutines([&](asio::io_context& io) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          seen.push_back(slots.all_taken());
          auto a = co_await slots.acquire(net::Millis(10));
          seen.push_back(slots.all_taken());
          auto b = co_await slots.acquire(net::Millis(10));
          seen.push_back(slots.all_taken());
          a.release();
          seen.push_back(slots.all_taken());
        },
        asio::detached);
  });
  EXPECT_EQ(seen, (std::vector<bool>{false, false, true, false}));
  EXPECT_FALSE(UploadSlots(0).all_taken()) << "no limit: never taken";
  UploadSlots stopped(1);
  stopped.stop();
  EXPECT_FALSE(stopped.all_taken()) << "stopped: nothing waits";
}

TEST(UploadSlots, ZeroMeansNoLimit) {
  UploadSlots slots(0);
  int without = 0;
  run_coroutines([&](asio::io_context& io) {
    for (int i = 0; i < 50; ++i)
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            auto slot = co_await slots.acquire(net::Millis(1));
            if (!slot.held()) ++without;
            co_await pause(50ms);
          },
          asio::detached);
  });
  EXPECT_EQ(without, 50);
  EXPECT_EQ(slots.waiting(), 0u);
}

TEST(UploadSlots, ASendThatStallsGivesItsSlotToTheNextInLine) {
  UploadSlots slots(1);
  std::vector<std::string> order;
  run_coroutines([&](asio::io_context& io) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto slot = co_await slots.acquire(net::Millis(5000));
          for (int i = 0; i < 3; ++i) {  // progress every 0.4 s: held throughout
            co_await pause(UploadSlots::stall * 2 / 5);
            slot.progress();
          }
          order.push_back(std::string("busy ") + (slot.held() ? "held" : "lost"));
          co_await pause(UploadSlots::stall * 3);  // no progress: a stall
          order.push_back(std::string("stalled ") + (slot.stalled() ? "yes" : "no") +
                          (slot.held() ? " held" : " lost"));
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const auto started = net::Clock::now();
          auto slot = co_await slots.acquire(net::Millis(10'000));
          const auto waited = net::Clock::now() - started;
          order.push_back(std::string("next ") + (slot.held() ? "held" : "none") +
                          (waited < UploadSlots::stall * 3 ? " soon" : " late"));
        },
        asio::detached);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"busy held", "next held soon", "stalled yes lost"}));
}
