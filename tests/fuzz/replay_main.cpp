// A plain main for the fuzz harnesses: `fuzz_replay TARGET DIR` replays every file of the corpus
// directory through that harness, and for each one
// every truncation and every single-byte change to 0x00, 0xff and a bit flip, so the decoders meet
// the malformed inputs under g++'s sanitizers in every ctest run. Prints how many inputs it ran.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "proto/byte_io.hpp"

namespace cascade::fuzz {
using Harness = int (*)(cascade::ByteSpan);
Harness find(const std::string& name);
}  // namespace cascade::fuzz

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const auto harness = cascade::fuzz::find(argv[1]);
  if (harness == nullptr) {
    std::fprintf(stderr, "unknown fuzz target %s\n", argv[1]);
    return 2;
  }
  auto LLVMFuzzerTestOneInput = [harness](const std::uint8_t* data, std::size_t size) {
    return harness(cascade::ByteSpan(data, size));
  };
  std::size_t runs = 0;
  for (int a = 2; a < argc; ++a) {
    for (const auto& entry : std::filesystem::directory_iterator(argv[a])) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<std::uint8_t> data(std::istreambuf_iterator<char>(in), {});
      for (std::size_t n = 0; n <= data.size(); ++n, ++runs) LLVMFuzzerTestOneInput(data.data(), n);
      for (std::size_t i = 0; i < data.size(); ++i) {
        const std::uint8_t original = data[i];
        for (std::uint8_t v :
             {std::uint8_t{0}, std::uint8_t{0xff}, static_cast<std::uint8_t>(original ^ 0x80)}) {
          data[i] = v;
          LLVMFuzzerTestOneInput(data.data(), data.size());
          ++runs;
        }
        data[i] = original;
      }
    }
  }
  std::printf("replayed %zu inputs\n", runs);
  return runs > 0 ? 0 : 1;
}
