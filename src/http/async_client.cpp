#include "http/async_client.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

namespace berth::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

Result<Url> Url::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(Code::kBadConfig, fmt::format("\"{}\": {}", text, why));
  };
  Url u;
  std::string_view rest = text;
  if (rest.starts_with("https://")) {
    u.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return bad("expected http://HOST:PORT or https://HOST:PORT");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) u.base = std::string(rest.substr(slash));
  while (!u.base.empty() && u.base.back() == '/') u.base.pop_back();
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) return bad("expected http://HOST:PORT (the port is needed)");
  u.host = std::string(authority.substr(0, colon));
  if (u.host.starts_with('[') && u.host.ends_with(']'))
    u.host = u.host.substr(1, u.host.size() - 2);
  boost::system::error_code ec;
  asio::ip::make_address(u.host, ec);
  if (ec) return bad("the host must be an IP address");
  auto port = authority.substr(colon + 1);
  unsigned v = 0;
  auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (err != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535)
    return bad("bad port");
  u.port = static_cast<uint16_t>(v);
  return u;
}

std::string Url::str() const {
  bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}{}", tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
                     port, base);
}

void StreamHandle::cancel() {
  cancelled_ = true;
  if (close_) close_();
}

struct StreamAccess {
  static void set_close(StreamHandle& h, std::function<void()> f) { h.close_ = std::move(f); }
};

namespace {

Error unreachable(const Url& url, const std::string& what, const boost::system::error_code& ec) {
  return Error{Code::kUnreachable, fmt::format("{} {}: {}", what, url.str(), ec.message())};
}

bhttp::request<bhttp::string_body> make_request(const Url& url, const Call& call) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(call.method), url.base + call.target,
                                         11};
  req.set(bhttp::field::host, url.host + ":" + std::to_string(url.port));
  req.set(bhttp::field::user_agent, "berth");
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT")
    req.set(bhttp::field::content_type, call.content_type);
  for (auto& [k, v] : call.headers) req.set(k, v);
  req.body() = call.body;
  req.prepare_payload();
  return req;
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Connects, and over TLS shakes hands and verifies that the peer's certificate chains to the
// call's CA and names the address dialled.
asio::awaitable<Result<void>> open(beast::tcp_stream& s, const Url& url, const Call& call) {
  boost::system::error_code addr_ec;
  tcp::endpoint ep(asio::ip::make_address(url.host, addr_ec), url.port);
  if (addr_ec) co_return std::unexpected(unreachable(url, "bad address", addr_ec));
  s.expires_after(call.timeout);
  auto [cec] = co_await s.async_connect(ep, asio::as_tuple(use_awaitable));
  if (cec) co_return std::unexpected(unreachable(url, "connect to", cec));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> open(TlsStream& s, const Url& url, const Call& call) {
  BERTH_CO_TRY(co_await open(beast::get_lowest_layer(s), url, call));
  s.set_verify_mode(asio::ssl::verify_peer);
  s.set_verify_callback(asio::ssl::host_name_verification(url.host));
  beast::get_lowest_layer(s).expires_after(call.timeout);
  auto [ec] =
      co_await s.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable));
  if (ec) co_return std::unexpected(unreachable(url, "TLS handshake with", ec));
  co_return Result<void>{};
}

// Connects and writes the request; the stream is then ready for the reply.
template <class Stream>
asio::awaitable<Result<void>> open_and_send(Stream& s, const Url& url, const Call& call) {
  BERTH_CO_TRY(co_await open(s, url, call));
  auto req = make_request(url, call);
  beast::get_lowest_layer(s).expires_after(call.timeout);
  auto [wec, wn] = co_await bhttp::async_write(s, req, asio::as_tuple(use_awaitable));
  if (wec) co_return std::unexpected(unreachable(url, "send to", wec));
  co_return Result<void>{};
}

Result<void> check_tls(const Url& url, const Call& call) {
  if (url.tls && !call.tls)
    return fail(Code::kBadConfig, url.str() + ": https needs a CA to verify it with (cluster.ca)");
  return {};
}

template <class Stream>
asio::awaitable<Result<Reply>> send_on(Stream& s, const Url& url, const Call& call) {
  BERTH_CO_TRY(co_await open_and_send(s, url, call));
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  beast::get_lowest_layer(s).expires_after(call.timeout);
  auto [ec, n] = co_await bhttp::async_read(s, buf, parser, asio::as_tuple(use_awaitable));
  if (ec) co_return std::unexpected(unreachable(url, "read the reply of", ec));
  boost::system::error_code ignored;
  beast::get_lowest_layer(s).socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return Reply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

template <class Stream>
asio::awaitable<Result<Reply>> stream_on(Stream& s, const Url& url, const Call& call,
                                         const std::function<bool(std::string_view)>& on_data,
                                         StreamHandle& handle) {
  StreamAccess::set_close(handle, [&s] {
    boost::system::error_code ignored;
    beast::get_lowest_layer(s).socket().close(ignored);
  });
  struct Unset {  // the handle must not reach this stream once it is gone
    StreamHandle& h;
    ~Unset() { StreamAccess::set_close(h, nullptr); }
  } unset{handle};
  if (handle.cancelled()) co_return fail(Code::kCancelled, "cancelled");
  BERTH_CO_TRY(co_await open_and_send(s, url, call));
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  beast::get_lowest_layer(s).expires_after(call.timeout);
  auto [hec, hn] = co_await bhttp::async_read_header(s, buf, parser, asio::as_tuple(use_awaitable));
  if (hec) co_return std::unexpected(unreachable(url, "read the reply of", hec));
  beast::get_lowest_layer(s).expires_never();
  Reply reply{static_cast<int>(parser.get().result_int()), ""};
  const bool ok = reply.status / 100 == 2;
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    // read_some: a quiet stream's small chunk must come out now, not once 16 KiB have arrived.
    auto [ec, n] = co_await bhttp::async_read_some(s, buf, parser, asio::as_tuple(use_awaitable));
    if (ec == bhttp::error::need_buffer) ec = {};
    const size_t got = sizeof chunk - parser.get().body().size;
    if (handle.cancelled()) co_return fail(Code::kCancelled, "cancelled");
    if (ec) co_return std::unexpected(unreachable(url, "read the stream of", ec));
    if (got == 0) continue;
    if (!ok) {
      reply.body.append(chunk, got);
    } else if (!on_data(std::string_view(chunk, got))) {
      break;
    }
  }
  co_return reply;
}

}  // namespace

asio::awaitable<Result<Reply>> send(asio::any_io_executor ex, const Url& url, const Call& call) {
  BERTH_CO_TRY(check_tls(url, call));
  if (!url.tls) {
    beast::tcp_stream s(ex);
    co_return co_await send_on(s, url, call);
  }
  TlsStream s(ex, *call.tls);
  co_return co_await send_on(s, url, call);
}

asio::awaitable<Result<Reply>> stream(asio::any_io_executor ex, const Url& url, const Call& call,
                                      std::function<bool(std::string_view)> on_data,
                                      std::shared_ptr<StreamHandle> handle) {
  BERTH_CO_TRY(check_tls(url, call));
  if (!url.tls) {
    beast::tcp_stream s(ex);
    co_return co_await stream_on(s, url, call, on_data, *handle);
  }
  TlsStream s(ex, *call.tls);
  co_return co_await stream_on(s, url, call, on_data, *handle);
}

}  // namespace berth::http
