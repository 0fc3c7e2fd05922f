#include "cli/top_command.h"

#include <fmt/format.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <ctime>

#include "cli/format.h"

namespace berth::cli {
namespace {

volatile sig_atomic_t g_quit = 0;

// The terminal in "a key at a time, no echo" mode for as long as it lives, put back however
// top ends (q, Ctrl-C, an error), with the cursor shown again.
class RawTerminal {
 public:
  RawTerminal() {
    if (::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    fmt::print("\x1b[?25l");  // hide the cursor while the table redraws
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
    fmt::print("\x1b[?25h");
    std::fflush(stdout);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// One frame: the table, or what went wrong, under a heading.
std::string frame(http::Client& client, bool color) {
  char now[32];
  std::time_t t = std::time(nullptr);
  std::strftime(now, sizeof now, "%H:%M:%S", std::localtime(&t));
  std::string out = fmt::format("berth top   {}   q or Ctrl-C quits\n\n", now);
  auto got = client.request("GET", "/v1/components", "", std::chrono::seconds(10));
  auto j = got ? nlohmann::json::parse(got->body, nullptr, false) : nlohmann::json();
  if (!got || !j.is_object() || !j.contains("components"))
    return out + "the daemon does not answer" + (got ? "" : ": " + got.error().message) + "\n";
  return out + components_table(j["components"], color);
}

}  // namespace

int cmd_top(http::Client& client, bool color, int interval_ms) {
  if (!::isatty(0)) {
    fmt::print("{}", frame(client, color));
    return 0;
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_quit = 1; };
  ::sigaction(SIGINT, &sa, nullptr);  // no SA_RESTART: poll() returns at once
  ::sigaction(SIGTERM, &sa, nullptr);
  RawTerminal raw;
  while (!g_quit) {
    // Home, draw, clear what an earlier, longer frame left below.
    fmt::print("\x1b[H{}\x1b[J", frame(client, color));
    std::fflush(stdout);
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, interval_ms) > 0) {
      char c = 0;
      if (::read(0, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3)) break;
    }
  }
  fmt::print("\n");
  return 0;
}

}  // namespace berth::cli
