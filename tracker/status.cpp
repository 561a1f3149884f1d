#include "tracker/status.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/hex.hpp"
#include "common/version.hpp"

namespace cascade {

namespace {
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string tracker_metrics_text(const TrackerSnapshot& s) {
  metrics::Writer w;
  metrics::write_process(w, "cascade_tracker", "the tracker", s.start_time_seconds,
                         s.uptime_seconds);
  w.family("cascade_tracker_requests_total", "counter",
           "Requests answered, by command (invalid: the header did not decode) and status.");
  for (std::size_t c = 0; c < command_kinds; ++c)
    for (std::size_t k = 0; k < 2; ++k)
      w.sample("cascade_tracker_requests_total", static_cast<double>(s.requests[c][k]),
               {{"command", tracker_command_names[c]}, {"status", k ? "ok" : "error"}});
  w.family("cascade_tracker_errors_total", "counter",
           "Requests refused or failed, by kind (a request can fail once answered too).");
  for (std::size_t k = 0; k < error_kinds; ++k)
    w.sample("cascade_tracker_errors_total", static_cast<double>(s.errors[k]),
             {{"kind", tracker_error_names[k]}});
  w.family("cascade_tracker_rejected_connections_total", "counter",
           "Connections closed at once: max-connections or max-connections-per-ip reached.");
  w.sample("cascade_tracker_rejected_connections_total",
           static_cast<double>(s.rejected_connections));
  w.family("cascade_tracker_config_reloads_total", "counter",
           "Configuration reloads (SIGHUP), by result.");
  w.sample("cascade_tracker_config_reloads_total", static_cast<double>(s.reloads_ok),
           {{"result", "ok"}});
  w.sample("cascade_tracker_config_reloads_total", static_cast<double>(s.reloads_failed),
           {{"result", "error"}});
  w.family("cascade_tracker_open_connections", "gauge", "Connections being served now.");
  w.sample("cascade_tracker_open_connections", static_cast<double>(s.connections));
  w.family("cascade_tracker_swarms", "gauge", "Swarms with at least one peer.");
  w.sample("cascade_tracker_swarms", static_cast<double>(s.swarms));
  w.family("cascade_tracker_peers", "gauge", "Peers remembered over all swarms.");
  w.sample("cascade_tracker_peers", static_cast<double>(s.peers));
  w.family("cascade_tracker_allowed_hashes", "gauge",
           "Cascade hashes a closed tracker tracks (0 when open).");
  w.sample("cascade_tracker_allowed_hashes", static_cast<double>(s.open ? 0 : s.allowed_hashes));
  metrics::write_histogram(w, "cascade_tracker_request_duration_seconds",
                           "From accepting a connection to its answer sent.", s.latency);
  return w.text();
}

std::string tracker_status_json(const TrackerSnapshot& s) {
  nlohmann::json j;
  j["version"] = version();
  j["uptime_seconds"] = s.uptime_seconds;
  j["start_time_seconds"] = s.start_time_seconds;
  j["mode"] = s.open ? "open" : "closed";
  j["allowed_hashes"] = s.allowed_hashes;
  j["requests_per_second"] = s.requests_per_second;
  nlohmann::json req = nlohmann::json::object();
  for (std::size_t c = 0; c < command_kinds; ++c)
    req[tracker_command_names[c]] = {{"ok", s.requests[c][1]}, {"error", s.requests[c][0]}};
  j["requests"] = req;
  nlohmann::json err = nlohmann::json::object();
  for (std::size_t k = 0; k < error_kinds; ++k) err[tracker_error_names[k]] = s.errors[k];
  j["errors"] = err;
  j["rejected_connections"] = s.rejected_connections;
  j["config_reloads"] = {{"ok", s.reloads_ok}, {"error", s.reloads_failed}};
  j["open_connections"] = s.connections;
  j["swarm_count"] = s.swarms;
  j["peer_count"] = s.peers;
  nlohmann::json swarms = nlohmann::json::array();
  for (const auto& sw : s.largest)
    swarms.push_back({{"hash", to_hex(sw.hash)}, {"peers", sw.peers}, {"good_peers", sw.good}});
  j["swarms"] = swarms;
  j["swarms_listed_at_most"] = TrackerSnapshot::max_listed;
  const auto& h = s.latency;
  j["request_duration"] = {{"count", h.count()}, {"sum_seconds", h.sum}};
  return j.dump(2) + "\n";
}

std::string tracker_status_html(const TrackerSnapshot& s, int refresh_seconds) {
  using http::html_escape;
  std::string b = "<h1>cascade-tracker</h1>\n<p class=\"meta\">version " + html_escape(version()) +
                  " · up " + http::duration_text(s.uptime_seconds) + " · " +
                  (s.open ? std::string("open")
                          : "closed, " + std::to_string(s.allowed_hashes) + " allowed hashes") +
                  "</p>\n";
  b += "<table id=\"summary\"><tr>";
  for (const char* h : {"swarms", "peers", "requests/s", "requests", "errors", "open connections"})
    b += std::string("<th class=\"num\">") + h + "</th>";
  b += "</tr>\n<tr>";
  std::uint64_t errors = 0;
  for (auto e : s.errors) errors += e;
  for (const std::string& v :
       {std::to_string(s.swarms), std::to_string(s.peers), fixed(s.requests_per_second, 1),
        std::to_string(s.total_requests()), std::to_string(errors), std::to_string(s.connections)})
    b += "<td class=\"num\">" + v + "</td>";
  b += "</tr></table>\n<h2>Swarms</h2>\n";
  if (s.largest.empty()) {
    b += "<p class=\"empty\" id=\"no-swarms\">No swarm has a peer yet.</p>\n";
  } else {
    b += "<table id=\"swarms\"><tr><th>cascade hash</th><th class=\"num\">peers</th>"
         "<th class=\"num\">good peers</th></tr>\n";
    for (const auto& sw : s.largest)
      b += "<tr><td><code>" + to_hex(sw.hash) + "</code></td><td class=\"num\">" +
           std::to_string(sw.peers) + "</td><td class=\"num\">" + std::to_string(sw.good) +
           "</td></tr>\n";
    b += "</table>\n";
    if (s.swarms > s.largest.size())
      b += "<p class=\"meta\">The " + std::to_string(s.largest.size()) + " largest of " +
           std::to_string(s.swarms) + " swarms.</p>\n";
  }
  b += "<p class=\"meta\"><a href=\"/metrics\">metrics</a> · <a href=\"/status.json\">JSON</a>";
  if (refresh_seconds > 0) b += " · refreshes every " + std::to_string(refresh_seconds) + " s";
  b += "</p>\n";
  return http::html_page("cascade-tracker", refresh_seconds, b);
}

std::vector<http::Route> tracker_routes(const TrackerServer& server) {
  auto cache = std::make_shared<http::Cached<TrackerSnapshot>>(
      [&server] { return server.snapshot(); }, std::chrono::milliseconds(250));
  return {
      {"/metrics",
       {},
       [cache](const http::Request&) {
         return http::Reply{200, "text/plain; version=0.0.4; charset=utf-8",
                            tracker_metrics_text(*cache->get())};
       }},
      {"/status.json",
       {},
       [cache](const http::Request&) {
         return http::Reply{200, "application/json", tracker_status_json(*cache->get())};
       }},
      http::status_page_route(
          [cache](int refresh) { return tracker_status_html(*cache->get(), refresh); }),
  };
}

}  // namespace cascade
