// Finds a readiness marker in a stream of output chunks. A substring marker is matched across
// chunk boundaries (a marker written in two halves still counts); a regex marker is matched
// against each complete line.
#pragma once
#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace berth {

class MarkerMatcher {
 public:
  static MarkerMatcher substring(std::string marker);
  static MarkerMatcher regex(const std::string& pattern);

  // Feeds raw output bytes; true once the marker has been seen (and from then on).
  bool feed(std::string_view chunk);
  bool matched() const { return matched_; }

 private:
  std::string marker_;
  std::optional<std::regex> regex_;
  std::string carry_;  // substring: last marker.size()-1 bytes; regex: the unterminated line
  bool matched_ = false;
};

}  // namespace berth
