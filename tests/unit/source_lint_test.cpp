// Source checks that keep known failures from being written again: the coroutine shapes GCC
// 12 miscompiles (flagged, their named rewrites passed, none in the sources), and std::regex,
// which backtracks and recursed the daemon into a stack overflow on a user's marker.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/failpoint.h"
#include "lint/coroutine_lint.h"

namespace berth {
namespace {
namespace fs = std::filesystem;
using lint::coroutine_hazards;

TEST(CoroutineLint, FlagsAConditionalAroundAnAwait) {
  auto f = coroutine_hazards("auto r = fresh ? c->start_now() : co_await c->restart();");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].what, "conditional operator");
  EXPECT_EQ(f[0].line, 1);
  EXPECT_EQ(coroutine_hazards("x();\nco_return flag ? co_await a() : b;").at(0).line, 2);
  EXPECT_EQ(coroutine_hazards("f(co_await g(), ok ? 1 : 2);").size(), 1u);
}

TEST(CoroutineLint, FlagsALambdaCapturingByCopyInsideAnAwait) {
  auto f = coroutine_hazards("auto r = co_await offload(pool_, [dir, &x] { return go(dir); });");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].what, "lambda capturing by copy: [dir]");
  EXPECT_EQ(coroutine_hazards("co_await run([=] { work(); });").size(), 1u);
  EXPECT_EQ(coroutine_hazards("co_await run([self = shared_from_this()] {});").size(), 1u);
  EXPECT_EQ(coroutine_hazards("co_await [t = T{}]() -> awaitable<int> { co_return 1; }();").size(),
            1u);
}

TEST(CoroutineLint, PassesTheNamedRewritesAndHarmlessShapes) {
  const char* ok[] = {
      "Result<void> r;\nif (fresh) r = c->start_now(); else r = co_await c->restart();",
      "auto work = [dir] { return go(dir); };\nauto r = co_await offload(pool_, work);",
      "co_await wait_until([&] { return done; }, deadline);",
      "co_await run([this, &x] { go(x); });",
      "if (auto r = co_await extract(a); !r) co_return a.cancel ? fail() : r;",
      "auto v = items[i] ? 1 : 2;\nco_await next();",
      "if (x) { y = a ? b : c; }\nco_await next();",
      "co_await send(\"what? [x] {}\"); // a ? b : c\n/* [y] { } ? */",
      "co_await send(R\"(a ? b : [x]{})\"); co_await wait(1'000);",
      "auto [a, b] = co_await pair();",
      "co_await f(v[0], m[k]);",
      "#define X(a) (a ? 1 : 2)\nco_await next();",
  };
  for (const char* s : ok) {
    auto f = coroutine_hazards(s);
    EXPECT_TRUE(f.empty()) << s << "\n  flagged: " << (f.empty() ? "" : f[0].what);
  }
}

// Every C++ file of the project but this one, with its path relative to the source root.
std::vector<std::pair<std::string, std::string>> sources() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* dir : {"src", "tests", "bench"}) {
    for (auto& e : fs::recursive_directory_iterator(fs::path(BERTH_SOURCE_DIR) / dir)) {
      auto ext = e.path().extension();
      if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
      if (e.path().filename() == "source_lint_test.cpp") continue;  // its samples are bad
      std::ifstream in(e.path());
      std::stringstream text;
      text << in.rdbuf();
      out.emplace_back(fs::relative(e.path(), BERTH_SOURCE_DIR).string(), text.str());
    }
  }
  return out;
}

// The project's own code stays free of both shapes; each finding names file, line and fix.
TEST(CoroutineLint, NoneInTheSources) {
  std::string report;
  auto files = sources();
  for (auto& [path, text] : files)
    for (auto& f : coroutine_hazards(text))
      report += path + ":" + std::to_string(f.line) + ": " + f.what +
                " in a co_await expression: " + f.excerpt + "\n";
  EXPECT_GT(files.size(), 50u);
  EXPECT_TRUE(report.empty()) << "GCC 12 destroys temporaries of these twice; name the value "
                                 "in a statement of its own first:\n"
                              << report;
}

// Dependencies run one way (docs/architecture.md): a module includes only modules of a lower
// layer, never a sibling or a higher one. main.cpp, the composition root, may include all.
TEST(SourceLint, DependenciesRunOneWay) {
  const std::map<std::string, int> layer = {
      {"core", 0},  {"proc", 1}, {"watch", 1},  {"archive", 1}, {"cache", 1},
      {"store", 1}, {"http", 1}, {"config", 2}, {"deploy", 3},  {"cluster", 4},
      {"api", 5},   {"cli", 5},  {"host", 6}};
  std::string report;
  for (auto& [path, text] : sources()) {
    if (!path.starts_with("src/") || path == "src/main.cpp" || path == "src/pch.h") continue;
    std::string module = path.substr(4, path.find('/', 4) - 4);
    auto mine = layer.find(module);
    if (mine == layer.end()) {
      report += path + ": module \"" + module + "\" has no layer; add it here and to the docs\n";
      continue;
    }
    std::istringstream lines(text);
    int n = 0;
    for (std::string line; std::getline(lines, line);) {
      ++n;
      if (!line.starts_with("#include \"")) continue;
      std::string target = line.substr(10, line.find('/', 10) - 10);
      auto theirs = layer.find(target);
      if (target == module || theirs == layer.end()) continue;
      if (theirs->second >= mine->second)
        report += path + ":" + std::to_string(n) + ": " + module + " (layer " +
                  std::to_string(mine->second) + ") includes " + target + " (layer " +
                  std::to_string(theirs->second) + ")\n";
    }
  }
  EXPECT_TRUE(report.empty()) << report;
}

// User patterns go through core/pattern (RE2, linear time); std::regex is not used at all.
TEST(SourceLint, NoStdRegex) {
  for (auto& [path, text] : sources())
    EXPECT_EQ(text.find("#include <regex>"), std::string::npos)
        << path << ": use core/pattern.h (RE2) instead of std::regex";
}

// The failpoint list and the seams agree: every name is asked somewhere in src/, and every
// BERTH_FAIL("...") names a listed failpoint (arming a name no seam asks would test nothing).
TEST(SourceLint, FailpointsListedAreTheFailpointsAsked) {
  std::set<std::string> asked;
  const std::string macro = "BERTH_FAIL(\"";
  for (auto& [path, text] : sources()) {
    if (!path.starts_with("src/")) continue;
    for (size_t at = text.find(macro); at != std::string::npos; at = text.find(macro, at + 1)) {
      const size_t start = at + macro.size();
      asked.insert(text.substr(start, text.find('"', start) - start));
    }
  }
  std::set<std::string> listed;
  for (auto n : failpoint::names()) listed.emplace(n);
  EXPECT_EQ(asked, listed);
}

}  // namespace
}  // namespace berth
