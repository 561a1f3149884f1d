// The verify-and-write pipeline of one fetch connection. The connection reads each block into one
// of its buffers and submits it; up to max_jobs pool jobs take blocks off the queue and hand
// them to the file's Verifier, and hand back buffers and verdicts in batches (one wake-up of the
// connection per batch, not per block: with small blocks, cross-thread wake-ups cost more than
// the hashing). Each verdict also ends the block's entry in the connection's InFlight record.
//
// Buffers: a connection has about 2 MiB's worth (3 to 64 blocks), allocated as needed: its first
// always, more while the file's BufferBudget allows, so the socket is read while earlier blocks
// are checked and memory stays bounded.
//
// Threading: every method runs on the connection's strand; the pool jobs touch only the queue
// (under its mutex) and post their verdicts back to the strand.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "peer/in_flight.hpp"
#include "peer/verifier.hpp"

namespace cascade {

class CheckQueue : public std::enable_shared_from_this<CheckQueue> {
 public:
  static constexpr int max_jobs =
      2;  // pool jobs per connection: one verifies while another hashes the prefix

  CheckQueue(const asio::any_io_executor& strand, ThreadPool& pool,
             std::shared_ptr<Verifier> verifier, std::shared_ptr<SharedFile> file, InFlight& record,
             std::string source);
  ~CheckQueue();

  // A free buffer for the next block, waiting for a verdict if every buffer is in use. Null once a
  // verdict says the connection must end (a wrong block, a disk error).
  asio::awaitable<std::vector<std::uint8_t>*> buffer();
  // Returns a buffer that was not filled (the read failed).
  void give_back(std::vector<std::uint8_t>* buffer) { free_.push_back(buffer); }
  // Queues block `block`, read into `buffer`, for checking; the record already counts it received.
  // `digest`: its SHA-256, when the connection computed it already (Verifier::check).
  void submit(std::vector<std::uint8_t>* buffer, std::uint64_t block, std::uint64_t length,
              const std::optional<Hash256>& digest = std::nullopt);
  // Waits until every submitted block has its verdict.
  asio::awaitable<void> drain();

  int delivered() const { return delivered_; }
  int bad() const { return bad_; }
  bool must_stop() const { return bad_ > 0 || fatal_; }

 private:
  struct Item {
    std::vector<std::uint8_t>* buffer;
    std::uint64_t block, length;
    std::optional<Hash256> digest;  // the block's SHA-256 (unset: not computed yet)
  };
  struct Result {
    std::vector<std::uint8_t>* buffer;
    std::uint64_t block;
    Verifier::Verdict verdict;
  };
  bool grow();
  void run_jobs();                        // a pool job
  void take(const std::vector<Result>&);  // on the strand

  asio::any_io_executor strand_;
  asio::steady_timer wake_;  // cancelled whenever verdicts arrive
  ThreadPool& pool_;
  const std::shared_ptr<Verifier> verifier_;
  const std::shared_ptr<SharedFile> file_;
  InFlight& record_;  // the connection's; it outlives the queue's last verdict (drain())
  const std::string source_;
  const std::size_t max_buffers_, block_size_;
  std::atomic<std::size_t> allocated_{0};  // storage_.size(), readable by the pool jobs
  // Connection strand only:
  std::vector<std::unique_ptr<std::vector<std::uint8_t>>> storage_;
  std::vector<std::vector<std::uint8_t>*> free_;
  int pending_ = 0, delivered_ = 0, bad_ = 0;
  bool fatal_ = false;
  // Shared with the pool jobs:
  std::mutex mutex_;
  std::deque<Item> queue_;  // guarded by mutex_
  int jobs_ = 0;            // guarded by mutex_; pool jobs running for this connection
};

}  // namespace cascade
