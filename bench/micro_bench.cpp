// Hot paths on every byte a component prints (line splitting, marker matching) and on every
// path a watcher or a pack sees (ignore rules, RE2 since the std::regex/fnmatch crashes).
#include <benchmark/benchmark.h>

#include <string>

#include "core/ignore_rules.h"
#include "core/line_splitter.h"
#include "core/pattern.h"
#include "proc/marker_matcher.h"

namespace {

std::string sample_output() {
  std::string s;
  for (int i = 0; i < 1000; ++i)
    s += "GET /api/items/" + std::to_string(i) + " 200 1.2ms \xE2\x82\xAC ok\n";
  return s;
}

void BM_LineSplitter(benchmark::State& state) {
  auto data = sample_output();
  size_t lines = 0;
  berth::LineSplitter splitter([&](std::string_view) { ++lines; });
  for (auto _ : state) {
    // Odd-sized chunks, as pipes deliver them.
    for (size_t off = 0; off < data.size(); off += 4093)
      splitter.feed(std::string_view(data).substr(off, 4093));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  benchmark::DoNotOptimize(lines);
}
BENCHMARK(BM_LineSplitter);

void BM_MarkerSubstring(benchmark::State& state) {
  auto data = sample_output();
  for (auto _ : state) {
    auto m = *berth::MarkerMatcher::substring("server listening on port");
    for (size_t off = 0; off < data.size(); off += 4093)
      m.feed(std::string_view(data).substr(off, 4093));
    benchmark::DoNotOptimize(m.matched());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_MarkerSubstring);

void BM_MarkerRegex(benchmark::State& state) {
  auto data = sample_output();
  auto pattern = *berth::Pattern::regex("listening on port [0-9]+$");
  for (auto _ : state) {
    auto m = berth::MarkerMatcher::regex(pattern);
    for (size_t off = 0; off < data.size(); off += 4093)
      m.feed(std::string_view(data).substr(off, 4093));
    benchmark::DoNotOptimize(m.matched());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_MarkerRegex);

// The worst input a hostile marker had: 16 KiB of "ab" against (a|b)*c (a stack overflow
// under std::regex). Linear now; the figure is bytes a second.
void BM_MarkerRegexHostile(benchmark::State& state) {
  std::string line;
  for (int i = 0; i < 8192; ++i) line += "ab";
  line += "\n";
  auto pattern = *berth::Pattern::regex("(a|b)*c");
  for (auto _ : state) {
    auto m = berth::MarkerMatcher::regex(pattern);
    benchmark::DoNotOptimize(m.feed(line));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * line.size()));
}
BENCHMARK(BM_MarkerRegexHostile);

// Paths per second through the default ignore rules plus a few manifest globs.
void BM_IgnoreRules(benchmark::State& state) {
  auto rules = berth::IgnoreRules::load("/nonexistent", {"dist/", "**/*.map", "coverage/**"}, {});
  std::vector<std::string> paths;
  for (int i = 0; i < 1000; ++i)
    paths.push_back("src/module" + std::to_string(i % 37) + "/file" + std::to_string(i) + ".js");
  for (auto _ : state)
    for (auto& p : paths) benchmark::DoNotOptimize(rules.ignored(p, false));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * paths.size()));
}
BENCHMARK(BM_IgnoreRules);

}  // namespace

BENCHMARK_MAIN();
