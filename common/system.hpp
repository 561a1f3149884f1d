// Process-level set-up shared by both programs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cascade {

// Ignores SIGPIPE: a peer that closes while we write (sendfile() cannot say MSG_NOSIGNAL) must
// be an error on that connection, never the end of the process.
void ignore_sigpipe();
// Raises the soft open-file limit to the hard limit; returns the limit now in force.
std::uint64_t raise_fd_limit();
// Opens /dev/null on whichever of the standard descriptors 0, 1 and 2 is closed (`2>&-`), before
// anything else is opened: else the next file opened (a data file) takes the number, and log lines
// and events written to "stderr" or "stdout" land in it.
void keep_standard_descriptors_open();
// Until a program's own signal handling is set up (asio::signal_set takes the signals over),
// SIGINT and SIGTERM only record that a stop was asked (a second one exits at once, status 1),
// and with `hangup` SIGHUP is recorded too (for a program that reloads on it): a signal during a
// long start-up (checking files, loading a configuration) ends it in order instead of killing the
// process. Call first thing in main().
void catch_early_signals(bool hangup);
// The SIGINT or SIGTERM recorded, or 0; whether a SIGHUP was.
int early_stop_signal();
bool early_hangup();
// Thrown by start-up work that stops early because of early_stop_signal(). Not a std::exception:
// handlers of errors do not take it for one.
struct StopRequested {
  int signal;
};
// CPU seconds (user + system) used so far by this process, or by the calling thread alone.
double cpu_seconds(bool this_thread_only = false);

// The cores this process may use, the default wherever Cascade runs "one thread per core": the
// CPUs in its affinity mask (taskset, cpusets), fewer still if its cgroup (or a parent) has a CPU
// quota (a container's --cpus), rounded up; at least 1.
unsigned usable_cores();
// The most --threads takes, in every program: more is a typing mistake, not a machine.
inline constexpr std::size_t max_threads = 1024;
// The thread count wherever a program takes --threads: `requested`, or usable_cores() for 0.
std::size_t threads_or_cores(std::size_t requested);
// The cores a CPU quota allows, quota / period rounded up; 0 when it sets no limit (a negative
// quota, as cgroup v1 writes "no limit", or a zero quota or period).
unsigned cores_from_quota(std::int64_t quota, std::int64_t period);
// The same from cgroup v2's cpu.max ("max 100000": no limit; "150000 100000": 2 cores);
// 0 for no limit or for text it does not understand.
unsigned cores_from_cpu_max(std::string_view text);

}  // namespace cascade
