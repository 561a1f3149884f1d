// This machine's ceilings for the swarm benchmark (a benchmark instrument, not a test):
//   ceilings sha --bytes N   single-core SHA-256 (OpenSSL EVP) over N bytes in memory
//   ceilings tcp --bytes N   a raw loopback TCP copy of N bytes (1 MiB writes, blocking sockets)
// Each prints one line "name=MB/s".
#include <CLI/CLI.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "common/net.hpp"
#include "common/sha256.hpp"

using namespace cascade;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"machine ceilings"};
  std::string what;
  std::uint64_t bytes = 1ull << 30;
  app.add_option("what", what)->required()->check(CLI::IsMember({"sha", "tcp"}));
  app.add_option("--bytes", bytes);
  CLI11_PARSE(app, argc, argv);
  std::vector<std::uint8_t> buf(64 << 20);
  std::mt19937_64 rng(1);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  double seconds = 0;
  if (what == "sha") {
    Sha256 h;
    const auto start = Clock::now();
    for (std::uint64_t done = 0; done < bytes;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bytes - done));
      h.update({buf.data(), n});
      done += n;
    }
    volatile auto digest = h.finish()[0];
    (void)digest;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  } else {
    asio::io_context io;
    auto acceptor = net::listen(io.get_executor(), "127.0.0.1", 0);
    const auto port = acceptor.local_endpoint().port();
    std::thread receiver([&] {
      asio::ip::tcp::socket s(io);
      acceptor.accept(s);
      std::vector<std::uint8_t> in(1 << 20);
      std::error_code ec;
      while (!ec) s.read_some(asio::buffer(in), ec);
    });
    asio::ip::tcp::socket out(io);
    out.connect({asio::ip::address_v4::loopback(), port});
    const auto start = Clock::now();
    for (std::uint64_t done = 0; done < bytes;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(1 << 20, bytes - done));
      asio::write(out, asio::buffer(buf.data() + done % (buf.size() - n + 1), n));
      done += n;
    }
    out.shutdown(asio::ip::tcp::socket::shutdown_send);
    receiver.join();
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::printf("%s_MBps=%.0f\n", what == "sha" ? "sha256_single_core" : "tcp_loopback", bytes / seconds / 1e6);
  return 0;
}
