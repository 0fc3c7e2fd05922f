#include "cli/connection.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "config/home.h"

namespace berth::cli {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

Result<Connection> try_connect(const fs::path& home) {
  auto info = read_daemon_info(home);
  if (!info) return fail(Code::kDaemonUnreachable, "no daemon.json in " + home.string());
  auto token = read_token(home);
  if (!token) return fail(Code::kDaemonUnreachable, token.error().message);
  auto client = client_for(*info, *token);
  BERTH_TRY(client);
  auto health = (*client)->request("GET", "/healthz", "", 3s);
  if (!health) return std::unexpected(health.error());
  if (health->status != 200)
    return fail(Code::kDaemonUnreachable, fmt::format("daemon on port {} answers /healthz with {}",
                                                      info->port, health->status));
  return Connection{std::move(*client), info->pid};
}

Result<void> spawn_daemon(const fs::path& home) {
  std::error_code ec;
  fs::create_directories(home, ec);
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail(Code::kDaemonUnreachable, "cannot find the berth executable");
  self[n] = 0;
  std::string log = (home / "daemon.log").string();
  pid_t pid = ::fork();
  if (pid < 0) return fail(Code::kDaemonUnreachable, errno_message("fork", errno));
  if (pid == 0) {
    // Detach fully: new session, no terminal, output to the home's daemon.log.
    ::setsid();
    if (::fork() > 0) ::_exit(0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::close_range(3, ~0U, 0);
    ::setenv("BERTH_HOME", home.c_str(), 1);
    ::execl(self, self, "daemon", nullptr);
    ::_exit(127);
  }
  int status;
  ::waitpid(pid, &status, 0);
  return {};
}

}  // namespace

Result<std::unique_ptr<http::Client>> client_for(const DaemonInfo& info, std::string token) {
  http::TlsContext tls;
  if (info.tls) {
    auto ctx = http::tls_client_context(info.ca);
    if (!ctx) return fail(Code::kDaemonUnreachable, ctx.error().message);
    tls = std::move(*ctx);
  }
  return std::make_unique<http::Client>(info.address, info.port, std::move(token), std::move(tls));
}

Result<Connection> connect(const fs::path& home, bool autostart) {
  auto c = try_connect(home);
  if (c || !autostart) return c;
  // A daemon that holds the home but does not answer yet (starting, swamped, stopped) is
  // waited for, not joined by a second one: that one would find the home locked and exit, or,
  // should the first die meanwhile, start in its place behind the back of whoever restarts it.
  const bool held = home_held(home);
  if (!held) BERTH_TRY(spawn_daemon(home));
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    // Polling is fine here: a person (or script) waits once, at first use.
    std::this_thread::sleep_for(20ms);
    c = try_connect(home);
    if (c) return c;
  }
  if (held)
    return fail(Code::kDaemonUnreachable,
                fmt::format("a berth daemon holds {} but did not answer within 15 s ({})",
                            home.string(), c.error().message));
  return fail(Code::kDaemonUnreachable,
              fmt::format("started berth daemon but it did not become healthy; see {}",
                          (home / "daemon.log").string()));
}

}  // namespace berth::cli
