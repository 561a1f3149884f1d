// The version both programs report (--version, metrics, status pages): CMake's project version.
#pragma once

namespace cascade {

const char* version();

}  // namespace cascade
