#include "proc/failure_line.h"

#include "core/pattern.h"

namespace berth {
namespace {

// Two tiers: a line naming an error or exception class beats the looser words, so Python's
// "Traceback (most recent call last):" header loses to the "ValueError: ..." line under it.
struct ErrorPatterns {
  Pattern named = *Pattern::regex(R"((^|[\s:])[A-Za-z_.]*(Error|Exception)(\s*\[[^\]]*\])?:\s)");
  Pattern loose = *Pattern::regex(
      R"((?i)(panic:|fatal|traceback|EADDRINUSE|EACCES|ECONNREFUSED|segmentation fault|out of memory|permission denied|no such file|command not found|cannot find|not found))");
};

const ErrorPatterns& patterns() {
  static const ErrorPatterns p;  // compiled once; immutable, so shared across threads
  return p;
}

}  // namespace

std::optional<std::string> error_line(const std::deque<std::string>& tail) {
  for (const auto& l : tail)
    if (patterns().named.search(l)) return l;
  for (const auto& l : tail)
    if (patterns().loose.search(l)) return l;
  return std::nullopt;
}

std::string failure_summary(const std::deque<std::string>& tail) {
  if (tail.empty()) return "";
  auto line = error_line(tail);
  if (!line) return "last output: " + tail.back();
  if (*line == tail.back()) return *line;
  return *line + " (last output: " + tail.back() + ")";
}

}  // namespace berth
