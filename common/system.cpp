#include "common/system.hpp"

#include <sys/resource.h>

#include <csignal>


namespace cascade {

void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

double cpu_seconds(bool this_thread_only) {
  rusage u{};
  if (getrusage(this_thread_only ? RUSAGE_THREAD : RUSAGE_SELF, &u) != 0) return 0;
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

std::uint64_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
  }
  return lim.rlim_cur;
}

}  // namespace cascade
