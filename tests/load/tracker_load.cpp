// Tracker load generator (a benchmark instrument, not a test).
//
//   tracker_load load --port P --concurrency N --seconds S [--threads 2] [--peers 1000] [--hashes
//   8]
//                     [--strict]    also check that no answer lists the asker
//   tracker_load trivial-server --port-file F [--threads 2] [--peers 1000] [--hashes 8]
//
// Simulated peer i belongs to swarm i % hashes and is 10.(i>>16).(i>>8).(i&255):(10000 + i %
// 50000). `load` first SUBSCRIBEs every peer once, then for S seconds runs N connections in a loop
// of one request each (90% LIST, 10% SUBSCRIBE, random peers), validating every response: status 0,
// whole 12-byte entries, at most 20, and every listed peer a member of the asked swarm.
// `trivial-server` answers each request with a fixed valid list for its swarm and closes (the reply
// and the FIN in one segment, as the tracker sends them): the ceiling of this instrument on this
// machine, to compare the tracker against.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <iostream>
#include <numeric>
#include <random>

#include "common/endpoint.hpp"
#include "common/net.hpp"
#include "common/system.hpp"
#include "proto/wire.hpp"

using namespace cascade;
using net::tcp;

namespace {

struct Swarms {
  std::size_t peers = 1000, hashes = 8;
  Hash256 hash(std::size_t s) const {
    Hash256 h{};
    h.fill(static_cast<std::uint8_t>(0xa0 + s));
    h[0] = static_cast<std::uint8_t>(s);
    return h;
  }
  Endpoint peer(std::size_t i) const {
    return Endpoint{0x0a000000u | static_cast<std::uint32_t>(i),
                    static_cast<std::uint16_t>(10000 + i % 50000)};
  }
  // Which simulated peer this is, or -1.
  long index_of(const PeerEntry& e) const {
    const std::uint32_t i = e.ip & 0x00ffffff;
    if ((e.ip >> 24) != 10 || i >= peers || peer(i).port != e.port) return -1;
    return static_cast<long>(i);
  }
};

// Each answered request's latency, and the part of it spent in each phase: the connect, the
// write of the request, and the wait for the reply. Per client thread.
struct Latencies {
  std::vector<double> total, connect, write, reply;
};

struct Totals {
  std::atomic<std::uint64_t> ok{0}, errors{0}, timeouts{0}, invalid{0};
};

asio::awaitable<void> client(Swarms sw, tcp::endpoint target, net::Clock::time_point until,
                             bool strict, bool warmup, std::size_t first, std::size_t step,
                             Latencies* latencies, Totals* totals, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto ex = co_await asio::this_coro::executor;
  // One socket object and deadline per client, reused for every request (a new connection each).
  tcp::socket s(ex);
  net::Deadline d(s);
  std::size_t next_warm = first;
  for (;;) {
    std::size_t who;
    TrackerCommand cmd;
    if (warmup) {
      if (next_warm >= sw.peers) co_return;
      who = next_warm;
      next_warm += step;
      cmd = TrackerCommand::subscribe;
    } else {
      if (net::Clock::now() >= until) co_return;
      who = rng() % sw.peers;
      cmd = rng() % 10 == 0 ? TrackerCommand::subscribe : TrackerCommand::list;
    }
    const std::size_t swarm = who % sw.hashes;
    const Endpoint me = sw.peer(who);
    const Bytes req = encode_tracker_request(TrackerRequest{cmd, sw.hash(swarm), me.ip, me.port});
    d.reset();
    const auto start = net::Clock::now();
    const net::Millis timeout(2000);
    std::error_code ec = co_await net::connect(s, d, target, timeout);
    const auto connected = net::Clock::now();
    if (!ec) ec = co_await net::write_all(s, d, asio::buffer(req), timeout);
    const auto written = net::Clock::now();
    // The whole reply fits in `reply`: the header and at most 20 entries. Read the header and
    // whatever came with it at once, then the rest of the list if it came later.
    std::array<std::uint8_t, tracker_response_header_size + 20 * peer_entry_size> reply{};
    std::size_t got = 0;
    if (!ec)
      std::tie(ec, got) = co_await net::read_at_least(s, d, asio::buffer(reply),
                                                      tracker_response_header_size, timeout);
    bool valid = false;
    ByteSpan payload;
    if (!ec) {
      auto h =
          decode_tracker_response_header(ByteSpan(reply.data(), tracker_response_header_size), 20);
      if (h.ok() && h.value->status == 0) {
        const std::size_t total =
            tracker_response_header_size + h.value->length;  // checked against 20 entries
        if (got < total)
          ec = co_await net::read_exact(s, d, asio::buffer(reply.data() + got, total - got),
                                        timeout);
        payload = ByteSpan(reply.data() + tracker_response_header_size, h.value->length);
        if (!ec) {
          auto peers = decode_peer_entries(payload);
          valid = peers.ok();
          for (const auto& p : peers.ok() ? *peers.value : std::vector<PeerEntry>{}) {
            const long i = sw.index_of(p);
            if (i < 0 || static_cast<std::size_t>(i) % sw.hashes != swarm) valid = false;
            if (strict && static_cast<std::size_t>(i) == who) valid = false;
          }
        }
      }
    }
    std::error_code ignored;
    s.close(ignored);
    if (ec == asio::error::timed_out)
      ++totals->timeouts;
    else if (ec)
      ++totals->errors;
    else if (!valid)
      ++totals->invalid;
    else {
      ++totals->ok;
      if (!warmup) {
        const auto end = net::Clock::now();
        auto ms = [](net::Clock::duration d) {
          return std::chrono::duration<double, std::milli>(d).count();
        };
        latencies->total.push_back(ms(end - start));
        latencies->connect.push_back(ms(connected - start));
        latencies->write.push_back(ms(written - connected));
        latencies->reply.push_back(ms(end - written));
      }
    }
  }
}

int run_load(Swarms sw, std::uint16_t port, std::size_t concurrency, double seconds,
             std::size_t threads, bool strict) {
  const tcp::endpoint target(asio::ip::address_v4::loopback(), port);
  // Warm-up: every simulated peer subscribes once.
  {
    asio::io_context io;
    Totals warm;
    Latencies none;
    for (std::size_t c = 0; c < 16; ++c)
      asio::co_spawn(io, client(sw, target, {}, false, true, c, 16, &none, &warm, c),
                     asio::detached);
    io.run();
    if (warm.ok != sw.peers) {
      std::cerr << "warm-up failed: " << warm.ok << " of " << sw.peers << " subscribed\n";
      return 1;
    }
  }
  Totals totals;
  std::vector<Latencies> latencies(threads);
  const double cpu_before = cpu_seconds();  // to report what the instrument itself costs
  std::vector<std::thread> workers;
  const auto start = net::Clock::now();
  const auto until = start + std::chrono::duration_cast<net::Clock::duration>(
                                 std::chrono::duration<double>(seconds));
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      asio::io_context io;
      for (std::size_t c = t; c < concurrency; c += threads)
        asio::co_spawn(
            io, client(sw, target, until, strict, false, 0, 1, &latencies[t], &totals, 1000 + c),
            asio::detached);
      io.run();
    });
  }
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(net::Clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_before;
  auto merged = [&](std::vector<double> Latencies::*which) {
    std::vector<double> v;
    for (auto& l : latencies) v.insert(v.end(), (l.*which).begin(), (l.*which).end());
    std::sort(v.begin(), v.end());
    return v;
  };
  const std::vector<double> all = merged(&Latencies::total);
  auto pct_of = [](const std::vector<double>& v, double p) {
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
  };
  auto pct = [&](double p) { return pct_of(all, p); };
  std::printf(
      "concurrency=%zu requests=%llu requests/s=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
      "p999_ms=%.3f max_ms=%.3f errors=%llu timeouts=%llu invalid=%llu load_cpu_s=%.2f",
      concurrency, static_cast<unsigned long long>(totals.ok.load()), totals.ok.load() / elapsed,
      pct(0.50), pct(0.90), pct(0.99), pct(0.999), all.empty() ? 0.0 : all.back(),
      static_cast<unsigned long long>(totals.errors.load()),
      static_cast<unsigned long long>(totals.timeouts.load()),
      static_cast<unsigned long long>(totals.invalid.load()), cpu);
  // Where the time went: a closed loop's mean latency is fixed by its throughput (Little's law);
  // these show whose queues hold the requests. On loopback the connect and the write are done
  // in the kernel at once, so their time is this instrument's own queueing.
  for (auto [name, which] :
       {std::pair{"connect", &Latencies::connect}, std::pair{"write", &Latencies::write},
        std::pair{"reply", &Latencies::reply}}) {
    const auto v = merged(which);
    const double mean =
        v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    std::printf(" %s_mean_ms=%.3f %s_p99_ms=%.3f", name, mean, name, pct_of(v, 0.99));
  }
  std::printf("\n");
  return 0;
}

asio::awaitable<void> trivial_serve(tcp::socket s, const std::vector<Bytes>* answers,
                                    std::size_t hashes) {
  net::Deadline d(s);
  std::array<std::uint8_t, tracker_request_size> req{};
  if (!co_await net::read_exact(s, d, asio::buffer(req), net::Millis(5000))) {
    const std::size_t swarm = req[16] % hashes;
    co_await net::write_last(s, d, asio::buffer((*answers)[swarm]),
                             net::Millis(5000));  // as the tracker does
  }
  std::error_code ignored;
  s.close(ignored);
}

asio::awaitable<void> trivial_accept(tcp::acceptor& acc, const std::vector<Bytes>* answers,
                                     std::size_t hashes) {
  for (;;) {
    auto [ec, s] = co_await acc.async_accept(asio::make_strand(acc.get_executor()), net::nothrow);
    if (ec) continue;
    auto ex = s.get_executor();
    asio::co_spawn(ex, trivial_serve(std::move(s), answers, hashes), asio::detached);
  }
}

int run_trivial(Swarms sw, const std::string& port_file, std::size_t threads) {
  std::vector<Bytes> answers(sw.hashes);
  for (std::size_t h = 0; h < sw.hashes; ++h) {
    std::vector<PeerEntry> peers;
    for (std::size_t i = h; i < sw.peers && peers.size() < 20; i += sw.hashes)
      peers.push_back(PeerEntry{sw.peer(i).ip, sw.peer(i).port, 1700000000, false});
    encode_tracker_ok(peers, answers[h]);
  }
  asio::io_context io;
  tcp::acceptor acc = net::listen(io.get_executor(), "127.0.0.1", 0);
  {
    std::FILE* f = std::fopen(port_file.c_str(), "w");
    if (!f) return 1;
    std::fprintf(f, "%u\n", acc.local_endpoint().port());
    std::fclose(f);
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](std::error_code, int) { io.stop(); });
  asio::co_spawn(io, trivial_accept(acc, &answers, sw.hashes), asio::detached);
  net::run_threads(io, threads);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tracker load generator"};
  app.require_subcommand(1);
  Swarms sw;
  std::size_t threads = 2, concurrency = 64;
  double seconds = 10;
  std::uint16_t port = 0;
  bool strict = false;
  std::string port_file;
  auto* load = app.add_subcommand("load", "drive a tracker");
  load->add_option("--port", port)->required();
  load->add_option("--concurrency", concurrency);
  load->add_option("--seconds", seconds);
  load->add_option("--threads", threads);
  load->add_option("--peers", sw.peers);
  load->add_option("--hashes", sw.hashes);
  load->add_flag("--strict", strict);
  auto* trivial =
      app.add_subcommand("trivial-server", "answer every request with a fixed valid list");
  trivial->add_option("--port-file", port_file)->required();
  trivial->add_option("--threads", threads);
  trivial->add_option("--peers", sw.peers);
  trivial->add_option("--hashes", sw.hashes);
  CLI11_PARSE(app, argc, argv);
  if (sw.peers == 0 || sw.peers > 0xffffff || sw.hashes == 0 || sw.hashes > 255 || threads == 0) {
    std::cerr << "bad --peers/--hashes/--threads\n";
    return 2;
  }
  if (*load) return run_load(sw, port, concurrency, seconds, threads, strict);
  return run_trivial(sw, port_file, threads);
}
