// How both programs end: one set of exit codes, and one way to carry a fatal error to main().
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace cascade {

enum class ExitCode : int {
  ok = 0,       // success
  failure = 1,  // a runtime failure: a disk error, a port that cannot be bound
  usage = 2,    // bad usage or invalid input: an option, a config, a cascade or data file
};

constexpr int to_int(ExitCode code) {
  return static_cast<int>(code);
}

// A failure that ends the program: thrown up to main(), or handed to a fatal-error callback, which
// prints one line ("cascade-peer: <message>") and exits with `code`.
struct Fatal : std::runtime_error {
  Fatal(ExitCode c, const std::string& message) : std::runtime_error(message), code(c) {}
  ExitCode code;
};

// Prints "<program>: <message>" on stderr; returns the exit code for main().
int report_fatal(std::string_view program, const Fatal& fatal);

}  // namespace cascade
