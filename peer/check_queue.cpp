#include "peer/check_queue.hpp"

#include "peer/fetch_policy.hpp"

namespace cascade {

CheckQueue::CheckQueue(const asio::any_io_executor& strand, ThreadPool& pool,
                       std::shared_ptr<Verifier> verifier, std::shared_ptr<SharedFile> file,
                       InFlight& record, std::string source)
    : strand_(strand),
      wake_(strand),
      pool_(pool),
      verifier_(std::move(verifier)),
      file_(std::move(file)),
      record_(record),
      source_(std::move(source)),
      max_buffers_(buffers_for(std::min(file_->meta.block_size, file_->meta.target_size))),
      block_size_(
          static_cast<std::size_t>(std::min(file_->meta.block_size, file_->meta.target_size))) {}

CheckQueue::~CheckQueue() {
  file_->buffers.give_back(storage_.size() * block_size_);
}

bool CheckQueue::grow() {
  if (storage_.size() >= max_buffers_) return false;
  if (storage_.empty())
    file_->buffers.take_first(block_size_);
  else if (!file_->buffers.try_take(block_size_))
    return false;
  storage_.push_back(std::make_unique<std::vector<std::uint8_t>>(block_size_));
  free_.push_back(storage_.back().get());
  allocated_ = storage_.size();
  return true;
}

asio::awaitable<std::vector<std::uint8_t>*> CheckQueue::buffer() {
  if (free_.empty()) grow();
  while (free_.empty() && !must_stop()) {
    wake_.expires_at(net::Clock::time_point::max());
    co_await wake_.async_wait(net::nothrow);
  }
  if (must_stop()) co_return nullptr;
  std::vector<std::uint8_t>* b = free_.back();
  free_.pop_back();
  co_return b;
}

void CheckQueue::submit(std::vector<std::uint8_t>* buffer, std::uint64_t block,
                        std::uint64_t length, const std::optional<Hash256>& digest) {
  ++pending_;
  bool start_job = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({buffer, block, length, digest});
    if (jobs_ < max_jobs && queue_.size() > static_cast<std::size_t>(jobs_)) {
      ++jobs_;
      start_job = true;
    }
  }
  if (start_job) pool_.post([self = shared_from_this()] { self->run_jobs(); });
}

asio::awaitable<void> CheckQueue::drain() {
  while (pending_ > 0) {
    wake_.expires_at(net::Clock::time_point::max());
    co_await wake_.async_wait(net::nothrow);
  }
}

void CheckQueue::run_jobs() {
  // Verdicts go back in batches of half the connection's buffers: the connection wakes once per
  // batch, and still has buffers to read into meanwhile.
  const std::size_t batch = std::max<std::size_t>(1, allocated_.load() / 2);
  std::vector<Result> results;
  auto hand_back = [this](std::vector<Result> done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)] { self->take(done); });
  };
  for (;;) {
    Item item{};
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) {
        --jobs_;
        break;
      }
      item = queue_.front();
      queue_.pop_front();
    }
    const ByteSpan data(item.buffer->data(), item.length);
    results.push_back(
        {item.buffer, item.block, verifier_->check(item.block, data, source_, item.digest)});
    if (results.size() >= batch) hand_back(std::exchange(results, {}));
  }
  if (!results.empty()) hand_back(std::move(results));
}

void CheckQueue::take(const std::vector<Result>& done) {
  for (const auto& r : done) {
    free_.push_back(r.buffer);
    record_.verdict(r.block);
    --pending_;
    if (r.verdict == Verifier::Verdict::ok) ++delivered_;
    if (r.verdict == Verifier::Verdict::bad) ++bad_;
    if (r.verdict == Verifier::Verdict::io_error) fatal_ = true;
  }
  wake_.cancel();
}

}  // namespace cascade
