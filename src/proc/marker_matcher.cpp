#include "proc/marker_matcher.h"

namespace berth {

MarkerMatcher MarkerMatcher::substring(std::string marker) {
  MarkerMatcher m;
  m.marker_ = std::move(marker);
  return m;
}

MarkerMatcher MarkerMatcher::regex(const std::string& pattern) {
  MarkerMatcher m;
  m.regex_.emplace(pattern);
  return m;
}

bool MarkerMatcher::feed(std::string_view chunk) {
  if (matched_) return true;
  if (!regex_) {
    std::string window = carry_;
    window.append(chunk);
    if (window.find(marker_) != std::string::npos) return matched_ = true;
    size_t keep = marker_.size() - 1;
    carry_ = window.size() > keep ? window.substr(window.size() - keep) : window;
    return false;
  }
  carry_.append(chunk);
  size_t start = 0;
  for (size_t nl; (nl = carry_.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (std::regex_search(carry_.begin() + static_cast<long>(start),
                          carry_.begin() + static_cast<long>(nl), *regex_))
      return matched_ = true;
  }
  carry_.erase(0, start);
  // An unterminated line can match too (a prompt without newline); bound the carry.
  if (std::regex_search(carry_, *regex_)) return matched_ = true;
  if (carry_.size() > 64 * 1024) carry_.erase(0, carry_.size() - 64 * 1024);
  return false;
}

}  // namespace berth
