#include "proc/relay_loop.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>

namespace berth {
namespace asio = boost::asio;

namespace {
constexpr size_t kChunk = 1 << 16;  // a pipe's default capacity
constexpr size_t kCopy = 16 << 10;  // a read this full means a bulk stream
constexpr int kBatch = 64;          // events taken from the set at a time
}  // namespace

void close_with_reset(UniqueFd fd) {
  if (!fd) return;
  const linger now{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &now, sizeof now);
}

// One socket of a relay. A socket just accepted or connected has room to write; whether it has
// something to read, the set says (a registration reports what is already there). Any change
// after the set reported a socket is reported again, so a short read or write means there is no
// more for now, except for an end that was there at the report (`closing`): the read after the
// data is the one that sees it. Room to write is asked of the set only once a write found none
// (`out_asked`): asked from the start, every half close and every acknowledgement after a full
// buffer would wake the loop for a socket with nothing to send.
struct RelayLoop::End {
  Relay* relay = nullptr;
  UniqueFd fd;
  bool readable = false;
  bool writable = true;
  bool closing = false;    // its peer has ended (or failed): read until the end
  bool out_asked = false;  // registered for EPOLLOUT too
};

// One direction. Small messages (requests, most answers) are copied: a pipe per direction
// would cost a connection more than it saves it. A read that fills the buffer means a bulk
// stream: from then on it is spliced through a pipe, never entering user space.
struct RelayLoop::Flow {
  std::string pending;         // copied, not yet taken by the other end
  UniqueFd pipe_out, pipe_in;  // spliced: what the pipe holds, not yet taken
  size_t piped = 0;
  bool ended = false;  // its source reached its end
  bool told = false;   // ...and the other end was told
};

struct RelayLoop::Relay {
  End client, up;
  Flow request, answer;
  std::string backend;
  bool counted = true;  // answered_ not yet called
  bool over = false;
};

RelayLoop::RelayLoop(asio::any_io_executor ex, UniqueFd set, Answered answered)
    : ex_(ex), set_(ex, set.release()), answered_(std::move(answered)), scratch_(kCopy) {}

RelayLoop::~RelayLoop() = default;

Result<std::unique_ptr<RelayLoop>> RelayLoop::create(asio::any_io_executor ex, Answered answered) {
  UniqueFd set(::epoll_create1(EPOLL_CLOEXEC));
  if (!set) return fail(Code::kSpawnFailed, errno_message("[serve] proxy: epoll_create1", errno));
  return std::unique_ptr<RelayLoop>(new RelayLoop(ex, std::move(set), std::move(answered)));
}

void RelayLoop::add(UniqueFd client, UniqueFd up, std::string backend, std::shared_ptr<void> keep) {
  auto r = std::make_unique<Relay>();
  r->client.relay = r->up.relay = r.get();
  r->client.fd = std::move(client);
  r->up.fd = std::move(up);
  r->backend = std::move(backend);
  for (End* e : {&r->client, &r->up}) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = e;
    if (::epoll_ctl(set_.native_handle(), EPOLL_CTL_ADD, e->fd.get(), &ev) != 0) {
      spdlog::warn("[serve] proxy: epoll_ctl: {}", std::strerror(errno));
      answered_(r->backend);
      close_with_reset(std::move(r->client.fd));
      close_with_reset(std::move(r->up.fd));
      return;
    }
  }
  relays_.emplace(r.get(), std::move(r));
  if (running_) return;
  running_ = true;
  asio::co_spawn(ex_, run(std::move(keep)), asio::detached);
}

asio::awaitable<void> RelayLoop::run([[maybe_unused]] std::shared_ptr<void> keep) {
  std::array<epoll_event, kBatch> events;
  for (;;) {
    // Everything ready now, before waiting: the set's descriptor is edge-triggered in the event
    // loop, so what became ready while nobody waited gives no new edge.
    for (int n = kBatch; n == kBatch;) {
      n = ::epoll_wait(set_.native_handle(), events.data(), kBatch, 0);
      if (n < 0 && errno == EINTR) n = kBatch;
      for (int i = 0; i < n; ++i) handle(events[i]);
      ended_.clear();
    }
    if (relays_.empty()) break;  // the next add() starts it again
    auto [ec] = co_await set_.async_wait(asio::posix::descriptor::wait_read,
                                         asio::as_tuple(asio::use_awaitable));
    if (ec) break;
  }
  running_ = false;
}

void RelayLoop::handle(const epoll_event& e) {
  End& side = *static_cast<End*>(e.data.ptr);
  Relay& r = *side.relay;
  if (r.over) return;  // ended earlier in this batch
  // An error or a hang-up: the next read or write says which.
  if (e.events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) side.readable = true;
  if (e.events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) side.closing = true;
  if (e.events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) side.writable = true;
  if (!flow(r, r.request, r.client, r.up) || !flow(r, r.answer, r.up, r.client))
    end(r, true);
  else if (r.request.told && r.answer.told)
    end(r, false);
}

bool RelayLoop::full(End& to) {
  to.writable = false;
  if (to.out_asked) return true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &to;
  // Re-registered, the socket is reported at once if it has room again already.
  if (::epoll_ctl(set_.native_handle(), EPOLL_CTL_MOD, to.fd.get(), &ev) != 0) return false;
  to.out_asked = true;
  return true;
}

bool RelayLoop::flush(Flow& f, End& to) {
  while (!f.pending.empty() || f.piped > 0) {
    if (!to.writable) return true;
    const ssize_t m = f.piped > 0
                          ? ::splice(f.pipe_out.get(), nullptr, to.fd.get(), nullptr, f.piped,
                                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                          : ::send(to.fd.get(), f.pending.data(), f.pending.size(), MSG_NOSIGNAL);
    if (m < 0 && errno == EINTR) continue;
    if (m < 0 && errno == EAGAIN) return full(to);
    if (m <= 0) return false;
    const size_t asked = f.piped > 0 ? f.piped : f.pending.size();
    if (static_cast<size_t>(m) < asked && !full(to)) return false;
    if (f.piped > 0)
      f.piped -= static_cast<size_t>(m);
    else
      f.pending.erase(0, static_cast<size_t>(m));
  }
  return true;
}

bool RelayLoop::flow(Relay& r, Flow& f, End& from, End& to) {
  for (;;) {
    if (!flush(f, to)) return false;
    if (!f.pending.empty() || f.piped > 0) return true;  // `to` is full: its room wakes this
    if (f.ended) {
      // Its end, passed on. When the other direction has ended already, both are closed next,
      // and the close sends the same FIN: a shutdown first would be one more syscall.
      Flow& other = &f == &r.request ? r.answer : r.request;
      if (!f.told && !other.told) ::shutdown(to.fd.get(), SHUT_WR);
      f.told = true;
      return true;
    }
    if (!from.readable) return true;
    const ssize_t n = f.pipe_in ? ::splice(from.fd.get(), nullptr, f.pipe_in.get(), nullptr, kChunk,
                                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                                : ::read(from.fd.get(), scratch_.data(), scratch_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      from.readable = false;
      return true;
    }
    if (n < 0) return false;  // reset by its peer
    if (n == 0) {
      f.ended = true;
      continue;
    }
    if (&f == &r.answer) answered(r);
    if (static_cast<size_t>(n) < scratch_.size() && !f.pipe_in && !from.closing)
      from.readable = false;
    if (f.pipe_in) {
      f.piped = static_cast<size_t>(n);
      continue;
    }
    // Sent on at once; what the other end has no room for waits in `pending`.
    size_t sent = 0;
    if (to.writable) {
      const ssize_t m = ::send(to.fd.get(), scratch_.data(), static_cast<size_t>(n), MSG_NOSIGNAL);
      if (m < 0 && errno != EAGAIN && errno != EINTR) return false;
      sent = m > 0 ? static_cast<size_t>(m) : 0;
      if ((m >= 0 ? sent < static_cast<size_t>(n) : errno == EAGAIN) && !full(to)) return false;
    }
    f.pending.assign(scratch_.data() + sent, static_cast<size_t>(n) - sent);
    if (static_cast<size_t>(n) == scratch_.size()) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {  // else it goes on copying
        f.pipe_out = UniqueFd(fds[0]);
        f.pipe_in = UniqueFd(fds[1]);
      }
    }
  }
}

void RelayLoop::answered(Relay& r) {
  if (!r.counted) return;
  r.counted = false;
  answered_(r.backend);
}

// Closing a socket takes it out of the set. The relay itself is freed after the batch.
void RelayLoop::end(Relay& r, bool reset) {
  answered(r);
  r.over = true;
  if (reset) {
    close_with_reset(std::move(r.client.fd));
    close_with_reset(std::move(r.up.fd));
  }
  r.client.fd.reset();
  r.up.fd.reset();
  auto node = relays_.extract(&r);
  ended_.push_back(std::move(node.mapped()));
}

}  // namespace berth
