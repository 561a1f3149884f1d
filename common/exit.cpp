#include "common/exit.hpp"

#include <cstdio>

namespace cascade {

int report_fatal(std::string_view program, const Fatal& fatal) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(),
               fatal.what());
  return to_int(fatal.code);
}

}  // namespace cascade
