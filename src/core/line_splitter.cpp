#include "core/line_splitter.h"

namespace berth {
namespace {

// Largest cut point <= n that does not split a UTF-8 sequence inside s.
size_t utf8_boundary(std::string_view s, size_t n) {
  if (n >= s.size()) return s.size();
  size_t cut = n;
  // Continuation bytes look like 10xxxxxx; step back to the lead byte (at most 3 steps).
  for (int steps = 0; cut > 0 && steps < 4 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80;
       ++steps)
    --cut;
  return cut == 0 ? n : cut;
}

}  // namespace

LineSplitter::LineSplitter(Sink sink, size_t max_line)
    : sink_(std::move(sink)), max_line_(max_line) {}

void LineSplitter::emit(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  sink_(line);
}

void LineSplitter::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      buf_.append(bytes);
      break;
    }
    if (buf_.empty()) {
      emit(emit_overlong(bytes.substr(0, nl)));  // fast path: the whole line is in this chunk
    } else {
      buf_.append(bytes.substr(0, nl));
      emit(emit_overlong(buf_));
      buf_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
  // An unterminated line that has grown past the cap is emitted in pieces now, so memory stays
  // bounded; a trailing "\r" is kept back in case its "\n" arrives next.
  std::string_view rest = emit_overlong(buf_);
  buf_.erase(0, buf_.size() - rest.size());
}

std::string_view LineSplitter::emit_overlong(std::string_view line) {
  while (line.size() > max_line_) {
    size_t cut = utf8_boundary(line, max_line_);
    sink_(line.substr(0, cut));
    line.remove_prefix(cut);
  }
  return line;
}

void LineSplitter::flush() {
  if (buf_.empty()) return;
  std::string rest = std::move(buf_);
  buf_.clear();
  emit(rest);
}

}  // namespace berth
