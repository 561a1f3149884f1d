#include "tests/support/client.hpp"

#include <asio.hpp>
#include <stdexcept>

namespace cascade::test {

using asio::ip::tcp;

struct Conn::Impl {
  asio::io_context io;
  tcp::socket socket{io};
};

Conn::Conn(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(impl_->socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(impl_->socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}
Conn::~Conn() = default;
Conn::Conn(Conn&&) noexcept = default;

void Conn::send(ByteSpan bytes) {
  asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()));
}
void Conn::send(const std::string& text) {
  asio::write(impl_->socket, asio::buffer(text));
}

Bytes Conn::read_exact(std::size_t n) {
  Bytes out(n);
  asio::read(impl_->socket, asio::buffer(out));
  return out;
}

Bytes Conn::read_to_end() {
  Bytes out;
  std::array<std::uint8_t, 65536> buf;
  for (;;) {
    std::error_code ec;
    const std::size_t n = impl_->socket.read_some(asio::buffer(buf), ec);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (ec == asio::error::eof) return out;
    if (ec) throw std::system_error(ec, "read_to_end");
  }
}

bool Conn::closed_by_peer() {
  std::array<std::uint8_t, 1> buf;
  std::error_code ec;
  impl_->socket.read_some(asio::buffer(buf), ec);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

void Conn::shutdown_send() {
  impl_->socket.shutdown(tcp::socket::shutdown_send);
}

Bytes tracker_exchange(std::uint16_t port, ByteSpan request) {
  Conn c(port);
  c.send(request);
  return c.read_to_end();
}

TrackerResponse tracker_call(std::uint16_t port, const TrackerRequest& req) {
  const Bytes resp = tracker_exchange(port, encode_tracker_request(req));
  auto d = decode_tracker_response(resp, 1000);
  if (!d.ok()) throw std::runtime_error("bad tracker response: " + std::string(describe(d.error)));
  return *d.value;
}

}  // namespace cascade::test
