// Hot paths on every byte a component prints: line splitting and marker matching.
#include <benchmark/benchmark.h>

#include <string>

#include "core/line_splitter.h"
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

}  // namespace

BENCHMARK_MAIN();
