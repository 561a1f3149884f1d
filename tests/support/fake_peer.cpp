// A misbehaving (or slow) peer for tests: serves one file with a chosen fault.
//
//   fake_peer --cascade F --data D --tracker HOST:PORT --port-file P --mode MODE [--delay-ms N]
//
// Modes: honest (correct blocks, after --delay-ms each), liar (wrong bytes of the right length
// for every block), stall (reads requests, never answers), close-mid (sends the header and half
// a block, then closes), wrong-length (status 0 with one byte more than the block), drip (a
// correct answer at one byte every 1.5 s), slow (a correct answer at 4 KiB every 20 ms; it says on
// stderr whether each block went out whole or the client cut it off). It SUBSCRIBEs 127.0.0.1:its
// port to the tracker every second.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <iterator>

#include "common/net.hpp"
#include "common/sha256.hpp"
#include "proto/wire.hpp"

using namespace cascade;
using net::tcp;

namespace {
struct Setup {
  CascadeFile meta;
  Hash256 cascade_hash;
  Bytes data;
  std::string mode;
  int delay_ms = 0;
};

Bytes slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

asio::awaitable<void> serve(tcp::socket s, const Setup* st) {
  net::Deadline d(s);
  std::array<std::uint8_t, peer_request_size> req{};
  for (;;) {
    if (co_await net::read_exact(s, d, asio::buffer(req), net::Millis(60000))) break;
    if (st->mode == "stall") continue;
    auto r = decode_peer_request(req);
    if (!r.ok() || r.value->block >= st->meta.block_count()) break;
    if (st->delay_ms > 0) {
      asio::steady_timer t(s.get_executor(), std::chrono::milliseconds(st->delay_ms));
      co_await t.async_wait(net::nothrow);
    }
    const std::uint64_t b = r.value->block, len = st->meta.block_length(b);
    Bytes block(st->data.begin() + static_cast<std::ptrdiff_t>(st->meta.block_offset(b)),
                st->data.begin() + static_cast<std::ptrdiff_t>(st->meta.block_offset(b) + len));
    if (st->mode == "liar")
      for (auto& byte : block) byte ^= 0x5a;
    std::array<std::uint8_t, peer_response_header_size> head{};
    encode_peer_response_header(PeerStatus::ok, st->mode == "wrong-length" ? len + 1 : len, head);
    if (st->mode == "drip") {
      Bytes all(head.begin(), head.end());
      all.insert(all.end(), block.begin(), block.end());
      for (std::uint8_t byte : all) {
        if (co_await net::write_all(s, d, asio::buffer(&byte, 1), net::Millis(10000))) break;
        asio::steady_timer t(s.get_executor(), std::chrono::milliseconds(1500));
        co_await t.async_wait(net::nothrow);
      }
      break;
    }
    if (st->mode == "slow") {
      if (co_await net::write_all(s, d, asio::buffer(head), net::Millis(10000))) break;
      std::uint64_t sent = 0;
      while (sent < len) {
        const std::uint64_t n = std::min<std::uint64_t>(4096, len - sent);
        if (co_await net::write_all(s, d, asio::buffer(block.data() + sent, n), net::Millis(10000)))
          break;
        sent += n;
        asio::steady_timer t(s.get_executor(), std::chrono::milliseconds(20));
        co_await t.async_wait(net::nothrow);
      }
      if (sent < len) {
        std::cerr << "slow: block " << b << " cut off after " << sent << " of " << len << " bytes"
                  << std::endl;
        break;
      }
      std::cerr << "slow: block " << b << " sent whole" << std::endl;
      continue;
    }
    const std::size_t send = st->mode == "close-mid" ? len / 2 : len;
    std::vector<asio::const_buffer> out{asio::buffer(head), asio::buffer(block.data(), send)};
    if (co_await net::write_all(s, d, out, net::Millis(10000))) break;
    if (st->mode == "close-mid") break;
  }
  std::error_code ignored;
  s.close(ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acc, const Setup* st) {
  for (;;) {
    auto [ec, s] = co_await acc.async_accept(net::nothrow);
    if (ec) co_return;
    // As a real peer does: each reply leaves at once, not held back by Nagle's algorithm until
    // the previous one is acknowledged (which made every small block cost a delayed ACK).
    std::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(acc.get_executor(), serve(std::move(s), st), asio::detached);
  }
}

asio::awaitable<void> announce(std::uint16_t tracker_port, std::uint16_t my_port, Hash256 hash) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    tcp::socket s(ex);
    net::Deadline d(s);
    const Bytes req = encode_tracker_request(
        TrackerRequest{TrackerCommand::subscribe, hash, 0x7f000001, my_port});
    if (!co_await net::connect(s, d, tcp::endpoint(asio::ip::address_v4::loopback(), tracker_port),
                               net::Millis(1000))) {
      co_await net::write_all(s, d, asio::buffer(req), net::Millis(1000));
      std::array<std::uint8_t, 512> sink;
      co_await s.async_read_some(asio::buffer(sink), net::nothrow);
    }
    std::error_code ignored;
    s.close(ignored);
    asio::steady_timer t(ex, std::chrono::seconds(1));
    co_await t.async_wait(net::nothrow);
  }
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fake peer for tests"};
  std::string cascade_path, data_path, port_file;
  std::uint16_t tracker_port = 0;
  Setup st;
  st.mode = "honest";
  app.add_option("--cascade", cascade_path)->required();
  app.add_option("--data", data_path)->required();
  app.add_option("--tracker-port", tracker_port)->required();
  app.add_option("--port-file", port_file)->required();
  app.add_option("--mode", st.mode)
      ->check(
          CLI::IsMember({"honest", "liar", "stall", "close-mid", "wrong-length", "drip", "slow"}));
  app.add_option("--delay-ms", st.delay_ms);
  CLI11_PARSE(app, argc, argv);
  const Bytes cascade = slurp(cascade_path);
  auto decoded = decode_cascade_file(cascade);
  if (!decoded.ok()) return 2;
  st.meta = *decoded.value;
  st.cascade_hash = sha256(cascade);
  st.data = slurp(data_path);
  asio::io_context io;
  tcp::acceptor acc = net::listen(io.get_executor(), "127.0.0.1", 0);
  const std::uint16_t port = acc.local_endpoint().port();
  std::ofstream(port_file) << port << "\n";
  asio::co_spawn(io, accept_loop(acc, &st), asio::detached);
  asio::co_spawn(io, announce(tracker_port, port, st.cascade_hash), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](std::error_code, int) { io.stop(); });
  io.run();
  return 0;
}
