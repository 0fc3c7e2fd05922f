#include "http/client.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <vector>

#include "core/unique_fd.h"

namespace berth::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

// Runs one coroutine to completion on a private io_context.
template <class T>
T run_sync(asio::awaitable<T> aw) {
  asio::io_context io;
  std::optional<T> out;
  std::exception_ptr err;
  asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
    err = e;
    if (!e) out = std::move(v);
  });
  io.run();
  if (err) std::rethrow_exception(err);
  return std::move(*out);
}

template <class Body = bhttp::string_body>
bhttp::request<Body> make_request(const std::string& method, const std::string& target,
                                  const std::string& host, const std::string& token) {
  bhttp::request<Body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, host);
  req.set(bhttp::field::user_agent, "berth-cli");
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  return req;
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

asio::awaitable<Result<void>> open_connection(beast::tcp_stream& stream, const std::string& host,
                                              uint16_t port, std::chrono::milliseconds timeout) {
  stream.expires_after(timeout);
  tcp::endpoint ep(asio::ip::make_address(host), port);
  auto [ec] = co_await stream.async_connect(ep, asio::as_tuple(use_awaitable));
  if (ec)
    co_return fail(Code::kDaemonUnreachable, "cannot connect to berth at " + host + ":" +
                                                 std::to_string(port) + ": " + ec.message());
  co_return Result<void>{};
}

// Connects (over TLS: shakes hands and verifies the certificate), then runs `op` on the stream.
template <class Op>
asio::awaitable<Result<ClientResponse>> on_connection(const std::string& host, uint16_t port,
                                                      const TlsContext& tls,
                                                      std::chrono::milliseconds timeout, Op& op) {
  auto ex = co_await asio::this_coro::executor;
  if (!tls) {
    beast::tcp_stream stream(ex);
    BERTH_CO_TRY(co_await open_connection(stream, host, port, timeout));
    co_return co_await op(stream);
  }
  TlsStream stream(ex, *tls);
  BERTH_CO_TRY(co_await open_connection(beast::get_lowest_layer(stream), host, port, timeout));
  stream.set_verify_mode(asio::ssl::verify_peer);
  stream.set_verify_callback(asio::ssl::host_name_verification(host));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client,
                                              asio::as_tuple(use_awaitable));
  if (ec)
    co_return fail(Code::kDaemonUnreachable, "TLS handshake with berth at " + host + ":" +
                                                 std::to_string(port) + ": " + ec.message());
  co_return co_await op(stream);
}

// A server may refuse a request early (413) and stop reading: its reply is still worth
// reading when our write failed, so the write error only counts when no reply comes.
template <class Stream>
asio::awaitable<Result<ClientResponse>> read_reply(Stream& stream,
                                                   boost::system::error_code write_error) {
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  auto [ec, n] = co_await bhttp::async_read(stream, buf, parser, asio::as_tuple(use_awaitable));
  if (ec && write_error)
    co_return fail(Code::kDaemonUnreachable, "sending the request: " + write_error.message());
  if (ec) co_return fail(Code::kDaemonUnreachable, "reading the response: " + ec.message());
  co_return ClientResponse{static_cast<int>(parser.get().result_int()),
                           std::move(parser.get().body())};
}

}  // namespace

Client::Client(std::string host, uint16_t port, std::string token, TlsContext tls)
    : host_(std::move(host)), port_(port), token_(std::move(token)), tls_(std::move(tls)) {}

Result<ClientResponse> Client::request(const std::string& method, const std::string& target,
                                       const std::string& body, std::chrono::milliseconds timeout) {
  auto exchange = [&](auto& stream) -> asio::awaitable<Result<ClientResponse>> {
    auto req = make_request(method, target, host_, token_);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, req, asio::as_tuple(use_awaitable));
    co_return co_await read_reply(stream, wec);
  };
  return run_sync(on_connection(host_, port_, tls_, timeout, exchange));
}

Result<ClientResponse> Client::upload(const std::string& method, const std::string& target,
                                      const std::string& file,
                                      const std::function<void(uint64_t, uint64_t)>& progress) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(Code::kBadRequest, errno_message("open " + file, errno));
  struct stat st {};
  ::fstat(fd.get(), &st);
  const auto total = static_cast<uint64_t>(st.st_size);
  auto exchange = [&](auto& stream) -> asio::awaitable<Result<ClientResponse>> {
    auto req = make_request<bhttp::empty_body>(method, target, host_, token_);
    req.set(bhttp::field::content_type, "application/gzip");
    req.content_length(total);
    bhttp::request_serializer<bhttp::empty_body> sr{req};
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
    boost::system::error_code wec = hec;
    std::vector<char> chunk(256 * 1024);
    for (uint64_t sent = 0; !wec && sent < total;) {
      ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) co_return fail(Code::kBadRequest, errno_message("read " + file, errno));
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      auto [ec, wn] = co_await asio::async_write(stream, asio::buffer(chunk.data(), n),
                                                 asio::as_tuple(use_awaitable));
      wec = ec;
      sent += static_cast<uint64_t>(n);
      if (progress) progress(sent, total);
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
    co_return co_await read_reply(stream, wec);
  };
  return run_sync(on_connection(host_, port_, tls_, std::chrono::seconds(10), exchange));
}

Result<ClientResponse> Client::follow(const std::string& target,
                                      const std::function<bool(const SseEvent&)>& on_event,
                                      const std::string& last_event_id,
                                      const std::function<void()>& on_batch) {
  auto exchange = [&](auto& stream) -> asio::awaitable<Result<ClientResponse>> {
    auto req = make_request("GET", target, host_, token_);
    req.set(bhttp::field::accept, "text/event-stream");
    if (!last_event_id.empty()) req.set("Last-Event-ID", last_event_id);
    auto [wec, wn] = co_await bhttp::async_write(stream, req, asio::as_tuple(use_awaitable));
    if (wec) co_return fail(Code::kDaemonUnreachable, "sending request: " + wec.message());

    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    auto [hec, hn] =
        co_await bhttp::async_read_header(stream, buf, parser, asio::as_tuple(use_awaitable));
    if (hec) co_return fail(Code::kDaemonUnreachable, "reading response: " + hec.message());
    int status = static_cast<int>(parser.get().result_int());
    if (status / 100 != 2) {
      auto [bec, bn] =
          co_await bhttp::async_read(stream, buf, parser, asio::as_tuple(use_awaitable));
      if (bec) co_return fail(Code::kDaemonUnreachable, "reading error response: " + bec.message());
      co_return ClientResponse{status, std::move(parser.get().body())};
    }
    // Parse the event stream incrementally as chunks arrive.
    bool stop = false;
    SseDecoder decoder(on_event);
    auto on_chunk = [&](std::uint64_t, std::string_view data,
                        boost::system::error_code& ec) -> std::size_t {
      stop = !decoder.feed(data);
      if (on_batch) on_batch();
      if (stop) ec = asio::error::operation_aborted;
      return data.size();
    };
    parser.on_chunk_body(on_chunk);
    while (!parser.is_done() && !stop) {
      beast::get_lowest_layer(stream).expires_after(
          std::chrono::seconds(60));  // the server pings every 15 s
      auto [rec, rn] =
          co_await bhttp::async_read_some(stream, buf, parser, asio::as_tuple(use_awaitable));
      if (stop) break;
      if (rec == bhttp::error::end_of_stream || rec == asio::error::eof) break;
      if (rec) co_return fail(Code::kDaemonUnreachable, "event stream: " + rec.message());
    }
    co_return ClientResponse{status, ""};
  };
  return run_sync(on_connection(host_, port_, tls_, std::chrono::seconds(10), exchange));
}

}  // namespace berth::http
