// Incremental splitter of a byte stream into lines. Bytes are buffered until a newline, so a
// multi-byte UTF-8 character split across reads is reassembled, never mangled. "\r\n" ends a
// line like "\n". A line longer than the cap is emitted in pieces cut on a character boundary.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace berth {

class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view line)>;

  explicit LineSplitter(Sink sink, size_t max_line = 16 * 1024);

  // Feeds the next bytes; calls the sink once per completed line (without its terminator).
  void feed(std::string_view bytes);
  // Emits a final unterminated line, if any. Call at end of stream.
  void flush();
  // Bytes held waiting for a newline.
  size_t pending() const { return buf_.size(); }

 private:
  void emit(std::string_view line);
  // Emits cap-sized pieces (cut on character boundaries) while `line` is over the cap;
  // returns the rest, which fits.
  std::string_view emit_overlong(std::string_view line);

  Sink sink_;
  size_t max_line_;
  std::string buf_;
};

}  // namespace berth
