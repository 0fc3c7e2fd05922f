// [serve] proxy mode: berth accepts on the component's socket and connects each connection to an
// instance serving now, in turn, then hands both to its RelayLoop, so an app that binds its own
// port restarts with no refused or dropped connection. Owns its acceptor (its own descriptor of
// the socket), the connections still waiting for an instance, and the relays; runs on the
// event-loop thread.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/state_event.h"
#include "core/unique_fd.h"
#include "proc/listen_socket.h"
#include "proc/relay_loop.h"

namespace berth {

class ServeProxy : public std::enable_shared_from_this<ServeProxy> {
 public:
  struct Backend {
    std::string address;
    uint16_t port = 0;
    std::string str() const;
    bool operator==(const Backend&) const = default;
  };
  struct Stats {
    uint64_t accepted = 0;  // connections taken from the socket
    uint64_t dropped = 0;   // closed unrelayed: no instance took them within kBackendWait
    size_t active = 0;      // relaying, or waiting for an instance
  };
  // A connection waits this long for an instance that accepts it (a restart that is not
  // overlapped, a crash and its backoff) before it is closed.
  static constexpr std::chrono::seconds kBackendWait{30};
  static constexpr std::chrono::seconds kConnectTimeout{5};

  // Accepts on `socket` from now on. Refusal: spawn_failed (no descriptor to spare).
  static Result<std::shared_ptr<ServeProxy>> start(boost::asio::any_io_executor ex,
                                                   std::shared_ptr<ListenSocket> socket);
  ServeProxy(const ServeProxy&) = delete;
  ServeProxy& operator=(const ServeProxy&) = delete;

  // New connections go to these from now on, one after the other (a refusing one is skipped for
  // the next); with none, they wait for one (up to kBackendWait). Relays already under way stay
  // where they are.
  void set_backends(std::vector<Backend> serving);
  const std::vector<Backend>& backends() const { return backends_; }
  // Completes once every connection relayed to `b` has had a first byte of answer or has ended
  // (so the instance accepted each one: only then may it close its listener without dropping
  // what waits in its backlog), or once `limit` has passed.
  boost::asio::awaitable<void> settled(Backend b, std::chrono::milliseconds limit);
  // Stops accepting (the socket's port is then held by the ListenSocket alone) and closes the
  // connections still waiting for an instance; relays under way run to their end.
  void close();
  Stats stats() const;

 private:
  ServeProxy(boost::asio::any_io_executor ex, std::shared_ptr<ListenSocket> socket);
  boost::asio::awaitable<void> accept_loop();
  // A connection that found no instance at once: it tries each in turn, and waits for one.
  boost::asio::awaitable<void> connect_later(UniqueFd client);
  // Waits for a connection begun under way in `up`: 0, or why it failed.
  boost::asio::awaitable<int> connected(UniqueFd& up, int family);
  void relay(UniqueFd client, UniqueFd up, const Backend& b);
  void answered(const std::string& backend);

  boost::asio::any_io_executor ex_;
  std::shared_ptr<ListenSocket> socket_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<Backend> backends_;
  size_t next_ = 0;                           // whose turn it is
  uint64_t generation_ = 0;                   // changes of backends_
  std::map<std::string, size_t> unanswered_;  // per backend: relays with no answer byte yet
  std::unique_ptr<RelayLoop> relays_;
  Stats stats_;  // `active` counts the waiting ones only
  bool closed_ = false;
  StateEvent changed_;  // a backend set, an answer, a close
};

}  // namespace berth
