// The daemon's own HTTP client, on its event loop (for etcd's JSON gateway and for peers): one
// request per connection, a deadline on the connect and on every read and write, and a
// streaming form whose body arrives chunk by chunk until the server ends it or the caller
// cancels. A URL names the peer ("http://127.0.0.1:2379"); an https one is verified against
// the call's TLS context and must name the address dialled.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "http/tls.h"

namespace berth::http {

struct Url {
  bool tls = false;  // https
  std::string host;  // an IP address (no name resolution on the loop)
  uint16_t port = 80;
  std::string base;  // path prefix, without a trailing '/'
  // "http[s]://HOST:PORT[/prefix]"; anything else is bad_config.
  static Result<Url> parse(std::string_view text);
  std::string str() const;
};

struct Call {
  std::string method = "POST", target, body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{10'000};  // connect, and each read or write
  TlsContext tls;  // needed for an https URL: what the peer is verified with
};

struct Reply {
  int status = 0;
  std::string body;
};

// Cancels a streaming call from the loop: the read in progress ends and `stream` returns.
class StreamHandle {
 public:
  void cancel();
  bool cancelled() const { return cancelled_; }

 private:
  friend struct StreamAccess;
  std::function<void()> close_;
  bool cancelled_ = false;
};

// The reply, whatever its status; `unreachable` when no reply came (connect, TLS handshake or
// verification, write or read failed, or a deadline passed), the URL in the message.
boost::asio::awaitable<Result<Reply>> send(boost::asio::any_io_executor ex, const Url& url,
                                           const Call& call);

// Sends `call`, then hands the response body to `on_data` as it arrives (dechunked) until the
// server ends it, `on_data` returns false, or `handle` is cancelled. Reads have no deadline
// (a watch may be quiet for long); `on_status` sees the status first (a non-2xx body is
// returned whole instead, as the Reply). Returns the status.
boost::asio::awaitable<Result<Reply>> stream(boost::asio::any_io_executor ex, const Url& url,
                                             const Call& call,
                                             std::function<bool(std::string_view)> on_data,
                                             std::shared_ptr<StreamHandle> handle);

}  // namespace berth::http
