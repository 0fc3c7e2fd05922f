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

// What arrives is passed on at once: a relay holding small writes back adds latency.
void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Begins a non-blocking connection to `to` in `up`: 0 once connected, EINPROGRESS while under
// way, or why it failed (then `up` is closed). On loopback the handshake is over when connect()
// returns, or it is refused at once, so a zero poll nearly always settles it.
int begin_connect(const tcp::endpoint& to, UniqueFd& up) {
  up = UniqueFd(::socket(to.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!up) return errno;
  no_delay(up.get());
  int err = ::connect(up.get(), to.data(), static_cast<socklen_t>(to.size())) == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{up.get(), POLLOUT, 0};
    const int ready = ::poll(&p, 1, 0);
    if (ready == 0) return EINPROGRESS;
    socklen_t len = sizeof err;
    if (ready == 1 && p.revents == POLLOUT)  // connected, and nothing went wrong
      err = 0;
    else if (::getsockopt(up.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0)
      err = ECONNREFUSED;
  }
  if (err != 0) up.reset();
  return err;
}

std::optional<tcp::endpoint> endpoint_of(const ServeProxy::Backend& b) {
  boost::system::error_code bad;
  auto ip = asio::ip::make_address(b.address, bad);
  if (bad) return std::nullopt;
  return tcp::endpoint(ip, b.port);
}

}  // namespace

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
  auto relays = RelayLoop::create(ex, [raw = p.get()](const std::string& b) { raw->answered(b); });
  if (!relays) return std::unexpected(relays.error());
  p->relays_ = std::move(*relays);
  boost::system::error_code ec;
  p->acceptor_.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd.release(), ec);
  if (ec) return fail(Code::kSpawnFailed, "[serve] proxy: " + ec.message());
  asio::co_spawn(ex, p->accept_loop(), asio::detached);
  return p;
}

ServeProxy::Stats ServeProxy::stats() const {
  Stats s = stats_;
  s.active += relays_->size();
  return s;
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
  while (!closed_) {
    auto [waited] = co_await acceptor_.async_wait(tcp::acceptor::wait_read, use_tuple);
    if (closed_ || waited == asio::error::operation_aborted) co_return;
    // Every connection waiting, one wake-up for all: under a flood of short connections the
    // loop then costs a syscall per connection, not an event-loop round each.
    for (;;) {
      UniqueFd client(
          ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!client) {
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
      no_delay(client.get());
      // The instance whose turn it is, if it connects at once (nearly always, on loopback);
      // else the connection tries them all, and waits.
      if (!backends_.empty()) {
        const Backend& b = backends_[next_ % backends_.size()];
        UniqueFd up;
        if (auto to = endpoint_of(b); to && begin_connect(*to, up) == 0) {
          ++next_;
          relay(std::move(client), std::move(up), b);
          continue;
        }
      }
      asio::co_spawn(ex_, connect_later(std::move(client)), asio::detached);
    }
  }
}

void ServeProxy::relay(UniqueFd client, UniqueFd up, const Backend& b) {
  std::string key = b.str();
  ++unanswered_[key];
  relays_->add(std::move(client), std::move(up), std::move(key), shared_from_this());
}

void ServeProxy::answered(const std::string& backend) {
  if (auto it = unanswered_.find(backend); it != unanswered_.end() && --it->second == 0)
    unanswered_.erase(it);
  changed_.notify_all();
}

// The deadline is kConnectTimeout: a listener whose backlog is full drops the SYN.
asio::awaitable<int> ServeProxy::connected(UniqueFd& up, int family) {
  boost::system::error_code ec;
  tcp::socket waiting(ex_);
  waiting.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), up.get(), ec);
  if (ec) {
    up.reset();
    co_return ec.value();
  }
  up.release();  // the socket has it until the wait is over
  asio::steady_timer deadline(ex_, kConnectTimeout);
  // The deadline cancels the wait only while it is under way.
  auto under_way = std::make_shared<bool>(true);
  deadline.async_wait([&waiting, under_way](boost::system::error_code e) {
    if (!e && *under_way) waiting.cancel();
  });
  auto [waited] = co_await waiting.async_wait(tcp::socket::wait_write, use_tuple);
  *under_way = false;
  deadline.cancel();
  up = UniqueFd(waiting.release(ec));
  int err = 0;
  socklen_t len = sizeof err;
  if (waited)
    err = waited == asio::error::operation_aborted ? ETIMEDOUT : waited.value();
  else if (::getsockopt(up.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  if (err != 0) up.reset();
  co_return err;
}

asio::awaitable<void> ServeProxy::connect_later(UniqueFd client) {
  auto self = shared_from_this();
  ++stats_.active;  // until it is relayed or dropped
  // To the instance serving now; with none, or one that refuses (it is going away, or not
  // listening yet), wait for the next, up to kBackendWait in all.
  const auto give_up = StateEvent::Clock::now() + kBackendWait;
  size_t refused = 0;  // in a row, since the last pause
  for (;;) {
    const std::function<bool()> have = [this] { return closed_ || !backends_.empty(); };
    if (backends_.empty() || closed_)
      if (!co_await changed_.wait_until(have, give_up) || closed_) break;
    // In turn: the kernel's accept queue is one line, the instances behind it take turns.
    const Backend b = backends_[next_++ % backends_.size()];
    const uint64_t seen = generation_;
    const auto to = endpoint_of(b);
    if (!to) break;
    UniqueFd up;
    int err = begin_connect(*to, up);
    if (err == EINPROGRESS) err = co_await connected(up, to->protocol().family());
    if (err == 0) {
      --stats_.active;
      relay(std::move(client), std::move(up), b);
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
  close_with_reset(std::move(client));
}

}  // namespace berth
