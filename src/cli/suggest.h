// "Did you mean": the known word nearest to a mistyped one, for unknown commands. Pure.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace berth::cli {

// The candidate nearest to `word` if it is within 2 edits and fewer edits than half the
// word's letters (so "x" suggests nothing); nullopt when none is that close.
std::optional<std::string> closest(const std::string& word,
                                   const std::vector<std::string>& candidates);

}  // namespace berth::cli
