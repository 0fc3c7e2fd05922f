#include "proc/log_format.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>

namespace berth {
namespace {

constexpr size_t kStampLen = 24;  // 2026-12-03T07:54:18.123Z

bool digits(std::string_view s, size_t at, size_t n, int& out) {
  auto r = std::from_chars(s.data() + at, s.data() + at + n, out);
  return r.ec == std::errc() && r.ptr == s.data() + at + n;
}

}  // namespace

std::string format_log_line(int64_t ts_ms, Stream stream, std::string_view text, int instance) {
  std::time_t secs = static_cast<std::time_t>(ts_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {}{} {}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts_ms % 1000,
                     to_string(stream), instance >= 0 ? fmt::format("[{}]", instance) : "", text);
}

ParsedLogLine parse_log_line(std::string_view line) {
  ParsedLogLine out{0, Stream::kStdout, std::string(line)};
  if (line.size() < kStampLen + 2 || line[4] != '-' || line[7] != '-' || line[10] != 'T' ||
      line[13] != ':' || line[16] != ':' || line[19] != '.' || line[23] != 'Z' || line[24] != ' ')
    return out;
  std::tm tm{};
  int ms = 0;
  if (!digits(line, 0, 4, tm.tm_year) || !digits(line, 5, 2, tm.tm_mon) ||
      !digits(line, 8, 2, tm.tm_mday) || !digits(line, 11, 2, tm.tm_hour) ||
      !digits(line, 14, 2, tm.tm_min) || !digits(line, 17, 2, tm.tm_sec) ||
      !digits(line, 20, 3, ms))
    return out;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::string_view rest = line.substr(kStampLen + 1);
  Stream stream;
  if (rest.starts_with("stdout"))
    stream = Stream::kStdout;
  else if (rest.starts_with("stderr"))
    stream = Stream::kStderr;
  else if (rest.starts_with("berth"))
    stream = Stream::kBerth;
  else
    return out;
  size_t word = std::string_view(to_string(stream)).size();
  int instance = -1;
  if (rest.size() > word && rest[word] == '[') {
    const size_t close = rest.find(']', word);
    if (close == std::string_view::npos || close == word + 1 || close > word + 4 ||
        !digits(rest, word + 1, close - word - 1, instance))
      return out;
    word = close + 1;
  }
  if (rest.size() < word + 1 || rest[word] != ' ') return out;
  return {static_cast<int64_t>(::timegm(&tm)) * 1000 + ms, stream,
          std::string(rest.substr(word + 1)), instance};
}

}  // namespace berth
