#include "cli/startup_commands.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "config/home.h"
#include "core/fs_util.h"

namespace berth::cli {
namespace fs = std::filesystem;
namespace {

constexpr const char* kUnit = "berth.service";

bool systemd_runs() {
  std::error_code ec;
  return fs::exists("/run/systemd/system", ec);  // sd_booted(3)'s test
}

// systemctl [--user] ARGS..., its output passed through; its exit code.
int systemctl(bool user, const std::vector<std::string>& args) {
  std::string cmd = user ? "systemctl --user" : "systemctl";
  for (const auto& a : args) cmd += " " + a;
  fmt::print("$ {}\n", cmd);
  std::fflush(stdout);
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

fs::path unit_dir(const StartupOptions& o) {
  if (!o.unit_dir.empty()) return o.unit_dir;
  if (!o.user) return "/etc/systemd/system";
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : "/") / ".config/systemd/user";
}

// systemd's quoting for one word of Environment= / ExecStart=.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '%') out += '%';  // a specifier otherwise
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string startup_unit(const fs::path& berth_bin, const fs::path& home, bool user) {
  return fmt::format(
      "# Written by `berth startup`; `berth unstartup` removes it.\n"
      "[Unit]\n"
      "Description=berth: supervised application components\n"
      "After=network-online.target\n"
      "Wants=network-online.target\n"
      "\n"
      "[Service]\n"
      // READY=1 once the API listens, STOPPING=1 when the stop begins.
      "Type=notify\n"
      "NotifyAccess=main\n"
      "ExecStart={} daemon\n"
      "Environment={}\n"
      // The daemon owns its cgroup subtree: each component's group is a sibling of the leaf
      // the daemon moves itself into, and [limits] controllers can be turned on.
      "Delegate=yes\n"
      // SIGTERM to the daemon alone: it stops every component with its own [stop] grace; only
      // what outlives the timeout gets systemd's SIGKILL.
      "KillMode=mixed\n"
      "TimeoutStopSec=120\n"
      "Restart=on-failure\n"
      "RestartSec=1\n"
      "LimitNOFILE=65536\n"
      "\n"
      "[Install]\n"
      "WantedBy={}\n",
      quoted(berth_bin.string()), quoted("BERTH_HOME=" + home.string()),
      user ? "default.target" : "multi-user.target");
}

int cmd_startup(const StartupOptions& o) {
  std::error_code ec;
  fs::path bin = o.bin.empty() ? fs::read_symlink("/proc/self/exe", ec) : o.bin;
  if (ec) bin = "/usr/bin/berth";
  const std::string unit = startup_unit(bin, fs::absolute(o.home), o.user);
  if (o.print) {
    fmt::print("{}", unit);
    return 0;
  }
  const fs::path dir = unit_dir(o);
  fs::create_directories(dir, ec);
  const fs::path path = dir / kUnit;
  if (auto r = write_file_atomic(path, unit); !r) {
    fmt::print(stderr, "berth: cannot write {}: {}\n", path.string(), r.error().message);
    return 1;
  }
  fmt::print("wrote {}\n", path.string());
  if (!o.unit_dir.empty() || !systemd_runs()) {
    fmt::print("{}; to use it: systemctl{} daemon-reload && systemctl{} enable --now berth\n",
               o.unit_dir.empty() ? "systemd is not running here" : "written to --unit-dir",
               o.user ? " --user" : "", o.user ? " --user" : "");
    return 0;
  }
  if (systemctl(o.user, {"daemon-reload"}) != 0) return 1;
  // A daemon started by the CLI holds the home: the unit's would refuse to start beside it.
  auto info = read_daemon_info(o.home);
  const bool running = info && info->pid > 0 && ::kill(info->pid, 0) == 0;
  if (systemctl(o.user, {"enable", running ? "" : "--now", kUnit}) != 0) return 1;
  if (running)
    fmt::print(
        "a daemon runs now outside systemd (pid {}): `berth shutdown`, then `systemctl{} "
        "start berth` hands it to systemd\n",
        info->pid, o.user ? " --user" : "");
  if (o.user)
    fmt::print(
        "a user unit runs while you are logged in; to start it at boot without a login: "
        "loginctl enable-linger $USER\n");
  return 0;
}

int cmd_unstartup(const StartupOptions& o) {
  const fs::path path = unit_dir(o) / kUnit;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    fmt::print("no {} (nothing to remove)\n", path.string());
    return 0;
  }
  if (o.unit_dir.empty() && systemd_runs()) (void)systemctl(o.user, {"disable", "--now", kUnit});
  fs::remove(path, ec);
  if (ec) {
    fmt::print(stderr, "berth: cannot remove {}: {}\n", path.string(), ec.message());
    return 1;
  }
  fmt::print("removed {}\n", path.string());
  if (o.unit_dir.empty() && systemd_runs()) (void)systemctl(o.user, {"daemon-reload"});
  return 0;
}

}  // namespace berth::cli
