#include "tests/support/vectors.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "common/hex.hpp"

namespace cascade::test {

std::string vectors_dir() {
  return CASCADE_VECTORS_DIR;
}

const nlohmann::json& vectors() {
  static const nlohmann::json j = [] {
    std::ifstream in(vectors_dir() + "/vectors.json");
    if (!in) throw std::runtime_error("cannot open vectors.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

Bytes vector_file(const std::string& name) {
  std::ifstream in(vectors_dir() + "/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open vector file " + name);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes vector_hex(const std::string& key) {
  auto b = from_hex(vectors().at(key).at("hex").get<std::string>());
  if (!b) throw std::runtime_error("bad hex in vector " + key);
  return *b;
}

}  // namespace cascade::test
