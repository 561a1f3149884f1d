#include "peer/tracker_schedule.hpp"

#include <algorithm>

namespace cascade {

namespace {
bool list_wanted(const TrackerSchedule::Need& need, bool forming) {
  return need.starving || need.usable_peers < need.wanted_peers ||
         (forming && need.wanted_peers > 0);
}
}  // namespace

std::optional<TrackerCommand> TrackerSchedule::due(Clock::time_point now, const Need& need) const {
  if (now >= next_announce_) return announce_command();
  if (now >= next_list_ && list_wanted(need, forming_ > 0)) return TrackerCommand::list;
  return std::nullopt;
}

TrackerSchedule::Clock::time_point TrackerSchedule::next_due(const Need& need) const {
  return list_wanted(need, forming_ > 0) ? std::min(next_announce_, next_list_) : next_announce_;
}

void TrackerSchedule::answered(TrackerCommand cmd, Clock::time_point now, const Need& after) {
  failures_ = 0;
  // Only the announce itself moves the next announce: a LIST does not refresh our entry in the
  // tracker's registry, so LISTs in between must not postpone the SUBSCRIBE.
  if (cmd == announce_command()) next_announce_ = now + options_.announce_interval;
  next_list_ = now + options_.list_interval;
  if (after.wanted_peers > 0 && (after.usable_peers < after.wanted_peers || after.new_peers > 0)) {
    // Two more doublings than a retry's, from a step a quarter as long: the same longest step.
    next_list_ = now + std::min<Clock::duration>(
                           options_.list_interval,
                           first_forming_step * (1 << std::min(forming_, max_doublings + 2)));
    ++forming_;
  } else {
    forming_ = 0;
  }
}

void TrackerSchedule::failed(Clock::time_point now) {
  ++failures_;
  const auto backoff = std::min<Clock::duration>(
      max_failure_backoff, std::chrono::seconds(1 << std::min(failures_ - 1, max_doublings)));
  next_announce_ = now + backoff;
  next_list_ = now + backoff;
}

}  // namespace cascade
