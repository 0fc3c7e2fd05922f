#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "core/byte_size.h"
#include "core/daemon_log.h"
#include "core/debouncer.h"
#include "core/duration.h"
#include "core/fs_util.h"
#include "core/line_splitter.h"
#include "core/sha256.h"
#include "support/temp_dir.h"

namespace berth {
namespace {
namespace fs = std::filesystem;

TEST(Duration, ParsesUnitsAndCombinations) {
  EXPECT_EQ(parse_duration("250ms").value(), Millis(250));
  EXPECT_EQ(parse_duration("10s").value(), Millis(10'000));
  EXPECT_EQ(parse_duration("1.5s").value(), Millis(1'500));
  EXPECT_EQ(parse_duration("2m").value(), Millis(120'000));
  EXPECT_EQ(parse_duration("1h30m").value(), Millis(5'400'000));
}

TEST(Duration, RefusesBareNumbersAndUnknownUnits) {
  EXPECT_FALSE(parse_duration("10"));
  EXPECT_FALSE(parse_duration("10 s"));
  EXPECT_FALSE(parse_duration("10y"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_EQ(parse_duration("10").error().code, Code::kBadDuration);
}

TEST(Duration, FormatsShortly) {
  EXPECT_EQ(format_duration(Millis(250)), "250ms");
  EXPECT_EQ(format_duration(Millis(10'000)), "10s");
  EXPECT_EQ(format_duration(Millis(1'500)), "1.5s");
  EXPECT_EQ(format_duration(Millis(120'000)), "2m");
}

std::vector<std::string> split(const std::vector<std::string>& chunks, size_t cap = 1024,
                               bool flush = true) {
  std::vector<std::string> out;
  LineSplitter s([&](std::string_view l) { out.emplace_back(l); }, cap);
  for (auto& c : chunks) s.feed(c);
  if (flush) s.flush();
  return out;
}

TEST(LineSplitter, SplitsAcrossChunks) {
  EXPECT_EQ(split({"a", "b\nc", "d\n"}), (std::vector<std::string>{"ab", "cd"}));
}

TEST(LineSplitter, CrlfEndsALine) {
  EXPECT_EQ(split({"one\r", "\ntwo\r\n"}), (std::vector<std::string>{"one", "two"}));
}

TEST(LineSplitter, ReassemblesUtf8SplitAcrossReads) {
  std::string euro = "\xE2\x82\xAC";  // U+20AC in three bytes
  auto lines = split({"price: " + euro.substr(0, 1), euro.substr(1, 1), euro.substr(2) + "5\n"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "price: " + euro + "5");
}

TEST(LineSplitter, FourByteCharacterAtEverySplitPosition) {
  const std::string emoji = "\xF0\x9F\x9A\xA2";  // U+1F6A2 SHIP, four bytes
  const std::string text = "a" + emoji + "b\n" + emoji + "\n";
  // Every way of cutting the stream in two and in three pieces.
  for (size_t i = 0; i <= text.size(); ++i)
    for (size_t j = i; j <= text.size(); ++j) {
      auto lines = split({text.substr(0, i), text.substr(i, j - i), text.substr(j)});
      ASSERT_EQ(lines, (std::vector<std::string>{"a" + emoji + "b", emoji})) << i << "," << j;
    }
}

TEST(Sha256, MatchesKnownDigests) {
  EXPECT_EQ(Sha256::of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(LineSplitter, FlushesAFinalUnterminatedLine) {
  EXPECT_EQ(split({"x\ntail"}), (std::vector<std::string>{"x", "tail"}));
  EXPECT_EQ(split({"x\ntail"}, 1024, false), (std::vector<std::string>{"x"}));
}

TEST(LineSplitter, CapsLongLinesOnCharacterBoundaries) {
  std::string euro = "\xE2\x82\xAC";
  std::string line;
  for (int i = 0; i < 10; ++i) line += euro;  // 30 bytes
  auto lines = split({line + "\n"}, 8);
  std::string joined;
  for (auto& l : lines) {
    EXPECT_LE(l.size(), 8u);
    EXPECT_EQ(l.size() % 3, 0u) << "cut inside a character";
    joined += l;
  }
  EXPECT_EQ(joined, line);
}

TEST(LineSplitter, BoundsMemoryForEndlessLines) {
  std::vector<std::string> out;
  LineSplitter s([&](std::string_view l) { out.emplace_back(l); }, 16);
  for (int i = 0; i < 100; ++i) s.feed("abcdefgh");
  EXPECT_LE(s.pending(), 16u);
  EXPECT_FALSE(out.empty());
}

TEST(ByteSize, ParsesUnitsAsPowersOf1024) {
  EXPECT_EQ(*parse_byte_size("0"), 0u);
  EXPECT_EQ(*parse_byte_size("512"), 512u);
  EXPECT_EQ(*parse_byte_size("1KiB"), 1024u);
  EXPECT_EQ(*parse_byte_size("2 MB"), 2u << 20);
  EXPECT_EQ(*parse_byte_size("1.5g"), 3ull << 29);
  EXPECT_EQ(*parse_byte_size("10GiB"), 10ull << 30);
  for (const char* bad : {"", "lots", "-1G", "5 parsecs", "1e30"})
    EXPECT_EQ(parse_byte_size(bad).error().code, Code::kBadSize) << bad;
}

// The daemon's log under a flood: ten seconds' worth of lines pass at once, the rest is
// counted and reported when lines pass again, and the file rotates at its size cap.
TEST(DaemonLogSink, RateLimitsCountsAndRotates) {
  test::TempDir dir;
  auto path = dir.path / "daemon.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  auto now = std::chrono::steady_clock::time_point{};
  auto sink = std::make_shared<DaemonLogSink>(fd, 10, 512, [&] { return now; });
  spdlog::logger log("t", sink);
  log.set_pattern("%v");
  for (int i = 0; i < 1000; ++i) log.info("line {}", i);
  EXPECT_EQ(sink->suppressed_total(), 900u);  // a burst of 10 s x 10 lines passed
  now += std::chrono::seconds(1);             // 10 more tokens
  log.info("after");
  auto all = read_file(path).value_or("") + read_file(dir.path / "daemon.log.1").value_or("");
  EXPECT_NE(all.find("900 log lines were dropped"), std::string::npos);
  EXPECT_NE(all.find("after"), std::string::npos);
  EXPECT_LE(fs::file_size(path), 512u);
  EXPECT_TRUE(fs::exists(dir.path / "daemon.log.1"));  // 100 lines of ~8 bytes overflowed it
  ::close(fd);
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

// The rule that keeps the watcher's ceiling from cutting a burst in two, on synthetic times.
TEST(BurstMeter, AThousandFilesASecondIsABurstAWriteEvery10msIsNot) {
  using namespace std::chrono_literals;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  BurstMeter burst(50ms);  // the default debounce: a window of kMinWindow
  EXPECT_EQ(burst.window(), BurstMeter::kMinWindow);
  for (int i = 0; i < 1000; ++i) burst.add(t0 + i * 1ms);  // 2,000 files in 2 s, say
  EXPECT_TRUE(burst.dense(t0 + 999ms));
  EXPECT_FALSE(burst.dense(t0 + 999ms + burst.window() + 1ms));  // it has ended
  BurstMeter drizzle(100ms);
  for (int i = 0; i < 100; ++i) drizzle.add(t0 + i * 10ms);  // a log line every 10 ms
  EXPECT_FALSE(drizzle.dense(t0 + 990ms));
  // Clumps (events read in batches by a busy loop) over a longer quiet period still count.
  BurstMeter clumps(300ms);
  for (int chunk = 0; chunk < 3; ++chunk)
    for (int i = 0; i < 100; ++i) clumps.add(t0 + chunk * 160ms);
  EXPECT_TRUE(clumps.dense(t0 + 330ms));
  clumps.clear();
  EXPECT_FALSE(clumps.dense(t0 + 330ms));
}

}  // namespace
}  // namespace berth
