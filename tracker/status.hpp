// The tracker's HTTP pages (--http): /metrics (Prometheus), /status.json and / (HTML), all made
// from TrackerServer::snapshot(), read at most four times a second however often they are asked.
#pragma once

#include <vector>

#include "common/http_service.hpp"
#include "tracker/server.hpp"

namespace cascade {

// The routes; `server` must outlive them.
std::vector<http::Route> tracker_routes(const TrackerServer& server);

// The three renderings of one snapshot (tests call these too).
std::string tracker_metrics_text(const TrackerSnapshot& s);
std::string tracker_status_json(const TrackerSnapshot& s);
std::string tracker_status_html(const TrackerSnapshot& s, int refresh_seconds);

}  // namespace cascade
