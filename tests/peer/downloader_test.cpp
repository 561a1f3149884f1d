// Downloader: once its file is complete and verified, the manager and the tracker sessions sleep
// until there is something to do, so a peer sharing thousands of complete files stays quiet.
#include "peer/downloader.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/thread_pool.hpp"
#include "peer/create.hpp"
#include "tests/support/process.hpp"

using namespace cascade;
using namespace std::chrono_literals;

namespace {
// A port on 127.0.0.1 where nothing listens (bound, then closed): connecting is refused at once.
std::uint16_t refusing_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address_v4("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// Handlers the io_context runs in `d` for a complete file whose one tracker refuses connections.
std::size_t handlers_while_sharing(std::chrono::milliseconds d) {
  test::TempDir dir;
  dir.write("data", std::string(40000, 'x'));
  ThreadPool pool(1);
  auto f = std::make_shared<SharedFile>(dir.file("data.cascade"), dir.file("data"),
                                        make_cascade(dir.file("data"), 16384, pool), Hash256{});
  f->storage = std::make_unique<Storage>(f->data_path, f->meta);
  for (std::uint64_t b = 0; b < f->meta.block_count(); ++b) f->blocks.set_verified(b);
  f->complete = true;
  asio::io_context io;
  Downloader::Options o;
  o.trackers = {{"127.0.0.1", std::to_string(refusing_port())}};
  o.self = Endpoint{0x7f000001, 1};
  Downloader down(io, pool, f, o, [](const Fatal&) {}, [] {});
  down.start();
  const std::size_t ran = io.run_for(d);
  // A stop wakes every sleeper at once (the session's next retry is seconds away): the
  // io_context then runs out of work.
  down.stop();
  io.restart();
  io.run_for(1s);
  EXPECT_TRUE(io.stopped()) << "something still waits after stop()";
  return ran;
}
}  // namespace

TEST(Downloader, ACompleteFileWakesOnlyWhenItsTrackerIsDue) {
  // The session announces at once, is refused, and retries after 1 s and then 2 s more: two
  // attempts in 1.5 s, a handful of handlers each. Polling every 100 ms (the manager and the
  // session, as while downloading) would run 30 handlers besides.
  const std::size_t ran = handlers_while_sharing(1500ms);
  EXPECT_GT(ran, 0u) << "the announce must be tried";
  EXPECT_LT(ran, 25u);
}
