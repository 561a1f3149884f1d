#include "peer/tracker_session.hpp"

#include "common/log.hpp"
#include "peer/tracker_client.hpp"

namespace cascade {

TrackerSession::TrackerSession(Options options, const Hash256& cascade_hash, Endpoint self,
                               std::string label, Events* events)
    : options_(std::move(options)),
      cascade_hash_(cascade_hash),
      self_(self),
      label_(std::move(label)),
      events_(events),
      schedule_(options_.schedule) {}

asio::awaitable<bool> TrackerSession::step(const TrackerSchedule::Need& need, PeerTable& peers) {
  const auto cmd = schedule_.due(net::Clock::now(), need);
  if (!cmd) co_return false;
  const TrackerRequest req{*cmd, cascade_hash_, self_.ip, self_.port};
  const TrackerReply reply =
      co_await call_tracker(options_.host, options_.port, req, options_.timeout);
  const auto now = net::Clock::now();
  const std::string where = options_.host + ":" + options_.port;
  if (reply.ok) {
    if (schedule_.failures() > 0 || !answered_once_)
      log::info(label_, ": tracker ", where, " answered (", reply.peers.size(), " peers)");
    answered_once_ = true;
    const std::size_t new_peers = peers.merge(reply.peers);
    const auto c = peers.counts(now);
    schedule_.answered(*cmd, now, {c.known - c.banned, need.wanted_peers, false, new_peers});
    co_return true;
  }
  if (schedule_.failures() == 0) {
    log::warn(label_, ": tracker ", where, " failed: ", reply.error, "; retrying with backoff");
    if (events_) events_->tracker_error(label_, where, reply.error);
  }
  schedule_.failed(now);
  co_return false;
}

}  // namespace cascade
