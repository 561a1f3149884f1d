// A fixed-size pool of worker threads for disk I/O and hashing.
//
// Design: one FIFO queue guarded by one mutex; workers take one task at a time. Tasks are
// move-only callables, so a coroutine's completion handler can be handed over. stop() drains:
// every task queued before it still runs, then the workers are joined. The destructor stops.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace cascade {

class ThreadPool {
 public:
  // threads == 0 means one per core.
  explicit ThreadPool(std::size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues a task. Safe to call from any thread; a task posted after stop() is run inline.
  template <class F>
  void post(F&& f) {
    push(std::make_unique<Task<std::decay_t<F>>>(std::forward<F>(f)));
  }

  // Queues a task and returns a future for its result (exceptions travel through the future).
  template <class F>
  auto submit(F&& f) -> std::future<std::invoke_result_t<std::decay_t<F>>> {
    using R = std::invoke_result_t<std::decay_t<F>>;
    std::packaged_task<R()> task(std::forward<F>(f));
    auto fut = task.get_future();
    post(std::move(task));
    return fut;
  }

  // Runs every queued task, then joins the workers. Idempotent. Not to be called from a worker.
  void stop();
  std::size_t size() const { return workers_.size(); }

 private:
  struct TaskBase {
    virtual ~TaskBase() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct Task final : TaskBase {
    explicit Task(F&& f) : fn(std::move(f)) {}
    explicit Task(const F& f) : fn(f) {}
    void run() override { fn(); }
    F fn;
  };

  void push(std::unique_ptr<TaskBase> task);
  void worker_loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<TaskBase>> queue_;  // guarded by mutex_
  bool stopping_ = false;                        // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace cascade
