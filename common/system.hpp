// Process-level set-up shared by both programs.
#pragma once

#include <cstdint>
#include <string>

namespace cascade {

// Ignores SIGPIPE: a peer that closes while we write (sendfile() cannot say MSG_NOSIGNAL) must
// be an error on that connection, never the end of the process.
void ignore_sigpipe();
// Raises the soft open-file limit to the hard limit; returns the limit now in force.
std::uint64_t raise_fd_limit();
// CPU seconds (user + system) used so far by this process, or by the calling thread alone.
double cpu_seconds(bool this_thread_only = false);

}  // namespace cascade
