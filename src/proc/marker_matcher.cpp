#include "proc/marker_matcher.h"

namespace berth {

Result<MarkerMatcher> MarkerMatcher::substring(std::string_view marker) {
  auto p = Pattern::literal(marker);
  BERTH_TRY(p);
  return MarkerMatcher(std::move(*p), marker.empty() ? 0 : marker.size() - 1);
}

MarkerMatcher MarkerMatcher::regex(Pattern pattern) {
  MarkerMatcher m(std::move(pattern), 0);
  m.is_regex_ = true;
  return m;
}

bool MarkerMatcher::feed(std::string_view chunk) {
  if (matched_) return true;
  if (is_regex_) return matched_ = feed_lines(chunk);
  // The marker may straddle chunks: search the kept tail plus this chunk, keep the new tail.
  carry_.append(chunk);
  if (pattern_.search(carry_)) return matched_ = true;
  if (carry_.size() > literal_carry_) carry_.erase(0, carry_.size() - literal_carry_);
  return false;
}

bool MarkerMatcher::feed_lines(std::string_view chunk) {
  // Each complete line is searched once, so the work is linear in the output.
  for (size_t nl; (nl = chunk.find('\n')) != std::string_view::npos; chunk.remove_prefix(nl + 1)) {
    std::string_view line = chunk.substr(0, nl);
    if (!carry_.empty()) {
      carry_.append(line);
      if (carry_.size() > kMaxLine) carry_.erase(0, carry_.size() - kMaxLine);
      line = carry_;
    } else if (line.size() > kMaxLine) {
      line.remove_prefix(line.size() - kMaxLine);
    }
    if (pattern_.search(line)) return true;
    carry_.clear();
  }
  carry_.append(chunk);
  if (carry_.size() > kMaxLine) carry_.erase(0, carry_.size() - kMaxLine);
  // A prompt ends without a newline; a long unterminated line is not one, and searching it
  // again on every chunk would make the work quadratic.
  return carry_.size() <= kMaxPrompt && pattern_.search(carry_);
}

}  // namespace berth
