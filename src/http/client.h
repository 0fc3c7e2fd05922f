// A small blocking HTTP client for the CLI (and tests): one request at a time, with a
// deadline on every operation, plus a follower for server-sent-event streams. Plain HTTP, or
// TLS verified against a CA with the certificate naming the address dialled.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/error.h"
#include "http/sse_decoder.h"
#include "http/tls.h"

namespace berth::http {

struct ClientResponse {
  int status = 0;
  std::string body;
};

class Client {
 public:
  // With `tls`, every connection is TLS verified with it.
  Client(std::string host, uint16_t port, std::string token, TlsContext tls = nullptr);

  // Fails with `daemon_unreachable` when no connection can be made (or the TLS handshake or the
  // server's certificate fails) or the deadline passes.
  Result<ClientResponse> request(const std::string& method, const std::string& target,
                                 const std::string& body = "",
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Streams FILE as the request body (Content-Length known), calling `progress(sent, total)`
  // as it goes. A refusal the server sends before the body is all sent is still returned.
  Result<ClientResponse> upload(const std::string& method, const std::string& target,
                                const std::string& file,
                                const std::function<void(uint64_t, uint64_t)>& progress);
  // Streams events to `on_event` until it returns false or the server ends the stream. A non-2xx
  // answer is returned as a ClientResponse with the body, and no events are delivered.
  // `on_batch` runs after each read's worth of events (a place to flush output once).
  Result<ClientResponse> follow(const std::string& target,
                                const std::function<bool(const SseEvent&)>& on_event,
                                const std::string& last_event_id = "",
                                const std::function<void()>& on_batch = nullptr);

 private:
  std::string host_;
  uint16_t port_;
  std::string token_;
  TlsContext tls_;
};

}  // namespace berth::http
