// Berth's view of an HTTP exchange, free of Beast types so that most of the code base never
// includes Beast. A Response either carries a body or streams server-sent events.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> params;  // filled by the router: {name} -> value
  std::string body;
  std::string authorization;
  std::string last_event_id;
  std::string content_type;
  std::string cookie;      // the Cookie header as sent
  std::string csrf_token;  // X-CSRF-Token (the dashboard's proof on state-changing requests)
  std::string remote;      // the client's address, as the server accepted it
};

// Writes server-sent events. Events are buffered and sent in batches: call flush() before
// waiting for more. Each call returns false once the client is gone.
class SseWriter {
 public:
  virtual ~SseWriter() = default;
  virtual boost::asio::awaitable<bool> event(const std::string& id, const std::string& type,
                                             const std::string& data) = 0;
  // Sends the comment and everything buffered before it.
  virtual boost::asio::awaitable<bool> comment(const std::string& text) = 0;
  virtual boost::asio::awaitable<bool> flush() = 0;
};

// The body of a streamed upload, read piece by piece by its handler (never held whole).
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads up to `size` bytes into `buf`; 0 at the end of the body. Fails with
  // `payload_too_large` past the upload limit, or `upload_incomplete` when the client stops.
  virtual boost::asio::awaitable<Result<size_t>> read_some(char* buf, size_t size) = 0;
  // The declared Content-Length, if any.
  virtual std::optional<uint64_t> content_length() const = 0;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // More header fields to send (Set-Cookie, Content-Security-Policy, Retry-After, ...).
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the server sends `text/event-stream` headers and hands the stream over.
  std::function<boost::asio::awaitable<void>(SseWriter&)> sse;
  // When set, the body is this file's first `file_size` bytes, sent in pieces (a payload to a
  // peer), never read whole into memory.
  std::shared_ptr<UniqueFd> file;
  uint64_t file_size = 0;
};

// {"error": {"code", "message"}} with the code's HTTP status.
Response error_response(Code code, const std::string& message);
inline Response error_response(const Error& e) {
  return error_response(e.code, e.message);
}

// What the server's gate (authentication) says about a request: a refusal to send instead of
// routing it, and whether the client proved who it is (only such connections are kept alive).
struct Verdict {
  std::optional<Response> refusal;
  bool trusted = false;
};

}  // namespace berth::http
