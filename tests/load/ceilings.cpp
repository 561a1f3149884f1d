// This machine's ceilings for the swarm benchmark (a benchmark instrument, not a test):
//   ceilings sha --bytes N   single-core SHA-256 (OpenSSL EVP) over N bytes in memory
//   ceilings tcp --bytes N [--file F]
//                            a raw loopback TCP copy of N bytes (1 MiB writes, blocking sockets);
//                            also the receiving thread's CPU seconds: what taking N bytes out of
//                            sockets costs any peer here, before it does anything with them;
//                            with --file F, the bytes are F's, sent with sendfile() from the page
//                            cache (F is read once first), and the sending thread's CPU seconds
//                            too: what handing a cached block to the network costs a server here
//   ceilings fill --bytes N --dir D [--files K] [--sync [--stream] | --window W]
//                            writing N bytes into each of K fresh files in D at once (1 MiB
//                            pwrites, one thread per file): what putting a download's bytes into
//                            the page cache costs here, before any network or hashing; with
//                            --sync, each file is fdatasync'd before the clock stops: the
//                            disk's own sequential write ceiling; with --stream too, each MiB's
//                            writeback is started as soon as it is written (sync_file_range, as
//                            the peer does), so the disk works while the rest is written, and the
//                            final fdatasync finds little left; with --window W, the bytes go
//                            round and round the file's first W bytes, into pages already cached
//                            after the first lap: what the copy alone costs, no fresh pages
//   ceilings read --file F   a cold sequential read of F (1 MiB reads): its pages are dropped
//                            first (the whole page cache where root may, else F's alone with
//                            posix_fadvise): the disk's read ceiling
// Each prints one line "name=MB/s" (fill: the total over all files; tcp adds " receive_cpu_s=S"
// and with --file " send_cpu_s=S";
// read adds " evicted=drop_caches|fadvise").
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "common/net.hpp"
#include "common/sha256.hpp"
#include "common/system.hpp"

using namespace cascade;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"machine ceilings"};
  std::string what;
  std::uint64_t bytes = 1ull << 30;
  std::string dir = ".";
  int files = 1;
  bool sync = false, stream = false;
  std::uint64_t window = 0;
  std::string file;
  app.add_option("what", what)->required()->check(CLI::IsMember({"sha", "tcp", "fill", "read"}));
  auto* sync_flag = app.add_flag("--sync", sync);
  app.add_flag("--stream", stream)->needs(sync_flag);
  app.add_option("--file", file);
  app.add_option("--bytes", bytes);
  app.add_option("--dir", dir);
  app.add_option("--files", files)->check(CLI::Range(1, 64));
  app.add_option("--window", window)
      ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 40));
  CLI11_PARSE(app, argc, argv);
  std::vector<std::uint8_t> buf(64 << 20);
  std::mt19937_64 rng(1);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  double seconds = 0;
  double receive_cpu = -1, send_cpu = -1;
  if (what == "sha") {
    Sha256 h;
    const auto start = Clock::now();
    for (std::uint64_t done = 0; done < bytes;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bytes - done));
      h.update({buf.data(), n});
      done += n;
    }
    volatile auto digest = h.finish()[0];
    (void)digest;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  } else if (what == "fill") {
    constexpr std::uint64_t mib = 1 << 20;
    if (window && (window % mib != 0 || window >= bytes)) {
      std::fprintf(stderr, "ceilings fill: --window must be whole MiB and less than --bytes\n");
      return 2;
    }
    std::vector<int> fds;
    for (int k = 0; k < files; ++k) {
      const std::string path =
          dir + "/ceilings-fill." + std::to_string(::getpid()) + "." + std::to_string(k);
      fds.push_back(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (fds.back() < 0) {
        std::fprintf(stderr, "ceilings fill: cannot create %s\n", path.c_str());
        return 1;
      }
      ::unlink(path.c_str());
      // The window's pages are in the cache before the clock starts: only the copy is timed.
      for (std::uint64_t at = 0; at < window; at += mib)
        if (::pwrite(fds.back(), buf.data(), mib, static_cast<off_t>(at)) !=
            static_cast<ssize_t>(mib))
          std::abort();
    }
    const auto start = Clock::now();
    std::vector<std::thread> writers;
    for (int k = 0; k < files; ++k)
      writers.emplace_back([&, k] {
        const int fd = fds[static_cast<std::size_t>(k)];
        for (std::uint64_t done = 0; done < bytes;) {
          const std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(mib, bytes - done));
          const std::uint64_t at = window ? done / mib % (window / mib) * mib : done;
          if (::pwrite(fd, buf.data() + done % (buf.size() - n + 1), n, static_cast<off_t>(at)) !=
              static_cast<ssize_t>(n))
            std::abort();
          if (stream && ::sync_file_range(fd, static_cast<off64_t>(at), static_cast<off64_t>(n),
                                          SYNC_FILE_RANGE_WRITE) != 0)
            std::abort();
          done += n;
        }
        if (sync && ::fdatasync(fd) != 0) std::abort();
        ::close(fd);
      });
    for (auto& w : writers) w.join();
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    bytes *= static_cast<std::uint64_t>(files);
  } else if (what == "read") {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "ceilings read: cannot open %s\n", file.c_str());
      return 1;
    }
    ::sync();
    std::ofstream drop("/proc/sys/vm/drop_caches");
    drop << "1" << std::flush;
    const bool dropped = drop.good();
    if (!dropped) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    const auto start = Clock::now();
    bytes = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), 1 << 20);
      if (n <= 0) break;
      bytes += static_cast<std::uint64_t>(n);
    }
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(fd);
    std::printf("disk_read_cold_MBps=%.0f evicted=%s\n", static_cast<double>(bytes) / seconds / 1e6,
                dropped ? "drop_caches" : "fadvise");
    return 0;
  } else {
    const int from = file.empty() ? -1 : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (!file.empty()) {
      if (from < 0) {
        std::fprintf(stderr, "ceilings tcp: cannot open %s\n", file.c_str());
        return 1;
      }
      off_t at = 0;
      while (at < static_cast<off_t>(bytes)) {  // into the page cache first
        const ssize_t n = ::pread(from, buf.data(), 1 << 20, at);
        if (n <= 0) break;
        at += n;
      }
      if (at < static_cast<off_t>(bytes)) {
        std::fprintf(stderr, "ceilings tcp: %s is shorter than --bytes\n", file.c_str());
        return 1;
      }
    }
    asio::io_context io;
    auto acceptor = net::listen(io.get_executor(), "127.0.0.1", 0);
    const auto port = acceptor.local_endpoint().port();
    std::thread receiver([&] {
      asio::ip::tcp::socket s(io);
      acceptor.accept(s);
      std::vector<std::uint8_t> in(1 << 20);
      std::error_code ec;
      while (!ec) s.read_some(asio::buffer(in), ec);
      receive_cpu = cpu_seconds(true);
    });
    asio::ip::tcp::socket out(io);
    out.connect({asio::ip::address_v4::loopback(), port});
    const double cpu_before = cpu_seconds(true);
    const auto start = Clock::now();
    for (std::uint64_t done = 0; done < bytes;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(1 << 20, bytes - done));
      if (from >= 0) {
        off_t at = static_cast<off_t>(done);
        const ssize_t sent = ::sendfile(out.native_handle(), from, &at, n);
        if (sent <= 0) std::abort();  // the file was read whole above
        done += static_cast<std::uint64_t>(sent);
        continue;
      }
      asio::write(out, asio::buffer(buf.data() + done % (buf.size() - n + 1), n));
      done += n;
    }
    if (from >= 0) {
      send_cpu = cpu_seconds(true) - cpu_before;
      ::close(from);
    }
    out.shutdown(asio::ip::tcp::socket::shutdown_send);
    receiver.join();
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const char* name = what == "sha"   ? "sha256_single_core"
                     : what == "tcp" ? "tcp_loopback"
                     : sync          ? "disk_write_synced"
                     : window        ? "page_cache_rewrite"
                                     : "page_cache_fill";
  std::printf("%s_MBps=%.0f", name, static_cast<double>(bytes) / seconds / 1e6);
  if (receive_cpu >= 0) std::printf(" receive_cpu_s=%.3f", receive_cpu);
  if (send_cpu >= 0) std::printf(" send_cpu_s=%.3f", send_cpu);
  std::printf("\n");
  return 0;
}
