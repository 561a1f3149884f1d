// Serving a few blocks at a time at full speed rather than every asked-for block at once, each at
// a crawl. A peer's uplink is what the swarm waits for: a block is of use to the peer that gets it
// (to verify, then to serve onwards) only once all of it has arrived, so sixteen blocks sent at
// once each take sixteen times as long to start spreading as one sent alone. So the answers that
// carry block bytes take turns for a few slots (process-wide: one uplink), first come, first
// served; answers without bytes ("not held" and the other errors) never wait.
//
// A slot is held until the block's bytes have been handed to the network, not merely queued in
// the socket: the serving sockets get TCP_NOTSENT_LOWAT (notsent_lowat), so a send completes
// when at most that much is still unsent.
//
// While every slot is taken, a new request for a large block is not queued but answered "not
// held" with a busy message (BlockServer): asked again, it waits for a slot (AskedOnce). A
// request queued here would hold its block hostage at this peer while other peers with free
// uplinks could send it at once; it let requests pile up at the peers every leecher knew first
// while peers that joined later sat idle. Measured on the lab (16 leechers, 100 Mbit/s, 1 MiB
// blocks, medians of 3, 8 connections each): 1.45 x T* with the rule, 1.53 x without. Later
// (16 connections, medians of 5): letting one or two asks wait beyond the slots instead of the
// busy answer gave 1.35 and 1.34 x, against 1.34 x for the rule in the same batch.
//
// A receiver that stops reading gives its slot up once its send has made no progress for `stall`,
// and its connection takes no slot again; a wait is bounded (`patience`): past it the answer goes
// out without a slot. Measured on the network lab (16 leechers, 100 Mbit/s, 1 MiB blocks, medians
// of 3, before the stall rule): 4 slots 1.51 x T*, 2 slots 1.60 x, 1 slot 1.78 x, none 1.58 x.
// Later (16 connections, medians of 5), the seed's count alone, the leechers keeping 4: 1 slot
// 1.52 x (it idles between blocks until an asker it turned away asks again), 2 slots 1.36 x,
// 8 slots 1.39 x, against 1.33-1.34 x with 4. Later still (medians of 5, two alternating batches
// each, 1.28-1.31 x with the rules as they are), none better: four slots but only one of them
// sending at a time, the others waiting their turn in order, 1.35 and 1.38 x (two sending at a
// time, 1.29 and 1.30 x; one at a time at the seed alone, 1.45 and 1.52 x); a queued ask told
// "busy" after 150 ms of waiting, 1.36 x in both batches, after 400 ms, 1.34 and 1.33 x. Nor is
// first come, first served to be replaced at the seed by the asker that has had the fewest first
// copies (each leecher's fair share of fresh blocks to pass on): 1.41 and 1.42 x, the seed
// sending 1.35 copies, against 1.28 and 1.30 x (medians of 5, alternating); nor one block at a
// time on every peer (asks queued rather than told "busy") until its first 2 or 4 sends are done,
// for a faster start: 7.00 and 6.98 s (2), 7.01 s (4), against 6.89 and 6.89 s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "common/net.hpp"

namespace cascade {

class UploadSlots {
 public:
  static constexpr std::size_t default_slots = 4;
  static constexpr int notsent_lowat = 128 * 1024;  // bytes
  // Only blocks this large take turns: a smaller one is out in little time anyway. On the lab
  // (16 leechers, 100 Mbit/s, 256 KiB blocks, 5 runs each) 256 KiB blocks gained too: 1.30 x T*
  // with slots, 1.36 x without.
  static constexpr std::uint64_t min_block = 256 * 1024;
  // The longest an answer waits for a slot before it goes out anyway.
  static constexpr net::Millis patience{5000};
  // A send that makes no progress this long (its receiver does not read) gives its slot up.
  static constexpr net::Millis stall{1000};

  explicit UploadSlots(std::size_t slots) : free_(slots), unlimited_(slots == 0) {}

  // A slot taken (or none: no limit, or the wait ran out); frees it when destroyed, or once its
  // send stalls. Used on the executor it was acquired on.
  class Slot {
   public:
    Slot() = default;
    Slot(UploadSlots* owner, const asio::any_io_executor& ex);
    Slot(Slot&&) noexcept = default;
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = o.owner_;
        lease_ = std::move(o.lease_);
      }
      return *this;
    }
    ~Slot() { release(); }
    bool held() const { return lease_ && !lease_->done; }
    // It stalled: the send made no progress for `stall` (the slot went to the next in line).
    bool stalled() const { return lease_ && lease_->stalled; }
    // Bytes went out: the stall clock starts again.
    void progress();
    void release();

   private:
    struct Lease {
      explicit Lease(const asio::any_io_executor& ex) : timer(ex) {}
      asio::steady_timer timer;
      bool done = false, stalled = false;
      std::uint64_t armed = 0;  // which arming the pending wait belongs to
    };
    void arm();
    UploadSlots* owner_ = nullptr;
    std::shared_ptr<Lease> lease_;
  };

  // Waits for a slot, at most `patience`; after stop(), returns at once without one. Each caller
  // runs on a serial executor (a connection's strand): a waiter is woken by a post to it.
  asio::awaitable<Slot> acquire(net::Millis patience);
  // Wakes every waiter (they go on without a slot); later acquires do not wait.
  void stop();

  // Every slot is taken: an answer now would wait (BlockServer tells the asker to look elsewhere
  // first).
  bool all_taken() const {
    std::lock_guard lock(mutex_);
    return !unlimited_ && !stopped_ && free_ == 0;
  }
  std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_.size();
  }

 private:
  struct Waiter;
  void give_back();

  mutable std::mutex mutex_;
  std::size_t free_;  // guarded by mutex_
  const bool unlimited_;
  bool stopped_ = false;                         // guarded by mutex_
  std::deque<std::shared_ptr<Waiter>> waiting_;  // guarded by mutex_; first come, first served
};

}  // namespace cascade
