#include "common/http_service.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <thread>

#include "common/endpoint.hpp"

namespace cascade::http {

namespace {

// httplib's own pool queues without bound; this one makes the accepting thread wait while
// `max_queued` connections wait already, so a flood of HTTP connections costs a bounded number
// of descriptors (the rest wait in the kernel's backlog).
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~BoundedPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return jobs_.size() < max_queued_ || stopping_; });
    jobs_.push_back(std::move(fn));  // after shutdown too: each job closes its socket
    ready_.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
        if (jobs_.empty()) return;  // stopping, and nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      room_.notify_one();
      fn();
    }
  }

  const std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  std::vector<std::thread> threads_;
};

// The socket of one request, as httplib reads and writes it, under two limits httplib 0.11 does
// not keep: the whole request (line and headers) must arrive within one deadline, and within
// `max_bytes`. httplib bounds each header line's length but neither their number nor the time
// between them, so a client could send headers without end (memory) or one line every few
// seconds (holding one of the few threads for as long as it likes).
class GuardedStream : public httplib::Stream {
 public:
  GuardedStream(int fd, std::chrono::steady_clock::time_point deadline, std::size_t max_bytes,
                std::chrono::milliseconds write_timeout)
      : fd_(fd), deadline_(deadline), max_bytes_(max_bytes), write_timeout_(write_timeout) {}

  bool is_readable() const override { return begin_ < end_ || wait(POLLIN, 0); }
  bool is_writable() const override { return wait(POLLOUT, 0); }
  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      if (received_ >= max_bytes_) {
        too_long_ = true;
        return -1;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait(POLLIN, static_cast<int>(left.count()))) {
        timed_out_ = true;
        return -1;
      }
      const ssize_t n = ::recv(fd_, buffer_.data(),
                               std::min(buffer_.size(), max_bytes_ - received_), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return read(ptr, size);  // woken for nothing: wait again, within the same deadline
      if (n <= 0) return n;
      received_ += static_cast<std::size_t>(n);
      begin_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    const std::size_t n = std::min(size, end_ - begin_);
    std::copy_n(buffer_.data() + begin_, n, ptr);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }
  // Once a limit cut the request off, httplib's own answer (a bare 400) is dropped for the one
  // cut_off_answer() gives.
  ssize_t write(const char* ptr, size_t size) override {
    if (too_long_ || timed_out_) return static_cast<ssize_t>(size);
    return send(ptr, size);
  }
  // A 431 or a 408 that says why, after process_request(), if a limit cut the request off (a
  // client that sent nothing at all gets nothing).
  void cut_off_answer() {
    if (!too_long_ && !(timed_out_ && received_ > 0)) return;
    const std::string answer =
        too_long_ ? plain_answer("431 Request Header Fields Too Large",
                                 "the request line and headers exceed " +
                                     std::to_string(max_bytes_ / 1024) + " KiB\n")
                  : plain_answer("408 Request Timeout", "the request did not arrive in time\n");
    send(answer.data(), answer.size());
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(::getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  static std::string plain_answer(std::string_view status, const std::string& body) {
    return "HTTP/1.1 " + std::string(status) +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }
  ssize_t send(const char* ptr, size_t size) {
    for (;;) {
      if (!wait(POLLOUT, static_cast<int>(write_timeout_.count()))) return -1;
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return n;
    }
  }
  bool wait(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    for (;;) {
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      return r > 0;
    }
  }
  // The service listens on IPv4 only (Service::start).
  template <class Get>
  void address(Get get, std::string& ip, int& port) const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ip.clear();
    port = 0;
    if (get(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET) return;
    ip = format_ipv4(ntohl(a.sin_addr.s_addr));
    port = ntohs(a.sin_port);
  }

  const int fd_;
  const std::chrono::steady_clock::time_point deadline_;
  const std::size_t max_bytes_;
  const std::chrono::milliseconds write_timeout_;
  std::array<char, 4096> buffer_{};
  std::size_t begin_ = 0, end_ = 0, received_ = 0;
  bool too_long_ = false, timed_out_ = false;
};

// httplib's server, each connection served through a GuardedStream (one request per
// connection, as Service asks anyway); a request cut off by a limit is told which.
class GuardedServer : public httplib::Server {
 public:
  std::chrono::seconds request_time{5};
  static constexpr std::size_t max_request_bytes = 64 * 1024;  // line and headers; no bodies

 private:
  bool process_and_close_socket(socket_t sock) override {
    // Once stopped, what is still queued is closed unanswered, as httplib itself does.
    if (svr_sock_ != INVALID_SOCKET) {
      GuardedStream stream(sock, std::chrono::steady_clock::now() + request_time, max_request_bytes,
                           request_time);
      bool closed = false;
      process_request(stream, /*close_connection=*/true, closed, [](httplib::Request&) {});
      stream.cut_off_answer();
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return true;
  }
};

}  // namespace

std::optional<std::string> Request::param(const std::string& name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

std::optional<int> parse_seconds(const std::string& text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > 3600) return std::nullopt;
  return v;
}

Route status_page_route(std::function<std::string(int)> render) {
  return Route{"/", {"refresh"}, [render = std::move(render)](const Request& req) {
                 int refresh = 2;
                 if (auto r = req.param("refresh")) {
                   const auto v = parse_seconds(*r);
                   if (!v) return bad_request("refresh must be whole seconds, 0 to 3600");
                   refresh = *v;
                 }
                 return Reply{200, "text/html; charset=utf-8", render(refresh)};
               }};
}

Reply bad_request(const std::string& message) {
  return Reply{400, "text/plain; charset=utf-8", message + "\n"};
}

struct Service::Impl {
  std::vector<Route> routes;
  Options options;
  GuardedServer server;
  std::thread listener;
  // Closed by stop(): from then on no route runs (what they read may be gone), and a client
  // still holding a thread gets 503. Handlers run under the shared lock.
  std::shared_mutex gate;
  bool closed = false;  // guarded by gate
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;  // guarded by done_mutex: the listener returned

  void answer(const httplib::Request& in, httplib::Response& out) {
    std::shared_lock lock(gate);
    if (closed) {
      out.status = 503;
      out.set_content("shutting down\n", "text/plain; charset=utf-8");
      return;
    }
    Reply reply;
    const Route* route = nullptr;
    for (const auto& r : routes)
      if (r.path == in.path) route = &r;
    if (!route) {
      std::string known;
      for (const auto& r : routes) known += " " + r.path;
      reply = Reply{404, "text/plain; charset=utf-8", "no such page; there are:" + known + "\n"};
    } else {
      Request req{in.path, {}};
      for (const auto& [k, v] : in.params) {
        bool accepted = false;
        for (const auto& p : route->params) accepted = accepted || p == k;
        if (!accepted) {
          reply = bad_request("unknown query parameter \"" + k + "\" for " + route->path);
          break;
        }
        if (in.params.count(k) > 1) {  // which one would be meant?
          reply = bad_request("query parameter \"" + k + "\" given more than once");
          break;
        }
        req.query.emplace_back(k, v);
      }
      if (reply.status == 200) reply = route->handler(req);
    }
    out.status = reply.status;
    out.set_header("Cache-Control", "no-store");
    out.set_content(std::move(reply.body), reply.content_type.c_str());
  }
};

Service::Service(std::vector<Route> routes, Options options) : impl_(std::make_shared<Impl>()) {
  impl_->routes = std::move(routes);
  impl_->options = options;
  auto& s = impl_->server;
  s.new_task_queue = [options] { return new BoundedPool(options.threads, options.queued); };
  s.request_time = std::chrono::seconds(options.timeout_seconds);
  s.set_read_timeout(static_cast<time_t>(options.timeout_seconds), 0);
  s.set_write_timeout(static_cast<time_t>(options.timeout_seconds), 0);
  s.set_keep_alive_timeout(static_cast<time_t>(options.timeout_seconds));
  s.set_keep_alive_max_count(1);  // one request per connection: an idle tab holds no thread
  s.set_payload_max_length(0);    // no request bodies
  s.set_pre_routing_handler([](const httplib::Request& in, httplib::Response& out) {
    if (in.method == "GET" || in.method == "HEAD")
      return httplib::Server::HandlerResponse::Unhandled;
    out.status = 405;
    out.set_header("Allow", "GET, HEAD");
    out.set_content("only GET and HEAD are served here\n", "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
  // Every path goes through answer(): its 404 lists the pages there are.
  s.Get(".*", [impl = impl_.get()](const httplib::Request& in, httplib::Response& out) {
    impl->answer(in, out);
  });
  // httplib's own refusals (a malformed request line, a URI over its limit) come with an empty
  // body: each gets a line that says what was wrong.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&,
                                                              httplib::Response& out) {
    if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const char* why = out.status == 400   ? "malformed request"
                      : out.status == 414 ? "the request URI is too long"
                      : out.status == 413 ? "requests here have no body"
                                          : "the request cannot be served";
    out.set_header("Cache-Control", "no-store");
    out.set_content(std::to_string(out.status) + ": " + why + "\n", "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& out, std::exception_ptr e) {
        std::string what = "internal error";
        try {
          if (e) std::rethrow_exception(e);
        } catch (const std::exception& x) {
          what += std::string(": ") + x.what();
        } catch (...) {
        }
        out.status = 500;
        out.set_content(what + "\n", "text/plain; charset=utf-8");
      });
}

Service::~Service() {
  stop();
}

std::uint16_t Service::bind(const std::string& address_port) {
  const auto ep = parse_endpoint(address_port, /*allow_zero_port=*/true);
  if (!ep) throw std::runtime_error("--http must be IPv4:port, got \"" + address_port + "\"");
  const std::string host = format_ipv4(ep->ip);
  auto& s = impl_->server;
  int port = ep->port;
  if (port == 0) {
    port = s.bind_to_any_port(host);
    if (port <= 0) throw std::runtime_error("--http: cannot bind " + host + " to any port");
  } else if (!s.bind_to_port(host, port)) {
    throw std::runtime_error("--http: cannot bind " + address_port + " (in use, or not ours)");
  }
  return static_cast<std::uint16_t>(port);
}

void Service::serve() {
  auto& s = impl_->server;
  impl_->listener = std::thread([impl = impl_] {
    impl->server.listen_after_bind();
    std::lock_guard lock(impl->done_mutex);
    impl->done = true;
    impl->done_cv.notify_all();
  });
  // stop() only stops a server that runs: wait (bounded) until it does.
  for (int i = 0; i < 5000 && !s.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Service::stop() {
  if (!impl_->listener.joinable()) return;
  impl_->server.stop();
  {
    std::unique_lock lock(impl_->gate);
    impl_->closed = true;
  }
  // httplib joins its workers, and a client dripping a header line now and then keeps one busy
  // as long as it likes: wait a little, then leave the listener to end on its own (it holds the
  // Impl; no route runs any more).
  std::unique_lock lock(impl_->done_mutex);
  if (impl_->done_cv.wait_for(lock, stop_wait, [&] { return impl_->done; }))
    impl_->listener.join();
  else
    impl_->listener.detach();
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string html_page(const std::string& title, int refresh_seconds, const std::string& body) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  if (refresh_seconds > 0)
    out += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(refresh_seconds) + "\">\n";
  out += "<title>" + html_escape(title) + "</title>\n<style>\n" + R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; background: #fafbfc; }
h1 { font-size: 1.3em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
.meta { color: #5a6275; margin-bottom: 1em; }
table { border-collapse: collapse; background: #fff; }
th, td { padding: .3em .8em; border-bottom: 1px solid #e3e6ec; text-align: left; }
th { background: #f0f2f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: .9em; }
.bar { display: inline-block; width: 12em; height: .9em; background: #e3e6ec; border-radius: 3px;
       vertical-align: middle; overflow: hidden; }
.bar > span { display: block; height: 100%; background: #2f7de1; }
.done > span { background: #2da44e; }
.empty { color: #5a6275; font-style: italic; }
)css" + "</style></head>\n<body>\n" +
         body + "</body></html>\n";
  return out;
}

std::string duration_text(double seconds) {
  const auto s = static_cast<std::uint64_t>(std::llround(std::max(0.0, seconds)));
  const std::uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  if (d) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m) return std::to_string(m) + "m " + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

std::string html_bar(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%.1f", fraction * 100);
  return std::string("<span class=\"bar") + (fraction >= 1 ? " done" : "") +
         "\" role=\"progressbar\" aria-valuenow=\"" + pct +
         "\" aria-valuemin=\"0\" aria-valuemax=\"100\"><span style=\"width:" + pct +
         "%\"></span></span> " + pct + "%";
}

}  // namespace cascade::http
