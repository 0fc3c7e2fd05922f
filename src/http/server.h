// The HTTP/1.1 server on Boost.Beast: accept loop, one coroutine per connection, keep-alive,
// header and body limits, a deadline on every read and write, and server-sent-event streams.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <optional>

#include "core/error.h"
#include "http/router.h"

namespace berth::http {

struct ServerLimits {
  uint32_t header_limit = 16 * 1024;
  uint64_t body_limit = 1024 * 1024;
  uint64_t upload_limit = 1ULL << 30;  // streamed uploads (deploy payloads)
  std::chrono::seconds idle{60};       // keep-alive connection with no request
  std::chrono::seconds io{30};         // one request read or one response write
};

class Server {
 public:
  // `gate` runs before routing (authentication); a response it returns is sent instead.
  using Gate = std::function<std::optional<Response>(const Request&)>;
  Server(boost::asio::io_context& io, const Router& router, Gate gate, ServerLimits limits);

  // Binds and starts accepting; returns the bound port (useful with port 0).
  Result<uint16_t> listen(const std::string& address, uint16_t port);
  // Stops accepting new connections.
  void close();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket sock);
  // Runs the route's handler; an exception becomes a 500 `internal`.
  boost::asio::awaitable<Response> call(const Router::Route& route, Request& req, BodyReader* body);

  boost::asio::io_context& io_;
  const Router& router_;
  Gate gate_;
  ServerLimits limits_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace berth::http
