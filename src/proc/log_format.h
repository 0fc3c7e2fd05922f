// How a line of output is kept in logs/NAME/output.log: `2026-12-03T07:54:18.123Z stdout text`
// (UTC, milliseconds; stream stdout, stderr or berth; `stdout[1]` for instance 1 of a component
// that runs several), so a daemon restart reads back when each line came and from where, and
// the file stays readable with tail and grep. Pure.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "proc/stream.h"

namespace berth {

// `instance` < 0: the line carries none.
std::string format_log_line(int64_t ts_ms, Stream stream, std::string_view text, int instance = -1);

struct ParsedLogLine {
  int64_t ts_ms = 0;  // 0: a line without the prefix (a file written before it existed)
  Stream stream = Stream::kStdout;
  std::string text;
  int instance = -1;
};
ParsedLogLine parse_log_line(std::string_view line);

}  // namespace berth
