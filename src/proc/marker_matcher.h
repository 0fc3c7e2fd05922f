// Finds a readiness marker in a stream of output chunks. A substring marker is matched across
// chunk boundaries (a marker written in two halves still counts); a regex marker is matched
// against each complete line, and against an unterminated last line (a prompt) while that is
// short. Both match through RE2, so the work per byte of output is bounded whatever the
// pattern: no marker can stall or crash the daemon (issue: `(a+)+$`, `(a|b)*c`).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/pattern.h"

namespace berth {

class MarkerMatcher {
 public:
  static constexpr size_t kMaxLine = 64 * 1024;  // a longer line is matched on its last 64 KiB
  static constexpr size_t kMaxPrompt = 4096;     // an unterminated line is matched up to this

  // `marker` is at most Pattern::kMaxLength bytes (the manifest refuses longer ones).
  static Result<MarkerMatcher> substring(std::string_view marker);
  static MarkerMatcher regex(Pattern pattern);

  // Feeds raw output bytes; true once the marker has been seen (and from then on).
  bool feed(std::string_view chunk);
  bool matched() const { return matched_; }

 private:
  MarkerMatcher(Pattern p, size_t carry) : pattern_(std::move(p)), literal_carry_(carry) {}
  bool feed_lines(std::string_view chunk);

  Pattern pattern_;
  size_t literal_carry_;  // substring: bytes kept between chunks (marker size - 1); else 0
  bool is_regex_ = false;
  std::string carry_;  // substring: the window's tail; regex: the unterminated line
  bool matched_ = false;
};

}  // namespace berth
