#include "core/duration.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace berth {

Result<Millis> parse_duration(std::string_view text) {
  auto bad = [&](std::string why) {
    return fail(Code::kBadDuration, fmt::format("\"{}\" is not a duration ({})", text, why));
  };
  if (text.empty()) return bad("empty");
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (start == i) return bad("expected a number");
    double value = 0;
    auto [p, ec] = std::from_chars(text.data() + start, text.data() + i, value);
    if (ec != std::errc() || p != text.data() + i) return bad("bad number");
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit == "ms")
      total_ms += value;
    else if (unit == "s")
      total_ms += value * 1000;
    else if (unit == "m")
      total_ms += value * 60'000;
    else if (unit == "h")
      total_ms += value * 3'600'000;
    else if (unit.empty())
      return bad("missing unit: use ms, s, m or h");
    else
      return bad(fmt::format("unknown unit \"{}\"", unit));
  }
  if (total_ms > 1e12) return bad("too large");
  return Millis(static_cast<int64_t>(total_ms));
}

std::string format_duration(Millis d) {
  auto ms = d.count();
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000)
    return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{:.1f}s", ms / 1000.0);
  if (ms < 3'600'000)
    return fmt::format("{}m{}", ms / 60'000,
                       ms % 60'000 ? fmt::format("{}s", ms % 60'000 / 1000) : "");
  return fmt::format("{}h{}", ms / 3'600'000,
                     ms % 3'600'000 ? fmt::format("{}m", ms % 3'600'000 / 60'000) : "");
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace berth
