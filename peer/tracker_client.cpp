#include "peer/tracker_client.hpp"

#include <optional>

#include "common/endpoint.hpp"

namespace cascade {

namespace {
// A dotted quad and a port number: no resolver needed (its first use starts a thread of its own,
// and each asks getaddrinfo on it).
std::optional<net::tcp::endpoint> literal(const std::string& host, const std::string& port) {
  const auto e = parse_endpoint(host + ":" + port);
  if (!e) return std::nullopt;
  return net::tcp::endpoint(asio::ip::address_v4(e->ip), e->port);
}
}  // namespace

asio::awaitable<TrackerReply> call_tracker(const std::string& host, const std::string& port,
                                           TrackerRequest req, net::Millis timeout) {
  TrackerReply reply;
  auto ex = co_await asio::this_coro::executor;
  std::optional<net::tcp::endpoint> to = literal(host, port);
  if (!to) {
    net::tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(net::tcp::v4(), host, port, net::nothrow);
    if (rec || results.empty()) {
      reply.error = "cannot resolve " + host + ": " + rec.message();
      co_return reply;
    }
    to = results.begin()->endpoint();
  }
  net::tcp::socket socket(ex);
  net::Deadline deadline(socket);
  std::error_code ec = co_await net::connect(socket, deadline, *to, timeout);
  const Bytes request = encode_tracker_request(req);
  if (!ec) ec = co_await net::write_all(socket, deadline, asio::buffer(request), timeout);
  std::array<std::uint8_t, tracker_response_header_size> head{};
  if (!ec) ec = co_await net::read_exact(socket, deadline, asio::buffer(head), timeout);
  if (ec) {
    reply.error = ec.message();
    co_return reply;
  }
  auto h = decode_tracker_response_header(head, max_tracker_peers);
  if (!h.ok()) {
    reply.error = "invalid response: " + std::string(describe(h.error));
    co_return reply;
  }
  Bytes payload(h.value->length);  // bounded by the header check above
  ec = co_await net::read_exact(socket, deadline, asio::buffer(payload), timeout);
  if (ec) {
    reply.error = "response cut short: " + ec.message();
    co_return reply;
  }
  if (h.value->status != tracker_status_ok) {
    reply.error = "tracker says: " +
                  printable({reinterpret_cast<const char*>(payload.data()), payload.size()});
    co_return reply;
  }
  reply.peers = std::move(*decode_peer_entries(payload).value);
  reply.ok = true;
  co_return reply;
}

}  // namespace cascade
