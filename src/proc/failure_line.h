// Which line of a failed process's last output says what went wrong. Node prints its version
// last, Python its exception last, Go its panic first: the last line alone is often noise
// ("Node.js v20.20.2"). Pure functions; any thread.
#pragma once
#include <deque>
#include <optional>
#include <string>

namespace berth {

// The first line that reads as the error: an `...Error:` / `...Exception:` line (Node's
// `Error [ERR_X]:` too), else one with `panic:`, `fatal`, `Traceback`, `EADDRINUSE`,
// `Segmentation fault` and the like. nullopt when none does.
std::optional<std::string> error_line(const std::deque<std::string>& tail);

// For a failure's message: "<error line> (last output: <last line>)", the error line alone
// when it is the last, or "last output: <last line>" when no line reads as the error; "" for
// no output at all.
std::string failure_summary(const std::deque<std::string>& tail);

}  // namespace berth
