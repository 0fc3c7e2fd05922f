#include "cli/suggest.h"

#include <algorithm>

namespace berth::cli {
namespace {

// Levenshtein distance, one row at a time.
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> closest(const std::string& word,
                                   const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_d = std::min<size_t>(3, (word.size() + 1) / 2);  // must be below this
  for (auto& c : candidates)
    if (auto d = distance(word, c); d < best_d) {
      best_d = d;
      best = c;
    }
  return best;
}

}  // namespace berth::cli
