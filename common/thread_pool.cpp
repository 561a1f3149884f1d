#include "common/thread_pool.hpp"

#include <stdexcept>
#include <string>
#include <system_error>

#include "common/system.hpp"

namespace cascade {

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = usable_cores();
  workers_.reserve(threads);
  try {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::system_error& e) {
    // The system would not give another thread (memory for its stack, a process limit): the ones
    // started are joined (destroying them joinable would terminate the program), and the caller
    // learns why.
    stop();
    throw std::runtime_error("cannot start " + std::to_string(threads) +
                             " worker threads: " + e.code().message());
  } catch (...) {
    stop();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  stop();
}

void ThreadPool::push(std::unique_ptr<TaskBase> task) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(task));
      wake_.notify_one();
      return;
    }
  }
  task->run();
}

void ThreadPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::unique_ptr<TaskBase> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task->run();
  }
}

}  // namespace cascade
