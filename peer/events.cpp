#include "peer/events.hpp"

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/exit.hpp"

namespace cascade {

namespace {
nlohmann::json event(const char* name) {
  return nlohmann::json{{"event", name}};
}
}  // namespace

Events::Events(const std::string& path) {
  if (path == "-") {
    out_ = stdout;
    return;
  }
  out_ = std::fopen(path.c_str(), "a");
  if (!out_)
    throw Fatal(ExitCode::failure, "--events: cannot open " + path + ": " + std::strerror(errno));
  owned_ = true;
}

Events::~Events() {
  if (owned_) std::fclose(out_);
}

void Events::write(nlohmann::json& j) {
  std::lock_guard lock(mutex_);  // the time is taken here too: lines come in time order
  j["time"] =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // A path that is not UTF-8 is written with U+FFFD in place of its bad bytes.
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void Events::file_started(const std::string& file, const std::string& cascade_hash,
                          std::uint64_t blocks, std::uint64_t present, bool complete) {
  auto j = event("file_started");
  j["file"] = file;
  j["cascade_hash"] = cascade_hash;
  j["blocks"] = blocks;
  j["blocks_present"] = present;
  j["complete"] = complete;
  write(j);
}

void Events::peer_connected(const std::string& peer, const char* direction,
                            const std::string& file) {
  auto j = event("peer_connected");
  j["peer"] = peer;
  j["direction"] = direction;
  if (!file.empty()) j["file"] = file;
  write(j);
}

void Events::peer_banned(const std::string& file, const std::string& peer, const char* reason) {
  auto j = event("peer_banned");
  j["file"] = file;
  j["peer"] = peer;
  j["reason"] = reason;
  write(j);
}

void Events::tracker_error(const std::string& file, const std::string& tracker,
                           const std::string& message) {
  auto j = event("tracker_error");
  j["file"] = file;
  j["tracker"] = tracker;
  j["message"] = message;
  write(j);
}

void Events::file_complete(const std::string& file, bool ok, double seconds,
                           const std::string& detail) {
  auto j = event("file_complete");
  j["file"] = file;
  j["check"] = ok ? "ok" : "mismatch";
  j["seconds"] = seconds;
  if (!detail.empty()) j["detail"] = detail;
  write(j);
}

void Events::file_removed(const std::string& file) {
  auto j = event("file_removed");
  j["file"] = file;
  write(j);
}

void Events::exit(int code) {
  auto j = event("exit");
  j["code"] = code;
  write(j);
}

}  // namespace cascade
