// Downloader: once its file is complete and verified, the manager and the tracker sessions sleep
// until there is something to do, so a peer sharing thousands of complete files stays quiet; a
// stop still ends every wait at once.
#include "peer/downloader.hpp"

#include <gtest/gtest.h>

#include <future>
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

// A file whose blocks are all present, as the start-up scan leaves one (the whole-file check is
// still to come), shared with one tracker that refuses connections.
struct Sharing {
  Sharing() {
    dir.write("data", std::string(40000, 'x'));
    file = std::make_shared<SharedFile>(dir.file("data.cascade"), dir.file("data"),
                                        make_cascade(dir.file("data"), 16384, pool), Hash256{});
    file->storage = std::make_unique<Storage>(file->data_path, file->meta);
    for (std::uint64_t b = 0; b < file->meta.block_count(); ++b) file->blocks.set_verified(b);
    Downloader::Options o;
    o.trackers = {{"127.0.0.1", std::to_string(refusing_port())}};
    o.self = Endpoint{0x7f000001, 1};
    down = std::make_unique<Downloader>(
        io, pool, file, o, [](const Fatal&) {}, [this] { completed = true; });
  }
  // Stops the downloader; true when every wait ended and the io_context ran out of work.
  bool stops_at_once() {
    down->stop();
    io.restart();
    io.run_for(1s);  // the session's next retry is seconds away: only a wake ends it sooner
    return io.stopped();
  }
  test::TempDir dir;
  asio::io_context io;  // outlives the pool, whose jobs may hold the last references to its objects
  ThreadPool pool{1};
  std::shared_ptr<SharedFile> file;
  std::unique_ptr<Downloader> down;
  bool completed = false;
};
}  // namespace

TEST(Downloader, ACompleteFileWakesOnlyWhenItsTrackerIsDue) {
  Sharing s;
  s.down->start();
  // The whole-file check, then the session: it announces at once, is refused, and retries after
  // 1 s and then 2 s more. Two attempts in 1.5 s, a handful of handlers each; polling every
  // 100 ms, the manager or the session alone would run 15 handlers besides.
  const std::size_t ran = s.io.run_for(1500ms);
  EXPECT_TRUE(s.completed);
  EXPECT_TRUE(s.file->complete);
  EXPECT_GT(ran, 0u);
  EXPECT_LT(ran, 20u);
  EXPECT_TRUE(s.stops_at_once()) << "something still waits after stop()";
}

TEST(Downloader, AStopDuringTheWholeFileCheckIsNotLost) {
  Sharing s;
  // The pool's one thread is busy until released: the whole-file check waits behind it.
  std::promise<void> release;
  s.pool.post([gate = release.get_future()]() mutable { gate.wait(); });
  s.down->start();
  s.io.run_for(200ms);  // the manager is now waiting for the check
  EXPECT_FALSE(s.file->complete);
  s.down->stop();  // its wake-up finds no wait to cancel
  s.io.run_for(100ms);
  release.set_value();
  s.pool.post([] {});  // (the check runs, completes the file, and resumes the manager)
  EXPECT_TRUE(s.stops_at_once()) << "the manager slept through the stop";
}
