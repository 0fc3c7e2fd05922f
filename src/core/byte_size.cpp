#include "core/byte_size.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace berth {

Result<uint64_t> parse_byte_size(std::string_view text) {
  auto bad = fail(Code::kBadSize, fmt::format("\"{}\" is not a size (like 512MiB or 10GiB)", text));
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return bad;
  std::string unit(end, text.data() + text.size());
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int shift = -1;
  if (unit.empty() || unit == "B") shift = 0;
  const char* prefixes = "KMGT";
  for (int i = 0; i < 4; ++i) {
    std::string p(1, prefixes[i]);
    if (unit == p || unit == p + "B" || unit == p + "IB") shift = 10 * (i + 1);
  }
  if (shift < 0) return bad;
  double bytes = value * std::ldexp(1.0, shift);
  if (bytes > 9.2e18) return bad;
  return static_cast<uint64_t>(bytes);
}

}  // namespace berth
