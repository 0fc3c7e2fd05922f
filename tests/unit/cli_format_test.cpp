// The CLI's tables and time windows (cli/format, cli/logs_commands).
#include <gtest/gtest.h>

#include "cli/format.h"
#include "cli/logs_commands.h"

namespace berth::cli {
namespace {

TEST(Table, ColourCodesTakeNoWidth) {
  auto t = table({{"NAME", "STATE", "PID"}, {"web", colored_state("ready", "ready"), "42"}});
  auto second = t.substr(t.find('\n') + 1);
  // "PID" and "42" start in the same column although the state cell holds escape codes.
  EXPECT_EQ(t.find("PID"), second.find("42") - std::string("\x1b[32m\x1b[0m").size());
  EXPECT_NE(second.find("\x1b[32mready\x1b[0m"), std::string::npos);
}

TEST(LogTime, DurationsAgoAndTimes) {
  const int64_t now = 1'796'284'672'601;
  EXPECT_EQ(*parse_log_time("10m", now), now - 600'000);
  EXPECT_EQ(*parse_log_time("2026-12-03T07:57:52Z", now), 1'796'284'672'000);
  EXPECT_TRUE(parse_log_time("2026-12-03 07:57:52", now).has_value());  // local time
  EXPECT_TRUE(parse_log_time("2026-12-03", now).has_value());
  EXPECT_FALSE(parse_log_time("yesterday", now).has_value());
  EXPECT_FALSE(parse_log_time("2026-12-03X07:57:52", now).has_value());
}

}  // namespace
}  // namespace berth::cli
