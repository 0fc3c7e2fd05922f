#include "proc/serve_proxy.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

#include "core/unique_fd.h"

namespace berth {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kChunk = 1 << 16;  // a pipe's default capacity
constexpr size_t kCopy = 16 << 10;  // a read this full means a bulk stream

// The other side learns of an error as an error (a reset), not as a clean end of the stream
// that would pass a cut-off answer for a whole one.
void reset(tcp::socket& s) {
  boost::system::error_code ec;
  if (!s.is_open()) return;
  s.set_option(asio::socket_base::linger(true, 0), ec);
  s.close(ec);
}

}  // namespace

struct ServeProxy::Conn {
  explicit Conn(tcp::socket c, asio::any_io_executor ex) : client(std::move(c)), up(ex) {}
  tcp::socket client, up;
  std::string backend;   // where `up` goes
  bool counted = false;  // in unanswered_[backend] until its first answer byte or its end
  int pumps = 0;         // directions still running: the last one to end closes both
};

std::string ServeProxy::Backend::str() const {
  return address.find(':') == std::string::npos ? address + ":" + std::to_string(port)
                                                : "[" + address + "]:" + std::to_string(port);
}

ServeProxy::ServeProxy(asio::any_io_executor ex, std::shared_ptr<ListenSocket> socket)
    : ex_(ex), socket_(std::move(socket)), acceptor_(ex), changed_(ex) {}

Result<std::shared_ptr<ServeProxy>> ServeProxy::start(asio::any_io_executor ex,
                                                      std::shared_ptr<ListenSocket> socket) {
  // A descriptor of its own: closing the acceptor never closes the one the socket owns.
  UniqueFd fd(::fcntl(socket->fd(), F_DUPFD_CLOEXEC, 0));
  if (!fd) return fail(Code::kSpawnFailed, errno_message("[serve] proxy: dup", errno));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  std::shared_ptr<ServeProxy> p(new ServeProxy(ex, std::move(socket)));
  boost::system::error_code ec;
  p->acceptor_.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd.release(), ec);
  if (ec) return fail(Code::kSpawnFailed, "[serve] proxy: " + ec.message());
  asio::co_spawn(ex, p->accept_loop(), asio::detached);
  return p;
}

void ServeProxy::set_backends(std::vector<Backend> serving) {
  if (serving == backends_) return;
  backends_ = std::move(serving);
  ++generation_;
  changed_.notify_all();
}

void ServeProxy::close() {
  closed_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  changed_.notify_all();
}

asio::awaitable<void> ServeProxy::settled(Backend b, std::chrono::milliseconds limit) {
  auto self = shared_from_this();
  const std::string key = b.str();
  const std::function<bool()> quiet = [this, &key] {
    auto it = unanswered_.find(key);
    return closed_ || it == unanswered_.end() || it->second == 0;
  };
  co_await changed_.wait_until(quiet, StateEvent::Clock::now() + limit);
}

asio::awaitable<void> ServeProxy::accept_loop() {
  auto self = shared_from_this();
  auto backoff = std::chrono::milliseconds(10);
  boost::system::error_code ec;
  acceptor_.native_non_blocking(true, ec);
  const auto protocol = acceptor_.local_endpoint(ec).protocol();
  while (!closed_) {
    auto [waited] = co_await acceptor_.async_wait(tcp::acceptor::wait_read, use_tuple);
    if (closed_ || waited == asio::error::operation_aborted) co_return;
    // Every connection waiting, one wake-up for all: under a flood of short connections the
    // loop then costs a syscall per connection, not an event-loop round each.
    for (;;) {
      const int fd =
          ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        // Out of descriptors (EMFILE/ENFILE): the connection waits in the backlog meanwhile,
        // and is taken again after the pause (no new readiness event may come for it).
        spdlog::warn("[serve] proxy: accept: {}; backing off", std::strerror(errno));
        asio::steady_timer t(ex_, backoff);
        co_await t.async_wait(use_tuple);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        if (closed_) co_return;
        continue;
      }
      backoff = std::chrono::milliseconds(10);
      ++stats_.accepted;
      // What arrives is passed on at once: a relay holding small writes back adds latency.
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      tcp::socket sock(ex_);
      sock.assign(protocol, fd, ec);
      if (ec) {
        ::close(fd);
        continue;
      }
      asio::co_spawn(ex_, relay(std::move(sock)), asio::detached);
    }
  }
}

void ServeProxy::answered(Conn& c) {
  if (!c.counted) return;
  c.counted = false;
  if (auto it = unanswered_.find(c.backend); it != unanswered_.end() && --it->second == 0)
    unanswered_.erase(it);
  changed_.notify_all();
}

// A connection to `to`, non-blocking and without delay. On loopback the handshake is over
// when connect() returns (or it is refused at once), so the event loop is asked only when it
// is not, with kConnectTimeout as the deadline (a listener whose backlog is full drops the SYN).
asio::awaitable<boost::system::error_code> ServeProxy::connect(tcp::socket& up,
                                                               const tcp::endpoint& to) {
  boost::system::error_code ec;
  const int fd = ::socket(to.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return boost::system::error_code(errno, boost::system::system_category());
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  up.assign(to.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    co_return ec;
  }
  int err = ::connect(fd, to.data(), static_cast<socklen_t>(to.size())) == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, 0);
    if (ready == 1 && p.revents == POLLOUT) err = 0;  // connected, and nothing went wrong
    if (ready == 0) {  // still under way: wait for it, up to the deadline
      // The deadline cancels the wait only while it is under way: a deadline that fired as the
      // connect completed must not cancel what the relay waits for next on `up`.
      auto waiting = std::make_shared<bool>(true);
      asio::steady_timer deadline(ex_, kConnectTimeout);
      deadline.async_wait([&up, waiting](boost::system::error_code e) {
        if (!e && *waiting) up.cancel();
      });
      auto [waited] = co_await up.async_wait(tcp::socket::wait_write, use_tuple);
      *waiting = false;
      deadline.cancel();
      if (waited) err = waited == asio::error::operation_aborted ? ETIMEDOUT : waited.value();
    }
    socklen_t len = sizeof err;
    if (err == EINPROGRESS && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  }
  if (err != 0) {
    up.close(ec);
    co_return boost::system::error_code(err, boost::system::system_category());
  }
  co_return boost::system::error_code{};
}

asio::awaitable<void> ServeProxy::relay(tcp::socket client) {
  auto self = shared_from_this();
  auto c = std::make_shared<Conn>(std::move(client), ex_);
  ++stats_.active;  // until finish(), or a drop here

  // Connect: to the instance serving now; with none, or one that refuses (it is going away, or
  // not listening yet), wait for the next, up to kBackendWait in all.
  const auto give_up = StateEvent::Clock::now() + kBackendWait;
  size_t refused = 0;  // in a row, since the last pause
  for (;;) {
    const std::function<bool()> have = [this] { return closed_ || !backends_.empty(); };
    if (backends_.empty() || closed_)
      if (!co_await changed_.wait_until(have, give_up) || closed_) break;
    // In turn: the kernel's accept queue is one line, the instances behind it take turns.
    const Backend b = backends_[next_++ % backends_.size()];
    const uint64_t seen = generation_;
    boost::system::error_code bad;
    auto ip = asio::ip::make_address(b.address, bad);
    if (bad) break;
    auto ec = co_await connect(c->up, tcp::endpoint(ip, b.port));
    if (!ec) {
      c->backend = b.str();
      c->counted = true;
      ++unanswered_[c->backend];
      c->pumps = 2;
      asio::co_spawn(ex_, pump(c, true), asio::detached);
      asio::co_spawn(ex_, pump(c, false), asio::detached);
      co_return;
    }
    if (StateEvent::Clock::now() >= give_up) break;
    // Each one in the list is tried once; then a pause until it changes, or a little while
    // (they may be about to listen).
    if (++refused < backends_.size()) continue;
    refused = 0;
    const std::function<bool()> moved = [this, seen] { return closed_ || generation_ != seen; };
    co_await changed_.wait_until(moved, StateEvent::Clock::now() + std::chrono::milliseconds(20));
  }
  ++stats_.dropped;
  --stats_.active;
  reset(c->client);
}

void ServeProxy::finish(Conn& c) {
  answered(c);
  boost::system::error_code ec;
  c.client.close(ec);
  c.up.close(ec);
  --stats_.active;
}

asio::awaitable<void> ServeProxy::pump(std::shared_ptr<Conn> c, bool answer) {
  auto self = shared_from_this();
  struct Done {
    ServeProxy& p;
    Conn& c;
    ~Done() {
      if (--c.pumps == 0) p.finish(c);
    }
  } done{*this, *c};
  tcp::socket& from = answer ? c->up : c->client;
  tcp::socket& to = answer ? c->client : c->up;
  // Small messages (requests, most answers) are copied through a buffer: a pipe per direction
  // would cost a connection more than it saves it. A read that fills the buffer means a bulk
  // stream: from then on it is spliced through a pipe, never entering user space.
  std::vector<char> buf(kCopy);
  UniqueFd pipe_out, pipe_in;
  const unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  for (;;) {
    if (!from.is_open() || !to.is_open()) co_return;  // the other direction failed
    const bool spliced = static_cast<bool>(pipe_in);
    const ssize_t n =
        spliced ? ::splice(from.native_handle(), nullptr, pipe_in.get(), nullptr, kChunk, flags)
                : ::read(from.native_handle(), buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      auto [ec] = co_await from.async_wait(tcp::socket::wait_read, use_tuple);
      if (ec) break;
      continue;
    }
    if (n < 0) break;  // reset by its peer
    if (n == 0) {      // its end: the other side sees the same
      // When the other direction has ended already, finish() closes `to` at once, and the
      // close sends the same FIN: a shutdown first would be one more syscall per connection.
      boost::system::error_code ec;
      if (c->pumps > 1) to.shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    if (answer) answered(*c);
    bool failed = false;
    for (size_t sent = 0; sent < static_cast<size_t>(n) && !failed;) {
      if (!to.is_open()) co_return;
      const size_t left = static_cast<size_t>(n) - sent;
      const ssize_t m =
          spliced ? ::splice(pipe_out.get(), nullptr, to.native_handle(), nullptr, left, flags)
                  : ::send(to.native_handle(), buf.data() + sent, left, MSG_NOSIGNAL);
      if (m > 0) {
        sent += static_cast<size_t>(m);
      } else if (m < 0 && (errno == EAGAIN || errno == EINTR)) {
        auto [ec] = co_await to.async_wait(tcp::socket::wait_write, use_tuple);
        failed = static_cast<bool>(ec);
      } else {
        failed = true;
      }
    }
    if (failed) break;
    if (!spliced && static_cast<size_t>(n) == buf.size()) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {  // else it goes on copying
        pipe_out = UniqueFd(fds[0]);
        pipe_in = UniqueFd(fds[1]);
      }
    }
  }
  reset(c->client);
  reset(c->up);
}

}  // namespace berth
