#include "peer/status.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "common/endpoint.hpp"
#include "common/hex.hpp"
#include "common/units.hpp"
#include "common/version.hpp"
#include "peer/report.hpp"

namespace cascade {

PeerSnapshot take_peer_snapshot(const std::vector<FileSet::Entry>& files, const BlockServer* server,
                                double since_start, double start_time) {
  PeerSnapshot s;
  s.taken_seconds = since_start;
  s.start_time_seconds = start_time;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const SharedFile& f = *files[i].file;
    PeerSnapshot::File out;
    out.name = short_name(f.data_path);
    out.cascade_path = f.cascade_path;
    out.data_path = f.data_path;
    out.cascade_hash = to_hex(f.cascade_hash);
    out.size = f.meta.target_size;
    out.block_size = f.meta.block_size;
    out.blocks = f.meta.block_count();
    out.verified = f.blocks.verified_count();
    out.complete = f.complete.load();
    out.complete_seconds = f.stats.complete_seconds.load();
    out.bytes_downloaded = f.stats.bytes_downloaded.load();
    out.blocks_verified = f.stats.blocks_verified.load();
    out.bad_blocks = f.stats.bad_blocks.load();
    out.blocks_served = f.stats.blocks_served.load();
    out.bytes_served = f.stats.bytes_served.load();
    out.asked_elsewhere = f.stats.asked_elsewhere.load();
    out.active_sources = f.stats.active_sources.load();
    if (files[i].downloader) {
      const auto c = files[i].downloader->peer_counts();
      out.peers_known = c.known;
      out.peers_banned = c.banned;
    }
    for (const auto& [src, t] : f.stats.sources())
      out.from.push_back(PeerSnapshot::Peer{src, t.blocks, t.bytes});
    for (const auto& [ip, t] : f.stats.served_to())
      out.to.push_back(PeerSnapshot::Peer{format_ipv4(ip), t.blocks, t.bytes});
    if (f.journal) out.journal_commits = f.journal->commit_latency().snapshot().count();
    s.files.push_back(std::move(out));
  }
  s.commit_latency = Journal::all_commit_latency().snapshot();
  s.bad_blocks = FileStats::all_bad_blocks().load();
  if (server) {
    s.serving = true;
    s.serve = server->counts();
  }
  return s;
}

namespace {

// Bytes per second between two readings of a counter; 0 without an older reading.
double rate(std::uint64_t now, std::uint64_t before, double seconds) {
  if (seconds <= 0 || now < before) return 0;
  return static_cast<double>(now - before) / seconds;
}

const PeerSnapshot::File* same_file(const PeerSnapshot* before, const PeerSnapshot::File& f) {
  if (!before) return nullptr;
  for (const auto& b : before->files)
    if (b.cascade_hash == f.cascade_hash) return &b;
  return nullptr;
}

std::uint64_t bytes_of(const std::vector<PeerSnapshot::Peer>& list, const std::string& address) {
  for (const auto& p : list)
    if (p.address == address) return p.bytes;
  return 0;
}

struct FileRates {
  double down = 0, up = 0;
  std::optional<double> eta;  // seconds; none when complete or not moving
};

FileRates file_rates(const PeerSnapshot& s, const PeerSnapshot* before,
                     const PeerSnapshot::File& f) {
  FileRates r;
  const auto* b = same_file(before, f);
  if (!b) return r;
  const double dt = s.taken_seconds - before->taken_seconds;
  r.down = rate(f.bytes_downloaded, b->bytes_downloaded, dt);
  r.up = rate(f.bytes_served, b->bytes_served, dt);
  const std::uint64_t held = std::min(f.size, f.verified * f.block_size);
  if (!f.complete && r.down > 0) r.eta = static_cast<double>(f.size - held) / r.down;
  return r;
}

double peer_rate(const PeerSnapshot& s, const PeerSnapshot* before, const PeerSnapshot::File& f,
                 const PeerSnapshot::Peer& p, bool from) {
  const auto* b = same_file(before, f);
  if (!b) return 0;
  return rate(p.bytes, bytes_of(from ? b->from : b->to, p.address),
              s.taken_seconds - before->taken_seconds);
}

std::string rate_text(double bytes_per_second) {
  return format_size(static_cast<std::uint64_t>(bytes_per_second)) + "/s";
}

}  // namespace

std::string peer_metrics_text(const PeerSnapshot& s) {
  metrics::Writer w;
  using L = metrics::Labels;
  metrics::write_process(w, "cascade_peer", "the peer", s.start_time_seconds, s.taken_seconds);

  struct PerFile {
    const char *name, *type, *help;
    std::function<double(const PeerSnapshot::File&)> value;
  };
  const PerFile per_file[] = {
      {"cascade_peer_downloaded_bytes_total", "counter",
       "Bytes of blocks received and verified in this run.",
       [](const auto& f) { return static_cast<double>(f.bytes_downloaded); }},
      {"cascade_peer_uploaded_bytes_total", "counter", "Bytes of blocks sent to other peers.",
       [](const auto& f) { return static_cast<double>(f.bytes_served); }},
      {"cascade_peer_blocks_verified_total", "counter",
       "Blocks received whose SHA-256 matched, in this run.",
       [](const auto& f) { return static_cast<double>(f.blocks_verified); }},
      {"cascade_peer_blocks_served_total", "counter", "Blocks sent to other peers.",
       [](const auto& f) { return static_cast<double>(f.blocks_served); }},
      {"cascade_peer_file_size_bytes", "gauge", "The file's size.",
       [](const auto& f) { return static_cast<double>(f.size); }},
      {"cascade_peer_file_blocks", "gauge", "The file's blocks.",
       [](const auto& f) { return static_cast<double>(f.blocks); }},
      {"cascade_peer_file_verified_blocks", "gauge", "Blocks held and verified.",
       [](const auto& f) { return static_cast<double>(f.verified); }},
      {"cascade_peer_file_completion_ratio", "gauge",
       "Verified blocks over all blocks (1: every block held).",
       [](const auto& f) {
         return f.blocks ? static_cast<double>(f.verified) / static_cast<double>(f.blocks) : 1.0;
       }},
      {"cascade_peer_file_complete", "gauge",
       "1 once the whole file's SHA-256 matched its cascade file.",
       [](const auto& f) { return f.complete ? 1.0 : 0.0; }},
      {"cascade_peer_peers_known", "gauge", "Peers this file's download knows of.",
       [](const auto& f) { return static_cast<double>(f.peers_known); }},
      {"cascade_peer_peers_banned", "gauge", "Peers banned for wrong blocks or refusing the file.",
       [](const auto& f) { return static_cast<double>(f.peers_banned); }},
      {"cascade_peer_sources_connected", "gauge", "Peers this file is downloading from now.",
       [](const auto& f) { return static_cast<double>(f.active_sources); }},
  };
  for (const auto& m : per_file) {
    w.family(m.name, m.type, m.help);
    for (const auto& f : s.files)
      w.sample(m.name, m.value(f), L{{"file", f.name}, {"cascade_hash", f.cascade_hash}});
  }

  w.family("cascade_peer_blocks_refused_total", "counter",
           "Blocks refused, by reason: bad_hash for received blocks that failed their SHA-256 "
           "check; the others for requests answered with an error status.");
  w.sample("cascade_peer_blocks_refused_total", static_cast<double>(s.bad_blocks),
           {{"reason", "bad_hash"}});
  for (std::size_t k = 0; k < BlockServer::refusal_kinds; ++k)
    w.sample("cascade_peer_blocks_refused_total", static_cast<double>(s.serve.refused[k]),
             {{"reason", BlockServer::refusal_names[k]}});
  w.family("cascade_peer_connections", "gauge",
           "Connections open now: in (clients served), out (sources downloaded from).");
  int out = 0;
  for (const auto& f : s.files) out += f.active_sources;
  w.sample("cascade_peer_connections", static_cast<double>(s.serve.connections),
           {{"direction", "in"}});
  w.sample("cascade_peer_connections", out, {{"direction", "out"}});
  w.family("cascade_peer_rejected_connections_total", "counter",
           "Client connections closed at once: max-connections (per address) reached.");
  w.sample("cascade_peer_rejected_connections_total",
           static_cast<double>(s.serve.rejected_connections));
  w.family("cascade_peer_journal_commits_total", "counter",
           "Group commits that made verified blocks durable, all files.");
  w.sample("cascade_peer_journal_commits_total", static_cast<double>(s.commit_latency.count()));
  metrics::write_histogram(w, "cascade_peer_journal_commit_duration_seconds",
                           "One group commit: data sync, records, journal sync.", s.commit_latency);
  return w.text();
}

std::string peer_status_json(const PeerSnapshot& s, const PeerSnapshot* before) {
  nlohmann::json j;
  j["version"] = version();
  j["uptime_seconds"] = s.taken_seconds;
  j["start_time_seconds"] = s.start_time_seconds;
  j["serving"] = s.serving;
  j["connections_in"] = s.serve.connections;
  nlohmann::json refused = nlohmann::json::object();
  for (std::size_t k = 0; k < BlockServer::refusal_kinds; ++k)
    refused[BlockServer::refusal_names[k]] = s.serve.refused[k];
  j["requests_refused"] = refused;
  j["journal_commits"] = s.commit_latency.count();
  j["files"] = nlohmann::json::array();
  for (const auto& f : s.files) {
    const FileRates r = file_rates(s, before, f);
    auto peers = [&](const std::vector<PeerSnapshot::Peer>& list, bool from) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& p : list)
        a.push_back({{"address", p.address},
                     {"blocks", p.blocks},
                     {"bytes", p.bytes},
                     {"rate", peer_rate(s, before, f, p, from)}});
      return a;
    };
    j["files"].push_back({{"name", f.name},
                          {"cascade", f.cascade_path},
                          {"data", f.data_path},
                          {"cascade_hash", f.cascade_hash},
                          {"size", f.size},
                          {"block_size", f.block_size},
                          {"blocks", f.blocks},
                          {"verified_blocks", f.verified},
                          {"complete", f.complete},
                          {"complete_seconds", f.complete_seconds},
                          {"bytes_downloaded", f.bytes_downloaded},
                          {"bytes_served", f.bytes_served},
                          {"blocks_served", f.blocks_served},
                          {"bad_blocks", f.bad_blocks},
                          {"download_rate", r.down},
                          {"upload_rate", r.up},
                          {"eta_seconds", r.eta ? nlohmann::json(*r.eta) : nlohmann::json()},
                          {"sources_connected", f.active_sources},
                          {"peers_known", f.peers_known},
                          {"peers_banned", f.peers_banned},
                          {"received_from", peers(f.from, true)},
                          {"served_to", peers(f.to, false)}});
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string peer_status_html(const PeerSnapshot& s, const PeerSnapshot* before,
                             int refresh_seconds) {
  using http::html_escape;
  std::string b = "<h1>cascade-peer</h1>\n<p class=\"meta\">version " + html_escape(version()) +
                  " · up " + http::duration_text(s.taken_seconds) + " · " +
                  (s.serving ? std::to_string(s.serve.connections) + " clients connected"
                             : std::string("client only (not serving)")) +
                  "</p>\n<table id=\"files\"><tr><th>file</th><th>progress</th>"
                  "<th class=\"num\">size</th><th class=\"num\">down</th><th class=\"num\">up</th>"
                  "<th class=\"num\">ETA</th><th class=\"num\">sources</th>"
                  "<th class=\"num\">blocks served</th></tr>\n";
  for (const auto& f : s.files) {
    const FileRates r = file_rates(s, before, f);
    const double fraction =
        f.blocks ? static_cast<double>(f.verified) / static_cast<double>(f.blocks) : 1.0;
    b += "<tr><td>" + html_escape(f.name) + "</td><td>" + http::html_bar(fraction) +
         (f.complete ? " verified" : "") + "</td><td class=\"num\">" + format_size(f.size) +
         "</td><td class=\"num\">" + rate_text(r.down) + "</td><td class=\"num\">" +
         rate_text(r.up) + "</td><td class=\"num\">" +
         (f.complete ? std::string("done")
          : r.eta    ? http::duration_text(*r.eta)
                     : std::string("-")) +
         "</td><td class=\"num\">" + std::to_string(f.active_sources) + "</td><td class=\"num\">" +
         std::to_string(f.blocks_served) + "</td></tr>\n";
  }
  b += "</table>\n";
  for (std::size_t i = 0; i < s.files.size(); ++i) {
    const auto& f = s.files[i];
    b += "<h2>" + html_escape(f.name) + ": peers</h2>\n";
    if (f.from.empty() && f.to.empty()) {
      b += "<p class=\"empty\">No block received or sent yet.</p>\n";
      continue;
    }
    b += "<table id=\"peers-" + std::to_string(i) +
         "\"><tr><th>peer</th><th>direction</th><th class=\"num\">blocks</th>"
         "<th class=\"num\">bytes</th><th class=\"num\">rate</th></tr>\n";
    auto rows = [&](const std::vector<PeerSnapshot::Peer>& list, bool from) {
      for (const auto& p : list)
        b += "<tr><td>" + html_escape(p.address) + "</td><td>" +
             (from ? "received from" : "served to") + "</td><td class=\"num\">" +
             std::to_string(p.blocks) + "</td><td class=\"num\">" + format_size(p.bytes) +
             "</td><td class=\"num\">" + rate_text(peer_rate(s, before, f, p, from)) +
             "</td></tr>\n";
    };
    rows(f.from, true);
    rows(f.to, false);
    b += "</table>\n";
  }
  b += "<p class=\"meta\"><a href=\"/metrics\">metrics</a> · <a href=\"/status.json\">JSON</a>";
  if (refresh_seconds > 0) b += " · refreshes every " + std::to_string(refresh_seconds) + " s";
  b += "</p>\n";
  return http::html_page("cascade-peer", refresh_seconds, b);
}

PeerPages::View PeerPages::view() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (history_.empty() || now - last_taken_ >= std::chrono::milliseconds(250)) {
    history_.push_back(std::make_shared<const PeerSnapshot>(take_()));
    last_taken_ = now;
  }
  const double newest = history_.back()->taken_seconds;
  // Keep about ten seconds; rates compare with the newest snapshot at least a second older.
  while (history_.size() > 2 && newest - history_[1]->taken_seconds >= 10) history_.pop_front();
  View v{history_.back(), nullptr};
  for (auto it = history_.rbegin(); it != history_.rend(); ++it)
    if (newest - (*it)->taken_seconds >= 1) {
      v.before = *it;
      break;
    }
  if (!v.before && history_.size() > 1) v.before = history_.front();
  return v;
}

std::vector<http::Route> PeerPages::routes() {
  return {
      {"/metrics",
       {},
       [this](const http::Request&) {
         return http::Reply{200, "text/plain; version=0.0.4; charset=utf-8",
                            peer_metrics_text(*view().now)};
       }},
      {"/status.json",
       {},
       [this](const http::Request&) {
         const View v = view();
         return http::Reply{200, "application/json", peer_status_json(*v.now, v.before.get())};
       }},
      http::status_page_route([this](int refresh) {
        const View v = view();
        return peer_status_html(*v.now, v.before.get(), refresh);
      }),
  };
}

}  // namespace cascade
