// The HTTP/1.1 server on Boost.Beast: accept loop, one coroutine per connection, keep-alive,
// header and body limits, a deadline on every read and write, and server-sent-event streams; plain
// or TLS. Floods cannot take it down: connections are capped below the fd limit (the excess gets a
// 503 at once), a connection that has not proven its token gets a short deadline and no
// keep-alive, and running out of descriptors sheds one pending connection through a reserved
// fd and backs off instead of spinning. Everything runs on the io_context's thread.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <optional>

#include "core/error.h"
#include "core/unique_fd.h"
#include "http/router.h"
#include "http/tls.h"

namespace berth::http {

struct ServerLimits {
  uint32_t header_limit = 16 * 1024;
  uint64_t body_limit = 1024 * 1024;
  uint64_t upload_limit = 1ULL << 30;        // streamed uploads (deploy payloads)
  std::chrono::milliseconds header{10'000};  // a request head from a not (yet) trusted client
  std::chrono::milliseconds idle{60'000};    // a trusted keep-alive connection with no request
  std::chrono::milliseconds io{30'000};      // one request body read or one response write
  size_t max_connections = 0;  // 0: half the RLIMIT_NOFILE soft limit (set it below that limit)
};

class Server {
 public:
  using Gate = std::function<Verdict(const Request&)>;
  // With `tls`, every connection is TLS (the handshake under the head's deadline); else plain.
  Server(boost::asio::io_context& io, const Router& router, Gate gate, ServerLimits limits,
         TlsContext tls = nullptr);

  // Binds and starts accepting; returns the bound port (useful with port 0).
  Result<uint16_t> listen(const std::string& address, uint16_t port);
  // Stops accepting new connections.
  void close();
  size_t open_connections() const { return open_; }
  size_t max_connections() const { return limits_.max_connections; }

 private:
  boost::asio::awaitable<void> accept_loop();
  // Out of descriptors: frees the reserved fd to accept and close one waiting connection (so a
  // flood does not sit in the backlog forever), then takes the reserve again.
  void shed_one();
  // Over the connection cap: a canned 503 without reading anything, then close.
  void refuse(boost::asio::ip::tcp::socket& sock) const;
  // Counts the connection, does the TLS handshake when serving TLS, then serves it.
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket sock);
  // The request loop, on a plain or a TLS stream.
  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& stream);
  // Runs the route's handler; an exception becomes a 500 `internal`.
  boost::asio::awaitable<Response> call(const Router::Route& route, Request& req, BodyReader* body);

  boost::asio::io_context& io_;
  const Router& router_;
  Gate gate_;
  ServerLimits limits_;
  TlsContext tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  UniqueFd reserve_;  // an fd kept back for shed_one()
  size_t open_ = 0;   // sessions running now
};

}  // namespace berth::http
