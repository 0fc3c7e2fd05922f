// A child's output cut into lines: however the stream is chunked, the lines are the same; no
// line holds a newline or exceeds the cap; joined, they are the input without its line ends.
// Input: the cap (1 byte), the chunk size (1 byte), then the stream.
#include <string>
#include <vector>

#include "core/line_splitter.h"
#include "fuzz_input.h"

namespace {

std::vector<std::string> split(std::string_view stream, size_t cap, size_t chunk) {
  std::vector<std::string> lines;
  berth::LineSplitter s([&](std::string_view l) { lines.emplace_back(l); }, cap);
  for (size_t i = 0; i < stream.size(); i += chunk) s.feed(stream.substr(i, chunk));
  s.flush();
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  const size_t cap = 1 + in.byte() % 64;
  const size_t chunk = 1 + in.byte() % 16;
  const std::string_view stream = in.rest();
  const auto whole = split(stream, cap, stream.size() + 1);
  FUZZ_CHECK(split(stream, cap, chunk) == whole);
  std::string joined, expected;
  for (const auto& l : whole) {
    FUZZ_CHECK(l.size() <= cap);
    FUZZ_CHECK(l.find('\n') == std::string::npos);
    joined += l;
  }
  // Line ends removed: "\n", and a "\r" just before one (or at the very end).
  for (size_t i = 0; i < stream.size(); ++i) {
    if (stream[i] == '\n') continue;
    if (stream[i] == '\r' && (i + 1 == stream.size() || stream[i + 1] == '\n')) continue;
    expected.push_back(stream[i]);
  }
  FUZZ_CHECK(joined == expected);
  return 0;
}
