// A plain main for the fuzz harnesses: replays every file of a corpus directory, and for each one
// every truncation and every single-byte change to 0x00, 0xff and a bit flip, so the decoders meet
// the malformed inputs under g++'s sanitizers in every ctest run. Prints how many inputs it ran.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::size_t runs = 0;
  for (int a = 1; a < argc; ++a) {
    for (const auto& entry : std::filesystem::directory_iterator(argv[a])) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<std::uint8_t> data(std::istreambuf_iterator<char>(in), {});
      for (std::size_t n = 0; n <= data.size(); ++n, ++runs) LLVMFuzzerTestOneInput(data.data(), n);
      for (std::size_t i = 0; i < data.size(); ++i) {
        const std::uint8_t original = data[i];
        for (std::uint8_t v : {std::uint8_t{0}, std::uint8_t{0xff}, static_cast<std::uint8_t>(original ^ 0x80)}) {
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
