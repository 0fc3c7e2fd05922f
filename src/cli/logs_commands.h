// `berth logs [NAME]`: one component's lines, or every component's merged by time and
// prefixed with its name; -t timestamps, --since/--until windows, -f follows. Colour (a hue
// per component, stderr in red, berth's own lines dim) only on a terminal, never with
// NO_COLOR or --no-color. CLI thread.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "http/client.h"

namespace berth::cli {

struct LogsOptions {
  std::string name;  // empty: every component
  size_t lines = 20;
  bool follow = false, timestamps = false, json_out = false, color = false;
  std::string since, until;  // "10m" (ago), "2026-12-03T07:00:00" (local), "...Z" (UTC)
};

int cmd_logs(http::Client& client, const LogsOptions& o);

// A --since/--until value as ms since the epoch; `now_ms` anchors durations ("10m" ago).
Result<int64_t> parse_log_time(const std::string& text, int64_t now_ms);

// Whether output to stdout may be coloured: a terminal, NO_COLOR unset, no --no-color.
bool use_color(bool no_color_flag);

}  // namespace berth::cli
