// Server-sent events out of a byte stream, incrementally: "event:", "data:" and "id:" lines,
// an event ending at a blank line, however the stream was cut into chunks. Used by the CLI's
// follow and by a cluster origin following its peers. Pure; any thread.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace berth::http {

struct SseEvent {
  std::string id, type, data;
};

class SseDecoder {
 public:
  // `on_event` returns false to stop: the rest of the chunk is not decoded.
  explicit SseDecoder(std::function<bool(const SseEvent&)> on_event)
      : on_event_(std::move(on_event)) {}
  // False once on_event asked to stop.
  bool feed(std::string_view chunk);

 private:
  std::function<bool(const SseEvent&)> on_event_;
  std::string pending_;
  SseEvent ev_;
  bool stopped_ = false;
};

}  // namespace berth::http
