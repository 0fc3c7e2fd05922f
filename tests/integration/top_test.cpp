// `berth top` in a real terminal (a pty): it draws the live table, and `q` or Ctrl-C quits
// with status 0 and the cursor shown again.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "harness.h"

namespace berth::testing {
namespace {

class TopTest : public ::testing::TestWithParam<std::string> {};

// Reads the pty until `want` has been seen (true) or 60 s passed (false).
bool read_until(int fd, std::string& out, const std::function<bool()>& seen) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!seen()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return seen();
    out.append(buf, static_cast<size_t>(n));
  }
  return true;
}

TEST_P(TopTest, DrawsTheTableAndQuits) {
  TestDaemon d;
  auto dir = d.component("web", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  int master = -1;
  const auto env = d.env();
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::setenv("NO_COLOR", "1", 1);
    ::execl(BERTH_BIN, BERTH_BIN, "top", nullptr);
    ::_exit(127);
  }
  std::string out;
  EXPECT_TRUE(read_until(master, out, [&] {
    return out.find("berth top") != std::string::npos && out.find("web") != std::string::npos &&
           out.find("ready") != std::string::npos;
  })) << out;
  // Two frames: it refreshes by itself.
  EXPECT_TRUE(read_until(master, out, [&] {
    return out.find("berth top", out.find("berth top") + 1) != std::string::npos;
  })) << out;
  const std::string key = GetParam() == "q" ? "q" : "\x03";
  ASSERT_EQ(::write(master, key.data(), key.size()), 1);
  read_until(master, out, [&] { return out.find("\x1b[?25h") != std::string::npos; });
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(master);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(out.find("\x1b[?25h"), std::string::npos) << "the cursor is shown again";
}

INSTANTIATE_TEST_SUITE_P(Keys, TopTest, ::testing::Values("q", "ctrl-c"),
                         [](const auto& info) { return info.param == "q" ? "q" : "CtrlC"; });

}  // namespace
}  // namespace berth::testing
