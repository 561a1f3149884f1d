// One file's conversation with one tracker: a TrackerSchedule decides when, call_tracker() makes
// the exchange, and the peers it returns go into the file's PeerTable. A file with several
// trackers keeps one session for each.
#pragma once

#include <string>

#include "common/net.hpp"
#include "peer/events.hpp"
#include "peer/peer_table.hpp"
#include "peer/tracker_schedule.hpp"

namespace cascade {

class TrackerSession {
 public:
  struct Options {
    std::string host, port;
    net::Millis timeout{5000};
    TrackerSchedule::Options schedule;
  };
  // `label` names the file in log lines; `self` is the address we report.
  TrackerSession(Options options, const Hash256& cascade_hash, Endpoint self, std::string label,
                 Events* events = nullptr);

  // Makes the exchange that is due now, if any, and merges the answer into `peers`. Returns
  // whether the tracker answered.
  asio::awaitable<bool> step(const TrackerSchedule::Need& need, PeerTable& peers);
  const TrackerSchedule& schedule() const { return schedule_; }

 private:
  const Options options_;
  const Hash256 cascade_hash_;
  const Endpoint self_;
  const std::string label_;
  Events* const events_;
  TrackerSchedule schedule_;
  bool answered_once_ = false;
};

}  // namespace cascade
