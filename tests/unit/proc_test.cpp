#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>

#include "core/duration.h"
#include "core/fs_util.h"
#include "core/pattern.h"
#include "proc/failure_line.h"
#include "proc/log_format.h"
#include "proc/log_sink.h"
#include "proc/marker_matcher.h"
#include "proc/proc_stat.h"
#include "proc/process_tree.h"
#include "proc/restart_policy.h"

namespace berth {
namespace {

MarkerMatcher substring(std::string_view marker) {
  return *MarkerMatcher::substring(marker);
}
MarkerMatcher regex(std::string_view pattern) {
  return MarkerMatcher::regex(*Pattern::regex(pattern));
}

TEST(MarkerMatcher, SubstringSplitAcrossChunks) {
  auto m = substring("listening");
  EXPECT_FALSE(m.feed("server lis"));
  EXPECT_FALSE(m.feed("te"));
  EXPECT_TRUE(m.feed("ning on 80"));
  EXPECT_TRUE(m.matched());
}

TEST(MarkerMatcher, SubstringOneByteAtATime) {
  auto m = substring("ready");
  std::string text = "xxreadyxx";
  bool seen = false;
  for (char c : text) seen = m.feed(std::string(1, c)) || seen;
  EXPECT_TRUE(seen);
}

TEST(MarkerMatcher, SubstringAbsent) {
  auto m = substring("ready");
  EXPECT_FALSE(m.feed("rea"));
  EXPECT_FALSE(m.feed("\ndy"));
}

TEST(MarkerMatcher, SubstringIsLiteral) {
  auto m = substring("(a+)+$ [x]");
  EXPECT_FALSE(m.feed("aaaa"));
  EXPECT_TRUE(m.feed("..(a+)+$ [x].."));
}

TEST(MarkerMatcher, RegexMatchesLinesAssembledFromChunks) {
  auto m = regex("port [0-9]+$");
  EXPECT_FALSE(m.feed("listening on po"));
  EXPECT_TRUE(m.feed("rt 8080\nmore"));
}

TEST(MarkerMatcher, RegexMatchesAnUnterminatedPrompt) {
  auto m = regex("^ready> $");
  EXPECT_FALSE(m.feed("rea"));
  EXPECT_TRUE(m.feed("dy> "));
}

// The two inputs that took the daemon down under std::regex: a 16 KiB line against
// `(a|b)*c` overflowed the stack, `(a+)+$` against 34 a's and a '!' never finished.
TEST(MarkerMatcher, PathologicalPatternsFinishWithoutMatching) {
  auto deep = regex("(a|b)*c");
  std::string ab;
  for (int i = 0; i < 8192; ++i) ab += "ab";
  EXPECT_FALSE(deep.feed(ab + "\n"));
  auto nested = regex("(a+)+$");
  EXPECT_TRUE(nested.feed(std::string(34, 'a') + "!\n" + std::string(34, 'a') + "\n"));
  auto bang = regex("(a+)+b");
  EXPECT_FALSE(bang.feed(std::string(100000, 'a') + "!\n"));
  auto alt = regex("(x+x+)+y");
  EXPECT_FALSE(alt.feed(std::string(50000, 'x') + "\n"));
}

// A line fed a byte at a time is not searched again per byte once it is past a prompt's
// length, and a line longer than the cap is still matched on its last part.
TEST(MarkerMatcher, LongLinesAreBoundedAndStillMatch) {
  auto m = regex("END$");
  std::string big(MarkerMatcher::kMaxLine * 2, 'x');
  for (size_t off = 0; off < big.size(); off += 997) EXPECT_FALSE(m.feed(big.substr(off, 997)));
  EXPECT_TRUE(m.feed("END\n"));
}

TEST(MarkerMatcher, InvalidUtf8IsJustBytes) {
  auto m = regex("ready");
  EXPECT_FALSE(m.feed("\xff\xfe garbage \xc3\n"));
  EXPECT_TRUE(m.feed("\xffready\xff\n"));
}

TEST(Pattern, RefusesWhatRe2CannotCompileOrTooLarge) {
  EXPECT_EQ(Pattern::regex("(").error().code, Code::kBadPattern);
  EXPECT_EQ(Pattern::regex("(a)\\1").error().code, Code::kBadPattern);  // backreference
  EXPECT_EQ(Pattern::regex("(?=x)").error().code, Code::kBadPattern);   // lookahead
  EXPECT_FALSE(Pattern::regex("((a{1000}){1000}){1000}"));
  EXPECT_FALSE(Pattern::regex(std::string(Pattern::kMaxLength + 1, 'a')));
  EXPECT_TRUE(Pattern::regex(std::string(Pattern::kMaxLength, 'a')));
}

// A tree the store could not record is aborted right after its spawn: killed at once (no
// grace, even though it ignores SIGTERM and the grace is an hour) and ended as that failure.
TEST(ProcessTree, AbortKillsAtOnceAndEndsAsTheGivenFailure) {
  boost::asio::io_context io;
  Reaper reaper(io);
  reaper.start();
  TreeSpec spec;
  spec.label = "t";
  spec.spawn.argv = {"/bin/sh", "-c", "trap '' TERM; echo up; exec sleep 1000"};
  spec.ready.marker = "never";
  spec.stop.grace = std::chrono::hours(1);
  std::optional<TreeEnd> end;
  ProcessTree::Hooks hooks;
  hooks.on_end = [&](const TreeEnd& e) { end = e; };
  auto tree = ProcessTree::start(io, reaper, spec, hooks);
  ASSERT_TRUE(tree);
  pid_t pid = (*tree)->pid();
  (*tree)->abort({Code::kNotRecorded, "cannot record"});
  while (!end) io.run_one();
  ASSERT_TRUE(end->startup_failure);
  EXPECT_EQ(end->startup_failure->code, Code::kNotRecorded);
  EXPECT_EQ(end->status.signal, SIGKILL);
  EXPECT_FALSE(read_proc_stat(pid) && read_proc_stat(pid)->state != 'Z');
}

TEST(RestartTracker, BackoffDoublesUpToTheCeiling) {
  RestartSpec spec;
  spec.backoff = Millis(100);
  spec.backoff_max = Millis(350);
  spec.start_limit = 100;
  RestartTracker t;
  std::vector<int64_t> delays;
  for (int i = 0; i < 4; ++i)
    delays.push_back(t.on_run_end(spec, true, false, Millis(10)).delay.count());
  EXPECT_EQ(delays, (std::vector<int64_t>{100, 200, 350, 350}));
}

TEST(RestartTracker, StableRunResetsBackoff) {
  RestartSpec spec;
  spec.stable = Millis(1000);
  RestartTracker t;
  t.on_run_end(spec, true, false, Millis(10));
  t.on_run_end(spec, true, false, Millis(10));
  auto d = t.on_run_end(spec, true, false, Millis(5000));
  EXPECT_EQ(d.kind, RestartDecision::Kind::kRestart);
  EXPECT_EQ(d.delay, spec.backoff);
  EXPECT_EQ(t.consecutive_unstable(), 1);
}

TEST(RestartTracker, StartLimitMeansCrashLoop) {
  RestartSpec spec;
  spec.start_limit = 3;
  RestartTracker t;
  EXPECT_EQ(t.on_run_end(spec, true, true, Millis(1)).kind, RestartDecision::Kind::kRestart);
  EXPECT_EQ(t.on_run_end(spec, true, true, Millis(1)).kind, RestartDecision::Kind::kRestart);
  EXPECT_EQ(t.on_run_end(spec, true, true, Millis(1)).kind, RestartDecision::Kind::kCrashLoop);
}

TEST(RestartTracker, Policies) {
  RestartSpec spec;
  RestartTracker t;
  EXPECT_EQ(t.on_run_end(spec, false, false, Millis(1)).kind,
            RestartDecision::Kind::kNone);  // on-failure, clean
  spec.policy = RestartPolicy::kNever;
  EXPECT_EQ(t.on_run_end(spec, true, false, Millis(1)).kind, RestartDecision::Kind::kNone);
  spec.policy = RestartPolicy::kAlways;
  EXPECT_EQ(t.on_run_end(spec, false, false, Millis(60'000)).kind, RestartDecision::Kind::kRestart);
}

TEST(ProcStat, OwnIdentityIsStable) {
  auto a = read_proc_stat(::getpid());
  auto b = read_proc_stat(::getpid());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->start_time, b->start_time);
  EXPECT_EQ(a->pgrp, ::getpgrp());
  EXPECT_GT(a->rss_pages, 0u);
  EXPECT_FALSE(read_proc_stat(0x3fffffff));
}

class LogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-unit-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  boost::asio::io_context io;
};

TEST_F(LogSinkTest, RotatesBySizeAndKeepsNFiles) {
  LogSink sink(io.get_executor(), dir, {100, 2, 10});
  for (int i = 0; i < 50; ++i) sink.append(Stream::kStdout, "line number " + std::to_string(i));
  EXPECT_TRUE(std::filesystem::exists(dir / "output.log"));
  EXPECT_TRUE(std::filesystem::exists(dir / "output.log.1"));
  EXPECT_TRUE(std::filesystem::exists(dir / "output.log.2"));
  EXPECT_FALSE(std::filesystem::exists(dir / "output.log.3"));
  EXPECT_LE(std::filesystem::file_size(dir / "output.log"), 100u);
  auto tail = sink.tail(3);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail.back().text, "line number 49");
  EXPECT_EQ(sink.since(tail[0].seq).size(), 2u);
}

TEST_F(LogSinkTest, RingIsBoundedAndSurvivesReopen) {
  {
    LogSink sink(io.get_executor(), dir, {1 << 20, 1, 5});
    for (int i = 0; i < 20; ++i) sink.append(Stream::kStdout, "l" + std::to_string(i));
    EXPECT_EQ(sink.tail(100).size(), 5u);
  }
  LogSink again(io.get_executor(), dir, {1 << 20, 1, 5});
  auto tail = again.tail(2);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[1].text, "l19");
}

TEST_F(LogSinkTest, TimeAndStreamSurviveReopen) {
  int64_t before = now_ms();
  {
    LogSink sink(io.get_executor(), dir, {1 << 20, 1, 50});
    sink.append(Stream::kStdout, "out line");
    sink.append(Stream::kStderr, "err line");
    sink.append(Stream::kBerth, "[berth] ready");
  }
  LogSink again(io.get_executor(), dir, {1 << 20, 1, 50});
  auto tail = again.tail(3);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].stream, Stream::kStdout);
  EXPECT_EQ(tail[1].stream, Stream::kStderr);
  EXPECT_EQ(tail[1].text, "err line");
  EXPECT_EQ(tail[2].stream, Stream::kBerth);
  for (auto& l : tail) EXPECT_GE(l.ts_ms, before - 1000) << l.text;  // never 0 again
  EXPECT_GE(again.tail(10, tail[1].ts_ms, tail[1].ts_ms).size(), 1u);
  EXPECT_TRUE(again.tail(10, tail[2].ts_ms + 1, INT64_MAX).empty());
}

TEST(LogFormat, RoundTripsAndReadsOldLinesAsTheyAre) {
  auto line = format_log_line(1796284672601, Stream::kStderr, "Error: boom  ");
  EXPECT_EQ(line, "2026-12-03T07:57:52.601Z stderr Error: boom  ");
  auto p = parse_log_line(line);
  EXPECT_EQ(p.ts_ms, 1796284672601);
  EXPECT_EQ(p.stream, Stream::kStderr);
  EXPECT_EQ(p.text, "Error: boom  ");
  for (const char* old : {"plain old line", "2026-12-03T07:57:52.601Z nosuch x",
                          "2026-12-03T07:57:52.601Z stdout", "2026-1x-03T07:57:52.601Z stdout x"}) {
    auto o = parse_log_line(old);
    EXPECT_EQ(o.ts_ms, 0) << old;
    EXPECT_EQ(o.text, old);
  }
  EXPECT_EQ(parse_log_line(format_log_line(5, Stream::kStdout, "")).text, "");
}

// A line of an instance of a component running several says which one; read back the same.
TEST(LogFormat, CarriesTheInstance) {
  auto line = format_log_line(1796284672601, Stream::kStdout, "up", 12);
  EXPECT_EQ(line, "2026-12-03T07:57:52.601Z stdout[12] up");
  auto p = parse_log_line(line);
  EXPECT_EQ(p.instance, 12);
  EXPECT_EQ(p.stream, Stream::kStdout);
  EXPECT_EQ(p.text, "up");
  EXPECT_EQ(parse_log_line(format_log_line(5, Stream::kBerth, "x")).instance, -1);
  for (const char* odd :
       {"2026-12-03T07:57:52.601Z stdout[] x", "2026-12-03T07:57:52.601Z stdout[a] x",
        "2026-12-03T07:57:52.601Z stdout[12345] x", "2026-12-03T07:57:52.601Z stdout[1 x",
        "2026-12-03T07:57:52.601Z stdout[1]x"}) {
    auto o = parse_log_line(odd);
    EXPECT_EQ(o.ts_ms, 0) << odd;  // kept whole, as a line without the prefix
    EXPECT_EQ(o.text, odd);
  }
}

}  // namespace
}  // namespace berth

// ---- the line of a failure's output that says what went wrong ----

namespace berth {
namespace {

std::deque<std::string> lines(std::initializer_list<const char*> l) {
  return {l.begin(), l.end()};
}

TEST(FailureLine, NodeRequireFailureIsItsErrorLineNotTheVersionPrintedLast) {
  auto out = lines({"node:internal/modules/cjs/loader:1228", "  throw err;", "  ^", "",
                    "Error: Cannot find module 'express'", "Require stack:", "- /srv/app/server.js",
                    "    at Module._resolveFilename (node:internal)", "  code: 'MODULE_NOT_FOUND',",
                    "}", "", "Node.js v20.20.2"});
  EXPECT_EQ(failure_summary(out),
            "Error: Cannot find module 'express' (last output: Node.js v20.20.2)");
}

TEST(FailureLine, NodeCodedErrorsAndEaddrinuse) {
  EXPECT_EQ(error_line(lines(
                {"Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x'", "Node.js v20.20.2"})),
            "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x'");
  EXPECT_EQ(error_line(lines({"node:events:497", "      throw er; // Unhandled 'error' event",
                              "Error: listen EADDRINUSE: address already in use :::3300"})),
            "Error: listen EADDRINUSE: address already in use :::3300");
}

TEST(FailureLine, PythonIsItsExceptionLineNotTheTracebackHeader) {
  auto out = lines({"Traceback (most recent call last):", "  File \"/srv/app.py\", line 1",
                    "    import flask", "ModuleNotFoundError: No module named 'flask'"});
  EXPECT_EQ(failure_summary(out), "ModuleNotFoundError: No module named 'flask'");
}

TEST(FailureLine, GoPanicsAndShellErrorsWithoutAnErrorClass) {
  EXPECT_EQ(error_line(lines({"starting", "panic: runtime error: index out of range [3]",
                              "goroutine 1 [running]:", "main.main()", "exit status 2"})),
            "panic: runtime error: index out of range [3]");
  EXPECT_EQ(error_line(lines({"sh: 1: gunicorn: not found"})), "sh: 1: gunicorn: not found");
}

TEST(FailureLine, NothingThatReadsAsAnErrorFallsBackToTheLastLine) {
  EXPECT_EQ(error_line(lines({"loading", "bye"})), std::nullopt);
  EXPECT_EQ(failure_summary(lines({"loading", "bye"})), "last output: bye");
  EXPECT_EQ(failure_summary({}), "");
}

}  // namespace
}  // namespace berth
