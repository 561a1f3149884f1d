#include "common/system.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace cascade {

void keep_standard_descriptors_open() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int opened = ::open("/dev/null", O_RDWR | O_NOCTTY);  // the lowest free number: fd
    if (opened >= 0 && opened != fd) {
      ::dup2(opened, fd);
      ::close(opened);
    }
  }
}

namespace {
std::atomic<int> early_stop{0};
std::atomic<bool> early_hup{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

extern "C" void on_early_signal(int sig) {
  if (sig == SIGHUP) {
    early_hup = true;
    return;
  }
  if (early_stop.exchange(sig) != 0) ::_exit(1);
}
}  // namespace

void catch_early_signals(bool hangup) {
  struct sigaction sa {};
  sa.sa_handler = on_early_signal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  if (hangup) ::sigaction(SIGHUP, &sa, nullptr);
}

int early_stop_signal() {
  return early_stop.load();
}

bool early_hangup() {
  return early_hup.load();
}

void ignore_sigpipe() {
  std::signal(SIGPIPE, SIG_IGN);
}

double cpu_seconds(bool this_thread_only) {
  rusage u{};
  if (getrusage(this_thread_only ? RUSAGE_THREAD : RUSAGE_SELF, &u) != 0) return 0;
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
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

unsigned cores_from_quota(std::int64_t quota, std::int64_t period) {
  if (quota <= 0 || period <= 0) return 0;
  const std::int64_t cores = (quota + period - 1) / period;
  return static_cast<unsigned>(std::min<std::int64_t>(cores, 1 << 20));
}

unsigned cores_from_cpu_max(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return 0;
  std::int64_t quota = 0, period = 0;
  const std::string_view q = text.substr(0, space), p = text.substr(space + 1);
  auto whole = [](std::string_view s, std::int64_t& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size();
  };
  if (q == "max" || !whole(q, quota) || !whole(p, period)) return 0;
  return cores_from_quota(quota, period);
}

namespace {

// A /proc or /sys file, read to its end: these report a size of 0 (or 4096) whatever they hold, so
// read_small_file() (common/file), which reads st_size bytes, cannot be used.
std::string read_kernel_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

std::int64_t read_number(const std::string& path) {
  const std::string text = read_kernel_file(path);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() ? v : 0;
}

// The tightest CPU quota on the way from this process's cgroup up to the root, in cores; 0 for
// none. cgroup v2 ("0::/path") and v1 (a "cpu" controller line) at their usual mount points.
unsigned cgroup_quota_cores() {
  std::istringstream lines(read_kernel_file("/proc/self/cgroup"));
  unsigned best = 0;
  auto take = [&best](unsigned cores) {
    if (cores > 0 && (best == 0 || cores < best)) best = cores;
  };
  for (std::string line; std::getline(lines, line);) {
    const auto a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    for (;;) {
      if (controllers.empty()) {
        take(cores_from_cpu_max(read_kernel_file("/sys/fs/cgroup" + path + "/cpu.max")));
      } else if (("," + controllers + ",").find(",cpu,") != std::string::npos) {
        for (const char* root : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"})
          take(cores_from_quota(read_number(root + path + "/cpu.cfs_quota_us"),
                                read_number(root + path + "/cpu.cfs_period_us")));
      }
      if (path.empty() || path == "/") break;
      const auto slash = path.rfind('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
  }
  return best;
}

}  // namespace

unsigned usable_cores() {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    cores = static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
  if (const unsigned quota = cgroup_quota_cores(); quota > 0) cores = std::min(cores, quota);
  return cores;
}

std::size_t threads_or_cores(std::size_t requested) {
  return requested ? requested : usable_cores();
}

}  // namespace cascade
