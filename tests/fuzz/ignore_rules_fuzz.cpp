// Watch and packing globs from a manifest or a .berthignore: any glob compiles into a bounded
// RE2 or is refused as bad_pattern, and matching any path never crashes. Input: glob lines,
// NUL, include lines, NUL, path lines to ask about.
#include <string>
#include <vector>

#include "core/ignore_rules.h"
#include "core/pattern.h"
#include "fuzz_input.h"

namespace {

std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  for (size_t nl; (nl = text.find('\n')) != std::string_view::npos; text.remove_prefix(nl + 1))
    out.emplace_back(text.substr(0, nl));
  if (!text.empty()) out.emplace_back(text);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  const auto globs = lines(in.part());
  const auto include = lines(in.part());
  const auto paths = lines(in.rest());
  for (const auto& g : globs) {
    auto p = berth::Pattern::glob(g);
    if (!p) FUZZ_CHECK(p.error().code == berth::Code::kBadPattern);
  }
  // No .berthignore is read: the root does not exist.
  const auto rules = berth::IgnoreRules::load("/nonexistent/berth-fuzz", globs, include);
  for (const auto& path : paths) {
    (void)rules.ignored(path, false);
    (void)rules.ignored(path, true);
    (void)rules.counts(path);
  }
  return 0;
}
