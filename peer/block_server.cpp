#include "peer/block_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <list>
#include <shared_mutex>
#include <unordered_map>

#include "common/connection_limits.hpp"
#include "common/hex.hpp"
#include "common/log.hpp"
#include "common/sha256.hpp"
#include "peer/holdings_hint.hpp"
#include "proto/wire.hpp"

namespace cascade {

namespace {
using net::tcp;
constexpr std::size_t send_chunk_size = 256 * 1024;  // bytes of a block read and sent at a time

constexpr std::size_t request_buffer = 64 * peer_request_size;  // pipelined requests read at once
}  // namespace

// These carry ask_elsewhere_words, which makes a client of ours believe them for their whole
// time.
std::string elsewhere_message(std::uint64_t block) {
  return "block " + std::to_string(block) +
         " is in the swarm already: " + std::string(ask_elsewhere_words) +
         " first (asked again, this seed sends it)";
}

std::string ahead_message(std::uint64_t block) {
  return "block " + std::to_string(block) +
         " is not in the swarm yet, and this seed sends its blocks about in file order: " +
         std::string(ask_elsewhere_words) + " first (asked again, this seed sends it)";
}

std::string busy_message(std::uint64_t block) {
  // Appended piece by piece: a chain of operator+ starting from a string_view's copy trips
  // GCC 12's -Warray-bounds under -fsanitize=thread (a false positive).
  std::string m(busy_words);
  m += ": ";
  m += ask_elsewhere_words;
  m += " for block ";
  m += std::to_string(block);
  m += " first (asked again, this peer queues it)";
  return m;
}

std::string not_held_message(std::uint64_t block) {
  return std::to_string(block) + " is not currently held by this peer";
}

struct BlockServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, ThreadPool& pool_, std::vector<std::shared_ptr<SharedFile>> files_,
       Options o)
      : io(io_),
        pool(pool_),
        options(o),
        limits(o.max_connections, o.max_connections_per_ip),
        accept_strand(asio::make_strand(io_)),
        acceptor(accept_strand) {
    for (auto& f : files_) files.emplace(f->cascade_hash, std::move(f));
  }

  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)), deadline(socket) {}
    tcp::socket socket;
    net::Deadline deadline;
    // Its large blocks take turns for the upload slots (UploadSlots): not on the loopback
    // interface, nor once a send of ours to it stalled.
    bool takes_turns = false;
    // Not on the loopback interface: the asker shares an uplink with others (or may), so a seed's
    // first copies go out from its front (FirstCopies).
    bool shared_uplink = false;
  };

  asio::io_context& io;
  ThreadPool& pool;
  const Options options;
  ConnectionLimits limits;
  // The acceptor is used only on this strand (the accept loop, and closing it in stop()).
  asio::strand<asio::io_context::executor_type> accept_strand;
  tcp::acceptor acceptor;
  mutable std::shared_mutex files_mutex;
  std::unordered_map<Hash256, std::shared_ptr<SharedFile>, HashKey> files;  // guarded by it
  std::shared_ptr<SharedFile> find(const Hash256& hash) const {
    std::shared_lock lock(files_mutex);
    auto it = files.find(hash);
    return it == files.end() ? nullptr : it->second;
  }
  std::atomic<bool> stopping{false};
  std::mutex conns_mutex;
  std::list<std::weak_ptr<Connection>> conns;  // guarded by conns_mutex; for stop()

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self);
  asio::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c,
                              std::list<std::weak_ptr<Connection>>::iterator where,
                              std::uint32_t ip);
  // Answers one decoded request; returns false when the connection must close afterwards.
  asio::awaitable<bool> answer(Connection& c, std::uint32_t ip, const PeerRequest& req,
                               std::vector<std::uint8_t>& chunk);
  asio::awaitable<bool> send_error(Connection& c, PeerStatus status, const std::string& message);
  // Counts the refusal, then sends its error.
  asio::awaitable<bool> refuse(Connection& c, BlockServer::Refusal why, PeerStatus status,
                               const std::string& message) {
    ++refused[why];
    return send_error(c, status, message);
  }
  std::array<std::atomic<std::uint64_t>, BlockServer::refusal_kinds> refused{};
  std::atomic<std::uint64_t> rejected_connections{0};
  // Sends header + block by reading it on the pool in bounded chunks (no sendfile).
  asio::awaitable<bool> send_copied(Connection& c, SharedFile& f, std::uint64_t base,
                                    std::uint64_t length, std::span<const std::uint8_t> header,
                                    std::vector<std::uint8_t>& chunk, UploadSlots::Slot& slot);
  std::atomic<bool> use_sendfile{::getenv("CASCADE_NO_SENDFILE") == nullptr};
  UploadSlots slots{options.upload_slots};
};

BlockServer::BlockServer(asio::io_context& io, ThreadPool& pool,
                         std::vector<std::shared_ptr<SharedFile>> files, Options options)
    : impl_(std::make_shared<Impl>(io, pool, std::move(files), options)) {}

BlockServer::~BlockServer() {
  stop();
}

std::uint16_t BlockServer::start(const std::string& address, std::uint16_t port) {
  impl_->acceptor = net::listen(impl_->accept_strand, address, port);
  asio::co_spawn(impl_->accept_strand, impl_->accept_loop(impl_), asio::detached);
  return impl_->acceptor.local_endpoint().port();
}

void BlockServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  impl_->slots.stop();
  asio::post(impl_->accept_strand, [impl = impl_] {
    std::error_code ec;
    impl->acceptor.close(ec);
    std::lock_guard lock(impl->conns_mutex);
    for (auto& w : impl->conns)
      if (auto c = w.lock())
        asio::post(c->socket.get_executor(), [c] {
          std::error_code ignored;
          c->socket.close(ignored);
        });
  });
}

void BlockServer::add_file(std::shared_ptr<SharedFile> file) {
  std::unique_lock lock(impl_->files_mutex);
  const Hash256 hash = file->cascade_hash;
  impl_->files.insert_or_assign(hash, std::move(file));
}

void BlockServer::remove_file(const Hash256& cascade_hash) {
  std::unique_lock lock(impl_->files_mutex);
  impl_->files.erase(cascade_hash);
}

BlockServer::Counts BlockServer::counts() const {
  Counts c;
  c.connections = impl_->limits.active();
  c.rejected_connections = impl_->rejected_connections.load();
  for (std::size_t k = 0; k < refusal_kinds; ++k) c.refused[k] = impl_->refused[k].load();
  return c;
}

asio::awaitable<void> BlockServer::Impl::accept_loop(std::shared_ptr<Impl> self) {
  bool short_of_descriptors = false;
  while (!stopping) {
    tcp::socket socket(asio::make_strand(io));
    tcp::endpoint peer;
    const std::error_code ec =
        co_await net::accept_next(acceptor, socket, peer, short_of_descriptors);
    if (stopping) break;
    if (ec) continue;
    const std::uint32_t ip = net::from_asio(peer).ip;
    if (!limits.try_admit(ip)) {
      ++rejected_connections;
      std::error_code ignored;
      socket.close(ignored);
      continue;
    }
    if (options.events) options.events->peer_connected(to_string(net::from_asio(peer)), "in", "");
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.non_blocking(true, ignored);  // sendfile() must return EAGAIN, not block
    // Upload slots share an uplink; the loopback interface has none to share (there the
    // receivers' CPU is the limit: with slots, W2 of scripts/bench/swarm.sh took 1.08 x as long).
    // With them, a send completes once its bytes are nearly all sent, not merely queued.
    const bool shared_uplink = (ip >> 24) != 127;
    const bool takes_turns = options.upload_slots > 0 && shared_uplink;
    if (takes_turns) {
      const int lowat = UploadSlots::notsent_lowat;
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    }
    auto c = std::make_shared<Connection>(std::move(socket));
    c->takes_turns = takes_turns;
    c->shared_uplink = shared_uplink;
    std::list<std::weak_ptr<Connection>>::iterator where;
    {
      std::lock_guard lock(conns_mutex);
      where = conns.insert(conns.end(), c);
    }
    auto ex = c->socket.get_executor();
    asio::co_spawn(ex, serve(self, std::move(c), where, ip), asio::detached);
  }
}

asio::awaitable<void> BlockServer::Impl::serve(std::shared_ptr<Impl> self,
                                               std::shared_ptr<Connection> c,
                                               std::list<std::weak_ptr<Connection>>::iterator where,
                                               std::uint32_t ip) {
  std::array<std::uint8_t, request_buffer> in{};
  std::size_t have = 0;
  std::vector<std::uint8_t> chunk;  // allocated on the first block served
  bool open = true;
  while (open && !stopping) {
    c->deadline.expires_after(options.idle_timeout);
    auto [ec, n] = co_await c->socket.async_read_some(
        asio::buffer(in.data() + have, in.size() - have), net::nothrow);
    if (ec == asio::error::eof && have > 0) {
      // The client ended its stream part-way through a request; it may still be reading.
      co_await refuse(*c, BlockServer::malformed, PeerStatus::malformed,
                      "malformed request: the stream ended " + std::to_string(have) +
                          " bytes into a " + std::to_string(peer_request_size) + "-byte request");
      break;
    }
    if (ec) break;
    have += n;
    std::size_t used = 0;
    while (open && have - used >= peer_request_size) {
      auto req = decode_peer_request(ByteSpan(in.data() + used, peer_request_size));
      used += peer_request_size;
      if (!req.ok()) {
        open = co_await refuse(*c, BlockServer::malformed, PeerStatus::malformed,
                               "malformed request: " + std::string(describe(req.error)));
        break;
      }
      open = co_await answer(*c, ip, *req.value, chunk);
    }
    std::memmove(in.data(), in.data() + used, have - used);
    have -= used;
  }
  if (c->socket.is_open()) co_await net::graceful_close(c->socket, c->deadline, net::Millis(1000));
  {
    std::lock_guard lock(conns_mutex);
    conns.erase(where);
  }
  limits.release(ip);
  (void)self;
}

asio::awaitable<bool> BlockServer::Impl::send_error(Connection& c, PeerStatus status,
                                                    const std::string& message) {
  const Bytes reply = encode_peer_error(status, message);
  const std::error_code ec =
      co_await net::write_all(c.socket, c.deadline, asio::buffer(reply), options.write_timeout);
  co_return !ec && !closes_connection(status);
}

asio::awaitable<bool> BlockServer::Impl::send_copied(Connection& c, SharedFile& f,
                                                     std::uint64_t base, std::uint64_t length,
                                                     std::span<const std::uint8_t> header,
                                                     std::vector<std::uint8_t>& chunk,
                                                     UploadSlots::Slot& slot) {
  if (chunk.empty()) chunk.resize(send_chunk_size);
  bool first = true;
  for (std::uint64_t done = 0; done < length || first;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), length - done));
    bool read_ok = true;
    if (n > 0) {
      read_ok = co_await net::on_pool(pool, [&f, &chunk, base, done, n] {
        try {
          f.storage->read(base + done, {chunk.data(), n});
          return true;
        } catch (const std::exception& e) {
          log::error("serving ", f.data_path, ": ", e.what());
          return false;
        }
      });
    }
    std::vector<asio::const_buffer> out;
    if (first && !header.empty()) out.push_back(asio::buffer(header.data(), header.size()));
    out.push_back(asio::buffer(chunk.data(), n));
    if (!read_ok || co_await net::write_all(c.socket, c.deadline, out, options.write_timeout))
      co_return false;
    co_await net::pace(options.upload, n);  // the upload limit's wait, after the bytes
    slot.progress();                        // (the limit's wait and the disk's are no stall)
    done += n;
    first = false;
  }
  co_return true;
}

asio::awaitable<bool> BlockServer::Impl::answer(Connection& c, std::uint32_t ip,
                                                const PeerRequest& req,
                                                std::vector<std::uint8_t>& chunk) {
  // Held for the whole answer: the file may leave the shared set meanwhile (a shared directory).
  const std::shared_ptr<SharedFile> held = find(req.cascade_hash);
  if (!held)
    co_return co_await refuse(c, BlockServer::unknown_file, PeerStatus::unknown_cascade,
                              "this peer does not serve " + to_hex(req.cascade_hash));
  SharedFile& f = *held;
  if (req.block >= f.meta.block_count())
    co_return co_await refuse(c, BlockServer::out_of_range, PeerStatus::out_of_range,
                              "block " + std::to_string(req.block) +
                                  " is out of range (the file has " +
                                  std::to_string(f.meta.block_count()) + " blocks)");
  // A partial holder's "don't have" says what it holds instead (holdings_hint.hpp).
  auto holdings = [&f, &req] {
    if (const std::uint64_t held = f.blocks.verified_count();
        held == 0 || held == f.meta.block_count())
      return std::string();  // no hint: no copy
    const BlockMap::Holdings h = f.blocks.holdings();
    return holdings_hint(h.verified, h.count, req.block, max_holdings_hint, h.prefix, h.end);
  };
  if (!f.blocks.verified(req.block))
    co_return co_await refuse(c, BlockServer::not_held, PeerStatus::not_held,
                              not_held_message(req.block) + holdings());
  // A data file another program changed no longer holds what was verified: a complete file whose
  // modification time is not the one its whole-file check saw (nothing of ours writes to it any
  // more), or any file cut short before this block's end. Said once, and the file is checked
  // again (Options::changed); until then its blocks are "not held" (the asker goes to other
  // peers) rather than bytes that fail the asker's hash check, or a header with a promised
  // length followed by a dropped connection.
  if (struct stat now{}; ::fstat(f.storage->fd(), &now) == 0) {
    const std::int64_t verified = f.verified_mtime_ns.load();
    const bool modified = verified != 0 && modified_ns(now) != verified;
    const bool cut = static_cast<std::uint64_t>(now.st_size) <
                     f.meta.block_offset(req.block) + f.meta.block_length(req.block);
    if (modified || cut) {
      if (!f.changed_said.exchange(true)) {
        if (cut)
          log::error(f.data_path, ": the data file is now ", now.st_size,
                     " bytes, shorter than the ", f.meta.target_size,
                     " verified; changed by another program? Checking it again");
        else
          log::error(f.data_path,
                     ": the data file was modified after its whole-file SHA-256 was verified; "
                     "changed by another program? Checking it again");
        if (options.changed) options.changed(held);
      }
      co_return co_await refuse(c, BlockServer::not_held, PeerStatus::not_held,
                                not_held_message(req.block));
    }
  }
  // The front (first copies about in file order) only where an uplink is shared: not loopback.
  const FirstCopies::Answer copies =
      f.first_copies
          ? f.first_copies->serve(ip, req.block, FirstCopies::Clock::now(), c.shared_uplink)
          : FirstCopies::Answer{};
  if (!copies) {
    ++f.stats.asked_elsewhere;
    // Named with the blocks it would send now, so a client of ours asks for one of them next.
    // Made before the co_await: inside one, GCC 12 can destroy a conditional expression's
    // temporary twice (a double free, seen on the network lab).
    std::string message = copies.ahead ? ahead_message(req.block) : elsewhere_message(req.block);
    message += copies.hint;
    co_return co_await refuse(c, BlockServer::asked_elsewhere, PeerStatus::not_held, message);
  }

  // A first copy that does not get out is not in the swarm (FirstCopies counts it sent).
  struct Unsent {
    FirstCopies* copies;
    std::uint64_t block;
    ~Unsent() {
      if (copies) copies->not_sent(block);
    }
  } unsent{copies.first_copy ? f.first_copies.get() : nullptr, req.block};
  const std::uint64_t length = f.meta.block_length(req.block);
  // A large block's bytes take turns with the other answers' (UploadSlots); while every slot is
  // taken, a first ask is told to try other peers. Not a seed's first copy (no other peer has
  // it), nor an ask FirstCopies turned away once already.
  UploadSlots::Slot slot;
  const bool takes_turn = length >= UploadSlots::min_block && c.takes_turns;
  if (takes_turn) {
    if (!copies.first_copy && !copies.asked_again && slots.all_taken()) {
      bool first_ask = false;
      {
        std::lock_guard lock(f.busy_mutex);
        first_ask = f.told_busy.first_ask(ip, req.block, AskedOnce::Clock::now());
      }
      if (first_ask)
        co_return co_await refuse(c, BlockServer::busy, PeerStatus::not_held,
                                  busy_message(req.block) + holdings());
    }
  }
  // A block not in the page cache (evicted after its download, or a seed's file after a reboot)
  // is read in on the pool first, before it takes a slot (its stall clock would run meanwhile):
  // sendfile() would wait for the disk on this network thread, and every connection on it with
  // it. Best effort: pages still being read in count as cached (cachestat).
  const std::uint64_t base = f.meta.block_offset(req.block);
  if (use_sendfile && !f.storage->cached(base, length))
    co_await net::on_pool(pool, [&f, base, length] {
      f.storage->warm(base, length);
      return true;
    });
  const auto slot_asked_at = net::Clock::now();
  if (takes_turn) slot = co_await slots.acquire(UploadSlots::patience);
  const auto sending_since = net::Clock::now();
  // (scripts/bench/netswarm.py --trace: how long asks queue at a busy uplink.)
  if (const auto waited =
          std::chrono::duration_cast<std::chrono::milliseconds>(sending_since - slot_asked_at)
              .count();
      takes_turn && waited > 0)
    log::debug("block ", req.block, " of ", f.data_path, " for ", format_ipv4(ip), " waited ",
               waited, " ms for an upload slot", slot.held() ? "" : " (and goes without one)");
  std::array<std::uint8_t, peer_response_header_size> header{};
  encode_peer_response_header(PeerStatus::ok, length, header);
  if (!use_sendfile) {
    if (!co_await send_copied(c, f, base, length, header, chunk, slot)) co_return false;
  } else {
    bool unsupported = false;
    // Zero copy: the header, then the verified bytes straight from the page cache to the socket.
    if (co_await net::write_all(c.socket, c.deadline, asio::buffer(header), options.write_timeout))
      co_return false;
    off_t offset = static_cast<off_t>(base);
    std::uint64_t left = length;
    c.deadline.expires_after(options.write_timeout);
    while (left > 0) {
      const ssize_t n = ::sendfile(c.socket.native_handle(), f.storage->fd(), &offset,
                                   static_cast<std::size_t>(left));
      if (n > 0) {
        left -= static_cast<std::uint64_t>(n);
        co_await net::pace(options.upload, static_cast<std::uint64_t>(n));
        slot.progress();
        c.deadline.expires_after(options.write_timeout);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto [ec] = co_await c.socket.async_wait(tcp::socket::wait_write, net::nothrow);
        if (ec) co_return false;
        continue;
      }
      if (n < 0 && left == length && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        unsupported = true;  // this file system cannot sendfile(): copy instead, from now on
        break;
      }
      co_return false;  // a socket error, or the file shrank under us
    }
    if (unsupported) {
      log::warn("sendfile() is not supported for ", f.data_path, "; serving by copying");
      use_sendfile = false;
      // The header has gone out already: send the block's bytes alone.
      std::array<std::uint8_t, 0> none{};
      if (!co_await send_copied(c, f, base, length, none, chunk, slot)) co_return false;
    }
  }
  unsent.copies = nullptr;
  // One line per block sent, for following a swarm's schedule (scripts/bench/netswarm.py --trace).
  log::debug(
      "sent block ", req.block, " of ", f.data_path, " to ", format_ipv4(ip), " in ",
      std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::now() - sending_since)
          .count(),
      " ms");
  if (slot.stalled()) c.takes_turns = false;
  slot.release();
  ++f.stats.blocks_served;
  f.stats.bytes_served += length;
  f.stats.count_served(ip, length);
  co_return true;
}

}  // namespace cascade
