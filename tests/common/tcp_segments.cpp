// Segments a TCP socket has sent, from the kernel's own struct tcp_info (glibc's copy of it stops
// before the counters). Kept apart from the Asio headers, which bring in glibc's version.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace cascade {

std::int64_t tcp_segments_out(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || len < sizeof info) return -1;
  return info.tcpi_segs_out;
}

}  // namespace cascade
