// Human durations in manifests and config ("250ms", "10s", "2m", "1h30m"), and the wall clock.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "core/error.h"

namespace berth {

using Millis = std::chrono::milliseconds;

// Parses a sequence of <number><unit> with units ms, s, m, h. A bare number is refused
// because "10" is ambiguous between seconds and milliseconds.
Result<Millis> parse_duration(std::string_view text);

// Wall-clock milliseconds since the Unix epoch (timestamps in records and events).
int64_t now_ms();

// Shortest faithful rendering: 1500ms -> "1.5s", 120000ms -> "2m".
std::string format_duration(Millis d);

}  // namespace berth
