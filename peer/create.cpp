#include "peer/create.hpp"

#include <deque>
#include <future>
#include <vector>

#include "common/file.hpp"
#include "common/sha256.hpp"

namespace cascade {

namespace {
constexpr std::uint64_t batch_target = 4 * 1024 * 1024;  // bytes read per batch
}

CascadeFile make_cascade(const std::string& data_path, std::uint64_t block_size, ThreadPool& pool) {
  if (block_size == 0) throw std::invalid_argument("block size must be positive");
  File file(data_path, File::Mode::read);
  CascadeFile out;
  out.target_size = file.size();
  out.block_size = block_size;
  out.block_hashes.resize(block_count_for(out.target_size, block_size));
  Sha256 whole;

  if (block_size > batch_target) {
    // Huge blocks: stream each block through two hashers in bounded chunks.
    std::vector<std::uint8_t> chunk(batch_target);
    Sha256 block;
    for (std::uint64_t i = 0; i < out.block_count(); ++i) {
      std::uint64_t left = out.block_length(i), at = out.block_offset(i);
      while (left > 0) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
        file.read_at(at, {chunk.data(), n});
        whole.update({chunk.data(), n});
        block.update({chunk.data(), n});
        at += n;
        left -= n;
      }
      out.block_hashes[i] = block.finish();
    }
    out.target_hash = whole.finish();
    return out;
  }

  // Batches of whole blocks: read here, hash the file here, hash the blocks on the pool.
  const std::uint64_t blocks_per_batch = std::max<std::uint64_t>(1, batch_target / block_size);
  const std::size_t max_in_flight = pool.size() + 2;
  struct Batch {
    std::shared_ptr<std::vector<std::uint8_t>> buffer;
    std::future<void> done;
  };
  std::deque<Batch> in_flight;
  std::vector<std::shared_ptr<std::vector<std::uint8_t>>> spare;
  auto wait_oldest = [&] {
    in_flight.front().done.get();  // rethrows a hashing failure
    spare.push_back(std::move(in_flight.front().buffer));
    in_flight.pop_front();
  };
  try {
    for (std::uint64_t first = 0; first < out.block_count(); first += blocks_per_batch) {
      const std::uint64_t last = std::min(out.block_count(), first + blocks_per_batch);
      const std::uint64_t offset = out.block_offset(first);
      const std::size_t bytes = static_cast<std::size_t>(out.block_offset(last - 1) +
                                                         out.block_length(last - 1) - offset);
      if (in_flight.size() >= max_in_flight) wait_oldest();
      std::shared_ptr<std::vector<std::uint8_t>> buffer;
      if (!spare.empty()) {
        buffer = std::move(spare.back());
        spare.pop_back();
      } else {
        buffer = std::make_shared<std::vector<std::uint8_t>>(
            batch_target > block_size ? batch_target : block_size);
      }
      file.read_at(offset, {buffer->data(), bytes});
      auto done = pool.submit([&out, buffer, first, last, offset] {
        for (std::uint64_t i = first; i < last; ++i)
          out.block_hashes[i] = sha256({buffer->data() + (out.block_offset(i) - offset),
                                        static_cast<std::size_t>(out.block_length(i))});
      });
      whole.update({buffer->data(), bytes});
      in_flight.push_back(Batch{std::move(buffer), std::move(done)});
    }
  } catch (...) {
    // Pool tasks write into `out`: let them finish before it goes away.
    for (auto& b : in_flight) b.done.wait();
    throw;
  }
  while (!in_flight.empty()) wait_oldest();
  out.target_hash = whole.finish();
  return out;
}

LoadedCascade load_cascade_file(const std::string& path, std::uint64_t max_block_size) {
  constexpr std::uint64_t max_cascade_file_bytes = 1ull << 31;  // 64M block hashes
  std::string bytes;
  try {
    bytes = read_small_file(path, max_cascade_file_bytes);
  } catch (const FileError& e) {
    throw CascadeLoadError(e.what());
  }
  const ByteSpan span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  auto decoded = decode_cascade_file(span, CascadeLimits{max_block_size});
  if (!decoded.ok() && decoded.error == ProtoError::bad_block_size &&
      load_be64(span.data() + 24) > 0)
    throw CascadeLoadError(path + ": block size " + std::to_string(load_be64(span.data() + 24)) +
                           " is above the limit of " + std::to_string(max_block_size) +
                           " bytes (--max-block-size)");
  if (!decoded.ok())
    throw CascadeLoadError(path +
                           ": invalid cascade file: " + std::string(describe(decoded.error)) +
                           " (at byte " + std::to_string(decoded.offset) + ")");
  return LoadedCascade{std::move(*decoded.value), sha256(span)};
}

std::string default_data_path(const std::string& cascade_path) {
  const std::size_t slash = cascade_path.rfind('/');
  const std::size_t dot = cascade_path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == slash + 1)
    return cascade_path + ".data";
  return cascade_path.substr(0, dot);
}

}  // namespace cascade
