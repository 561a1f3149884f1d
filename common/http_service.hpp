// A small read-only HTTP service (metrics, status pages) on Debian's cpp-httplib, kept out of
// every header: it runs on its own few threads, so a slow or hostile HTTP client never holds up
// the protocol's threads. Only GET and HEAD; each route declares the query parameters it takes,
// and anything else gets a clear 4xx answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade::http {

struct Request {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;  // in the order given
  // The value of parameter `name`, if given.
  std::optional<std::string> param(const std::string& name) const;
};

struct Reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Reply(const Request&)>;

struct Route {
  std::string path;                 // exact match
  std::vector<std::string> params;  // the query parameters it accepts
  Handler handler;
};

// "0".."3600" as whole seconds (a page's refresh parameter); anything else: nullopt.
std::optional<int> parse_seconds(const std::string& text);

// The route "/" of a status page: `render(refresh_seconds)` makes the HTML; the query parameter
// "refresh" (whole seconds, 0 to 3600; default 2) is checked here.
Route status_page_route(std::function<std::string(int refresh_seconds)> render);

// A 400 answer whose body is `message` and a newline.
Reply bad_request(const std::string& message);

class Service {
 public:
  // How long stop() waits for requests in progress.
  static constexpr std::chrono::milliseconds stop_wait{1000};
  struct Options {
    std::size_t threads = 4;            // requests served at once
    std::size_t queued = 32;            // accepted connections waiting; then accepting pauses
    std::uint32_t timeout_seconds = 5;  // reading a request, writing an answer
  };
  Service(std::vector<Route> routes, Options options);
  explicit Service(std::vector<Route> routes) : Service(std::move(routes), Options{}) {}
  ~Service();

  // Binds "IPv4:port" (port 0: any free one) and serves on the service's own threads; returns
  // the bound port. Throws std::runtime_error with a one-line reason.
  std::uint16_t start(const std::string& address_port) {
    const std::uint16_t port = bind(address_port);
    serve();
    return port;
  }
  // start() in two steps, so a process can take its port before long work (clients wait in the
  // listen queue meanwhile) and fail at once when it cannot.
  std::uint16_t bind(const std::string& address_port);
  void serve();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the listener thread
};

// The last snapshot made, remade when older than `max_age`: however fast pages are asked for,
// the state behind them is read at most once per max_age. Thread-safe.
template <class T>
class Cached {
 public:
  Cached(std::function<T()> make, std::chrono::milliseconds max_age)
      : make_(std::move(make)), max_age_(max_age) {}
  std::shared_ptr<const T> get() {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!value_ || now - made_ >= max_age_) {
      value_ = std::make_shared<const T>(make_());
      made_ = now;
    }
    return value_;
  }

 private:
  std::function<T()> make_;
  const std::chrono::milliseconds max_age_;
  std::mutex mutex_;
  std::shared_ptr<const T> value_;  // guarded by mutex_
  std::chrono::steady_clock::time_point made_;
};

// Text made safe inside HTML elements and attribute values.
std::string html_escape(std::string_view text);
// A whole page in the programs' common style, working without JavaScript; refreshes itself every
// `refresh_seconds` (0: never). `body` is HTML.
std::string html_page(const std::string& title, int refresh_seconds, const std::string& body);
// A duration for a page: "42s", "3m 7s", "2h 15m", "4d 3h".
std::string duration_text(double seconds);
// A progress bar for `fraction` (0..1) with its percentage beside it.
std::string html_bar(double fraction);

}  // namespace cascade::http
