#include "http/server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/failpoint.h"
#include "http/request_head.h"

namespace berth::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

template <class Stream>
class BeastSse : public SseWriter {
 public:
  BeastSse(Stream& s, std::chrono::milliseconds io) : stream_(s), io_(io) {}
  asio::awaitable<bool> event(const std::string& id, const std::string& type,
                              const std::string& data) override {
    if (!id.empty()) buf_ += "id: " + id + "\n";
    if (!type.empty()) buf_ += "event: " + type + "\n";
    size_t start = 0;
    for (;;) {  // a newline inside data needs its own data: line
      auto nl = data.find('\n', start);
      buf_ += "data: ";
      buf_.append(data, start, nl == std::string::npos ? std::string::npos : nl - start);
      buf_ += "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    buf_ += "\n";
    if (buf_.size() < kBatchBytes) co_return true;
    co_return co_await flush();
  }
  asio::awaitable<bool> comment(const std::string& text) override {
    buf_ += ": " + text + "\n\n";
    co_return co_await flush();
  }
  asio::awaitable<bool> flush() override {
    if (buf_.empty()) co_return true;
    beast::get_lowest_layer(stream_).expires_after(io_);
    auto [ec, n] = co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(buf_)),
                                              asio::as_tuple(use_awaitable));
    beast::get_lowest_layer(stream_).expires_never();
    buf_.clear();
    co_return !ec;
  }

 private:
  static constexpr size_t kBatchBytes = 32 * 1024;
  Stream& stream_;
  std::chrono::milliseconds io_;
  std::string buf_;
};

// A deadline for a body read that, unlike tcp_stream's expiry (which closes the socket),
// only cancels the read: the connection stays open for a 408 saying why.
class Deadline {
 public:
  explicit Deadline(beast::tcp_stream& s) : stream_(s), timer_(s.get_executor()) {}
  void arm(std::chrono::milliseconds d) {
    fired_ = false;
    timer_.expires_after(d);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // disarmed or destroyed: touch nothing
      fired_ = true;
      boost::system::error_code ignored;
      stream_.socket().cancel(ignored);
    });
  }
  void disarm() { timer_.cancel(); }
  bool fired() const { return fired_; }

 private:
  beast::tcp_stream& stream_;
  asio::steady_timer timer_;
  bool fired_ = false;
};

Response timed_out(std::chrono::milliseconds io) {
  return error_response(Code::kRequestTimeout,
                        fmt::format("the request body did not arrive within {} ms", io.count()));
}

// A request Beast could not parse (bare LF, NUL in a header, a bad Content-Length or chunk
// size, ...): answered with 400, then the connection is closed.
bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::need_buffer &&
         ec != bhttp::error::body_limit && ec != bhttp::error::header_limit;
}

Response malformed(const boost::system::error_code& ec) {
  if (ec == bhttp::error::partial_message)
    return error_response(Code::kBadRequest,
                          "the request ended before its body was complete (Content-Length or "
                          "chunked framing promised more)");
  return error_response(Code::kBadRequest, "malformed request: " + ec.message());
}

Response too_large(uint64_t limit) {
  return error_response(Code::kPayloadTooLarge,
                        "request body exceeds " + std::to_string(limit) + " bytes");
}

template <class Stream>
class BeastBodyReader : public BodyReader {
 public:
  BeastBodyReader(Stream& s, beast::flat_buffer& buf, bhttp::request_parser<bhttp::buffer_body>& p,
                  const ServerLimits& limits)
      : stream_(s), buf_(buf), parser_(p), limits_(limits), deadline_(beast::get_lowest_layer(s)) {}

  asio::awaitable<Result<size_t>> read_some(char* out, size_t size) override {
    if (parser_.is_done()) co_return size_t{0};
    auto& body = parser_.get().body();
    body.data = out;
    body.size = size;
    deadline_.arm(limits_.io);
    auto [ec, n] =
        co_await bhttp::async_read(stream_, buf_, parser_, asio::as_tuple(use_awaitable));
    deadline_.disarm();
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec && deadline_.fired()) {
      failed_ = true;
      co_return fail(Code::kRequestTimeout,
                     fmt::format("the upload stalled for {} ms", limits_.io.count()));
    }
    if (ec == bhttp::error::body_limit) {
      failed_ = true;
      co_return fail(Code::kPayloadTooLarge,
                     "request body exceeds " + std::to_string(limits_.upload_limit) + " bytes");
    }
    if (ec) {
      failed_ = true;
      co_return fail(Code::kUploadIncomplete, "the upload stopped: " + ec.message());
    }
    co_return size - body.size;
  }
  std::optional<uint64_t> content_length() const override {
    auto n = parser_.content_length();
    return n ? std::optional<uint64_t>(*n) : std::nullopt;
  }
  bool complete() const { return parser_.is_done() && !failed_; }

 private:
  Stream& stream_;
  beast::flat_buffer& buf_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  const ServerLimits& limits_;
  Deadline deadline_;
  bool failed_ = false;
};

// A file body: the head with its length, then pieces read with pread and written each under
// the I/O deadline. False when the connection cannot go on.
template <class Stream>
asio::awaitable<bool> send_file(Stream& stream, const Response& resp, unsigned version,
                                bool keep_alive, std::chrono::milliseconds io) {
  bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(resp.status), version};
  head.set(bhttp::field::server, "berth");
  head.set(bhttp::field::content_type, resp.content_type);
  head.content_length(resp.file_size);
  head.keep_alive(keep_alive);
  for (auto& [k, v] : resp.headers) head.insert(k, v);
  bhttp::response_serializer<bhttp::empty_body> sr{head};
  beast::get_lowest_layer(stream).expires_after(io);
  auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
  if (hec) co_return false;
  std::vector<char> piece(256 * 1024);
  for (uint64_t off = 0; off < resp.file_size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(piece.size(), resp.file_size - off));
    ssize_t n = ::pread(resp.file->get(), piece.data(), want, static_cast<off_t>(off));
    if (n <= 0) co_return false;  // the file shrank or failed: the client sees a short body
    beast::get_lowest_layer(stream).expires_after(io);
    auto [ec, wn] = co_await asio::async_write(stream, asio::buffer(piece.data(), n),
                                               asio::as_tuple(use_awaitable));
    if (ec) co_return false;
    off += static_cast<uint64_t>(n);
  }
  beast::get_lowest_layer(stream).expires_never();
  co_return keep_alive;
}

}  // namespace

Server::Server(asio::io_context& io, const Router& router, Gate gate, ServerLimits limits,
               TlsContext tls)
    : io_(io),
      router_(router),
      gate_(std::move(gate)),
      limits_(limits),
      tls_(std::move(tls)),
      acceptor_(io) {}

Result<uint16_t> Server::listen(const std::string& address, uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return fail(Code::kBadConfig, "bad listen address " + address);
  tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return fail(Code::kListenFailed,
                "cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
  // Connections may use at most half the descriptors: the rest is for processes, watches,
  // the store and logs, and for answering the excess with a 503.
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  if (limits_.max_connections == 0)
    limits_.max_connections = std::max<size_t>(8, static_cast<size_t>(nofile.rlim_cur) / 2);
  reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return acceptor_.local_endpoint().port();
}

void Server::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void Server::shed_one() {
  reserve_.reset();
  int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd >= 0) ::close(fd);
  reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

void Server::refuse(tcp::socket& sock) const {
  static const std::string k503 = [] {
    Response r = error_response(Code::kTooManyConnections,
                                "the daemon is at its connection limit; retry shortly");
    return fmt::format(
        "HTTP/1.1 {} Service Unavailable\r\nServer: berth\r\nContent-Type: "
        "application/json\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: "
        "{}\r\n\r\n{}",
        r.status, r.body.size(), r.body);
  }();
  // Over TLS the canned text would be noise before a handshake: just close.
  if (!tls_)
    (void)::send(sock.native_handle(), k503.data(), k503.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  boost::system::error_code ignored;
  sock.close(ignored);
}

asio::awaitable<void> Server::accept_loop() {
  using namespace std::chrono_literals;
  asio::steady_timer pause(io_);
  auto backoff = 10ms;
  uint64_t failures = 0, refused = 0;  // in the current episode, reported once when it ends
  for (;;) {
    auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    // Injected: the connection just accepted stands for the one shed_one() would drop.
    const bool injected = !ec && BERTH_FAIL("http.accept");
    if (injected) {
      ec = {errno, boost::system::system_category()};
      boost::system::error_code ignored;
      sock.close(ignored);
    }
    if (ec) {
      // Out of descriptors (or kernel memory) every retry fails at once: without a pause the
      // loop spins at 100% CPU and logs each failure (665 MB in 25 s were seen).
      if (!injected && (ec == asio::error::no_descriptors || ec.value() == ENFILE)) shed_one();
      if (failures++ == 0)
        spdlog::warn("accept: {}; shedding connections and backing off", ec.message());
      pause.expires_after(backoff);
      co_await pause.async_wait(asio::as_tuple(use_awaitable));
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 1s);
      continue;
    }
    if (failures) spdlog::info("accepting again after {} failed accepts", failures);
    failures = 0;
    backoff = 10ms;
    if (open_ >= limits_.max_connections) {
      if (refused++ == 0)
        spdlog::warn("{} connections open, the limit: refusing new ones with 503", open_);
      refuse(sock);
      continue;
    }
    if (refused) spdlog::info("below the connection limit again; refused {}", refused);
    refused = 0;
    ::fcntl(sock.native_handle(), F_SETFD, FD_CLOEXEC);
    asio::co_spawn(io_, session(std::move(sock)), asio::detached);
  }
}

asio::awaitable<Response> Server::call(const Router::Route& route, Request& req, BodyReader* body) {
  Response resp;
  try {
    if (route.upload)
      resp = co_await route.upload(req, *body);
    else
      resp = co_await route.handler(req);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    resp = error_response(Code::kInternal, e.what());
  }
  co_return resp;
}

asio::awaitable<void> Server::session(tcp::socket sock) {
  ++open_;
  struct Count {
    size_t& n;
    ~Count() { --n; }
  } count{open_};
  if (!tls_) {
    beast::tcp_stream stream(std::move(sock));
    co_await serve(stream);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *tls_);
  // The handshake is part of the head: a stranger gets the short deadline for both.
  beast::get_lowest_layer(stream).expires_after(limits_.header);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                              asio::as_tuple(use_awaitable));
  beast::get_lowest_layer(stream).expires_never();
  if (ec) co_return;  // a plain-HTTP client, a bad certificate, a scanner: nothing to answer
  co_await serve(stream);
}

template <class Stream>
asio::awaitable<void> Server::serve(Stream& stream) {
  beast::flat_buffer buf;
  Deadline body_deadline(beast::get_lowest_layer(stream));
  bool trusted = false;  // a request on this connection carried valid credentials
  boost::system::error_code rec;
  const auto peer = beast::get_lowest_layer(stream).socket().remote_endpoint(rec);
  const std::string remote = rec ? "" : peer.address().to_string();
  for (;;) {
    // The header first: auth and routing decide how (and whether) the body is read. Until
    // the client is trusted it gets the short deadline: a slow or silent stranger holds a
    // connection for seconds, not minutes.
    bhttp::request_parser<bhttp::empty_body> head;
    head.header_limit(limits_.header_limit);
    head.body_limit(std::max(limits_.body_limit, limits_.upload_limit));
    beast::get_lowest_layer(stream).expires_after(trusted ? limits_.idle : limits_.header);
    auto [ec, n] =
        co_await bhttp::async_read_header(stream, buf, head, asio::as_tuple(use_awaitable));
    beast::get_lowest_layer(stream).expires_never();
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) break;
    std::optional<Response> early;
    if (ec == bhttp::error::body_limit)
      early = too_large(std::max(limits_.body_limit, limits_.upload_limit));
    else if (ec == bhttp::error::header_limit)
      early = error_response(
          Code::kHeadersTooLarge,
          "request headers exceed " + std::to_string(limits_.header_limit) + " bytes");
    else if (is_parse_error(ec) && ec != bhttp::error::partial_message)
      early = malformed(ec);
    else if (ec)
      break;  // timeouts, resets, a head cut short: nothing useful to answer
    bool keep_alive = !early && head.get().keep_alive();
    unsigned version = ec ? 11 : head.get().version();
    Response resp;
    bool body_unread = early || head.chunked() || head.content_length().value_or(0) > 0;
    if (!early) {
      Request req = to_request(head.get());
      req.remote = remote;
      const Router::Route* route = nullptr;
      Response refusal;
      Verdict verdict = gate_(req);
      trusted = trusted || verdict.trusted;
      if (!trusted) keep_alive = false;  // strangers get one request per connection
      if (verdict.refusal) {
        early = std::move(*verdict.refusal);
      } else if (!(route = router_.find(req, refusal))) {
        early = std::move(refusal);
      } else if (const uint64_t limit = route->upload ? limits_.upload_limit : limits_.body_limit;
                 head.content_length().value_or(0) > limit) {
        early = too_large(limit);
      } else if (route->upload) {
        bhttp::request_parser<bhttp::buffer_body> parser(std::move(head));
        parser.body_limit(limits_.upload_limit);
        BeastBodyReader<Stream> reader(stream, buf, parser, limits_);
        resp = co_await call(*route, req, &reader);
        body_unread = !reader.complete();
        if (body_unread) keep_alive = false;
      } else {
        bhttp::request_parser<bhttp::string_body> parser(std::move(head));
        parser.body_limit(limits_.body_limit);
        body_deadline.arm(limits_.io);
        auto [bec, bn] =
            co_await bhttp::async_read(stream, buf, parser, asio::as_tuple(use_awaitable));
        body_deadline.disarm();
        if (bec == bhttp::error::body_limit)
          early = too_large(limits_.body_limit);
        else if (bec && body_deadline.fired())
          early = timed_out(limits_.io);
        else if (is_parse_error(bec))
          early = malformed(bec);
        else if (bec)
          break;
        if (bec) keep_alive = false;
        if (!early) {
          body_unread = false;
          req.body = std::move(parser.get().body());
          resp = co_await call(*route, req, nullptr);
        }
      }
    }
    if (early) {
      resp = std::move(*early);
      if (body_unread) keep_alive = false;
    }
    if (resp.sse) {
      bhttp::response<bhttp::empty_body> head{bhttp::status::ok, version};
      head.set(bhttp::field::content_type, "text/event-stream");
      head.set(bhttp::field::cache_control, "no-cache");
      head.chunked(true);
      for (auto& [k, v] : resp.headers) head.insert(k, v);
      bhttp::response_serializer<bhttp::empty_body> sr{head};
      beast::get_lowest_layer(stream).expires_after(limits_.io);
      auto [wec, wn] =
          co_await bhttp::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
      if (wec) break;
      beast::get_lowest_layer(stream).expires_never();
      BeastSse<Stream> writer(stream, limits_.io);
      co_await resp.sse(writer);
      co_await writer.flush();
      beast::get_lowest_layer(stream).expires_after(limits_.io);
      co_await asio::async_write(stream, bhttp::make_chunk_last(), asio::as_tuple(use_awaitable));
      break;
    }
    if (resp.file) {
      if (!co_await send_file(stream, resp, version, keep_alive, limits_.io)) break;
      continue;
    }
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(resp.status), version};
    res.set(bhttp::field::server, "berth");
    res.set(bhttp::field::content_type, resp.content_type);
    res.keep_alive(keep_alive);
    for (auto& [k, v] : resp.headers) res.insert(k, v);
    res.body() = std::move(resp.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(limits_.io);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, asio::as_tuple(use_awaitable));
    if (!wec && body_unread) {
      // The client may still be sending the refused body. Closing now would make the kernel
      // answer its data with RST and destroy our reply before it is read; drain a bounded
      // amount first (lingering close).
      boost::system::error_code sec;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, sec);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      static thread_local char sink[65536];
      for (size_t total = 0; total < 64 * 1024 * 1024;) {
        auto [rec, rn] = co_await beast::get_lowest_layer(stream).async_read_some(
            asio::buffer(sink), asio::as_tuple(use_awaitable));
        if (rec) break;
        total += rn;
      }
      break;
    }
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace berth::http
