// Access to the protocol test vectors copied from shared/vectors into tests/vectors.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "proto/byte_io.hpp"

namespace cascade::test {

std::string vectors_dir();
const nlohmann::json& vectors();             // vectors.json
Bytes vector_file(const std::string& name);  // raw bytes of a file in tests/vectors
Bytes vector_hex(const std::string& key);    // vectors()[key]["hex"] decoded

}  // namespace cascade::test
