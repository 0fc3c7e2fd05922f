#include "proc/health_check.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace berth {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

asio::awaitable<Result<void>> probe_health(const HealthSpec& spec, std::string address,
                                           uint16_t port) {
  const std::string where = fmt::format("{}:{}", address, port);
  auto unhealthy = [&](const std::string& why) {
    return fail(Code::kUnhealthy,
                fmt::format("{} {}{}: {}", to_string(spec.kind), where,
                            spec.kind == HealthSpec::Kind::kHttp ? spec.path : "", why));
  };
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) co_return unhealthy("not an IP address");
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  // Every step shares one deadline: the check's timeout.
  stream.expires_after(spec.timeout);
  auto [cerr] = co_await stream.async_connect(asio::ip::tcp::endpoint(ip, port),
                                              asio::as_tuple(asio::use_awaitable));
  if (cerr) co_return unhealthy(cerr == beast::error::timeout ? "timed out" : cerr.message());
  if (spec.kind == HealthSpec::Kind::kTcp) co_return Result<void>{};
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, spec.path, 11};
  req.set(bhttp::field::host, where);
  req.set(bhttp::field::user_agent, "berth-health");
  req.set(bhttp::field::connection, "close");
  auto [werr, written] =
      co_await bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (werr) co_return unhealthy(werr == beast::error::timeout ? "timed out" : werr.message());
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024);
  auto [rerr, read] =
      co_await bhttp::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
  if (rerr) co_return unhealthy(rerr == beast::error::timeout ? "timed out" : rerr.message());
  const unsigned status = parser.get().result_int();
  if (status < 200 || status >= 400) co_return unhealthy(fmt::format("answered {}", status));
  co_return Result<void>{};
}

}  // namespace berth
