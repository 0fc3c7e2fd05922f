// $BERTH_HOME ownership: one daemon per home (an OFD lock the kernel drops when the holder
// dies), the API token (made on first start, mode 0600) and daemon.json for clients.
#pragma once
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth {

class HomeLock {
 public:
  // Creates the home if needed and takes its lock. Fails with `daemon_running` when another
  // daemon holds it: at once when daemon.json names a live process, else after 2 s of trying
  // (a daemon killed while it spawned leaves the lock with that child until its exec).
  static Result<HomeLock> acquire(const std::filesystem::path& home);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  UniqueFd fd_;
};

// Whether some process holds HOME's daemon lock now (a daemon runs, or is starting).
bool home_held(const std::filesystem::path& home);

// Reads the token, creating it (32 random bytes, hex, mode 0600) if absent.
Result<std::string> ensure_token(const std::filesystem::path& home);
Result<std::string> read_token(const std::filesystem::path& home);

// daemon.json: how a CLI on this machine reaches the daemon.
struct DaemonInfo {
  uint16_t port = 0;
  int pid = 0;
  std::string address = "127.0.0.1";  // the address to dial (a wildcard listen: loopback)
  bool tls = false;
  std::filesystem::path ca;  // with tls: what the daemon's certificate is verified with
};
Result<void> write_daemon_info(const std::filesystem::path& home, const DaemonInfo& info);
Result<DaemonInfo> read_daemon_info(const std::filesystem::path& home);
void remove_daemon_info(const std::filesystem::path& home);

}  // namespace berth
