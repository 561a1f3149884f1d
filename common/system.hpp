// Process-level set-up shared by both programs.
#pragma once

#include <cstdint>
#include <string>

namespace cascade {

// Raises the soft open-file limit to the hard limit; returns the limit now in force.
std::uint64_t raise_fd_limit();

}  // namespace cascade
