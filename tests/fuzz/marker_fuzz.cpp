// The readiness marker. Substring: seen exactly when the stream holds it, however it was
// chunked. Regex (any pattern, RE2): never a crash, and a complete line that matches is
// always seen. Input: mode and chunk size (1 byte each), the marker, NUL, the stream.
#include <string>

#include "core/pattern.h"
#include "fuzz_input.h"
#include "proc/marker_matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  const bool regex = in.byte() & 1;
  const size_t chunk = 1 + in.byte() % 32;
  const std::string_view marker = in.part();
  const std::string_view stream = in.rest();
  if (marker.empty() || marker.size() > berth::Pattern::kMaxLength) return 0;
  auto feed_all = [&](berth::MarkerMatcher m) {
    for (size_t i = 0; i < stream.size() && !m.matched(); i += chunk)
      m.feed(stream.substr(i, chunk));
    return m.matched();
  };
  if (!regex) {
    auto m = berth::MarkerMatcher::substring(marker);
    FUZZ_CHECK(m.has_value());
    FUZZ_CHECK(feed_all(std::move(*m)) == (stream.find(marker) != std::string_view::npos));
    return 0;
  }
  auto p = berth::Pattern::regex(marker);
  if (!p) {
    FUZZ_CHECK(p.error().code == berth::Code::kBadPattern);
    return 0;
  }
  bool line_matches = false;
  std::string_view rest = stream;
  for (size_t nl; !line_matches && (nl = rest.find('\n')) != std::string_view::npos;
       rest.remove_prefix(nl + 1))
    line_matches = nl <= berth::MarkerMatcher::kMaxLine && p->search(rest.substr(0, nl));
  const bool seen = feed_all(berth::MarkerMatcher::regex(*p));
  FUZZ_CHECK(seen || !line_matches);
  return 0;
}
