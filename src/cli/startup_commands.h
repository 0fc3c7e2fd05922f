// `berth startup` / `berth unstartup`: a systemd unit that starts the daemon at boot (a system
// unit as root, else a user unit), written, reloaded and enabled; and its removal.
#pragma once
#include <filesystem>
#include <string>

namespace berth::cli {

struct StartupOptions {
  std::filesystem::path home;      // the daemon's BERTH_HOME
  std::filesystem::path unit_dir;  // where berth.service goes; empty: systemd's own for us
  bool print = false;              // print the unit, write nothing
  bool user = false;               // a user unit (the default when not root)
  std::filesystem::path bin;       // the berth ExecStart runs; empty: this binary
};

// The unit text for `berth_bin` serving `home`.
std::string startup_unit(const std::filesystem::path& berth_bin, const std::filesystem::path& home,
                         bool user);
int cmd_startup(const StartupOptions& o);
int cmd_unstartup(const StartupOptions& o);

}  // namespace berth::cli
