#include "http/sse_decoder.h"

namespace berth::http {

bool SseDecoder::feed(std::string_view chunk) {
  pending_.append(chunk);
  size_t start = 0;
  for (size_t nl; !stopped_ && (nl = pending_.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    std::string_view line(pending_.data() + start, nl - start);
    if (line.empty()) {
      if (!ev_.data.empty() || !ev_.type.empty()) {
        if (!ev_.data.empty() && ev_.data.back() == '\n') ev_.data.pop_back();
        if (!on_event_(ev_)) stopped_ = true;
      }
      ev_.data.clear();
      ev_.type.clear();
    } else if (line.starts_with("data: ")) {
      ev_.data.append(line.substr(6)).push_back('\n');
    } else if (line.starts_with("event: ")) {
      ev_.type = line.substr(7);
    } else if (line.starts_with("id: ")) {
      ev_.id = line.substr(4);
    }
  }
  pending_.erase(0, start);
  return !stopped_;
}

}  // namespace berth::http
