// Blocking test clients over real sockets on 127.0.0.1, every call bounded in time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "proto/wire.hpp"

namespace cascade::test {

// One TCP connection with a receive/send timeout (SO_RCVTIMEO/SO_SNDTIMEO).
class Conn {
 public:
  explicit Conn(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~Conn();
  Conn(Conn&&) noexcept;
  void send(ByteSpan bytes);
  void send(const std::string& text);
  // Reads exactly n bytes; throws on timeout or close.
  Bytes read_exact(std::size_t n);
  // Reads until the peer closes (or the timeout): returns everything read.
  Bytes read_to_end();
  // True if the peer closed (read returns 0) within the timeout.
  bool closed_by_peer();
  void shutdown_send();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One tracker request, the whole response.
Bytes tracker_exchange(std::uint16_t port, ByteSpan request);
TrackerResponse tracker_call(std::uint16_t port, const TrackerRequest& req);

}  // namespace cascade::test
