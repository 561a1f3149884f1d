#include "peer/upload_slots.hpp"

namespace cascade {

// A waiter sleeps on its timer (its executor: the connection's strand); being handed a slot
// cancels the timer from the thread that freed it, through a post to that executor.
struct UploadSlots::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool granted = false;  // guarded by the owner's mutex_
};

UploadSlots::Slot::Slot(UploadSlots* owner, const asio::any_io_executor& ex)
    : owner_(owner), lease_(std::make_shared<Lease>(ex)) {
  arm();
}

// The lease's timer and its handler live on the holder's executor, as do progress() and
// release(): no lock needed for `done` and `stalled`.
void UploadSlots::Slot::arm() {
  lease_->timer.expires_after(stall);
  lease_->timer.async_wait(
      [lease = lease_, owner = owner_, armed = ++lease_->armed](const std::error_code& ec) {
        // Re-armed (cancelled, or expired just before and queued), or released.
        if (ec || lease->done || armed != lease->armed) return;
        lease->done = lease->stalled = true;
        owner->give_back();
      });
}

void UploadSlots::Slot::progress() {
  if (held()) arm();  // expires_after() cancels the pending wait
}

void UploadSlots::Slot::release() {
  if (!held()) return;
  lease_->done = true;
  lease_->timer.cancel();
  owner_->give_back();
}

asio::awaitable<UploadSlots::Slot> UploadSlots::acquire(net::Millis patience) {
  if (unlimited_) co_return Slot{};
  const auto ex = co_await asio::this_coro::executor;
  auto w = std::make_shared<Waiter>(ex);
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) co_return Slot{};
    if (free_ == 0 || !waiting_.empty()) {
      w->timer.expires_after(patience);
      waiting_.push_back(w);
      queued = true;
    } else {
      --free_;
    }
  }
  if (queued) {
    co_await w->timer.async_wait(net::nothrow);
    std::lock_guard lock(mutex_);
    if (!w->granted) {
      std::erase(waiting_, w);  // out of patience, or stopping
      co_return Slot{};
    }
  }
  co_return Slot{this, ex};  // made outside the lock: a Slot gives back under it
}

void UploadSlots::give_back() {
  std::lock_guard lock(mutex_);
  if (waiting_.empty() || stopped_) {
    ++free_;
    return;
  }
  auto w = std::move(waiting_.front());
  waiting_.pop_front();
  w->granted = true;
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

void UploadSlots::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  for (auto& w : waiting_) asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

}  // namespace cascade
