#include "config/home.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/fs_util.h"
#include "core/random_id.h"

namespace berth {
namespace fs = std::filesystem;

Result<HomeLock> HomeLock::acquire(const fs::path& home) {
  std::error_code ec;
  fs::create_directories(home, ec);
  if (ec)
    return fail(Code::kHomeError, fmt::format("cannot create {}: {}", home.string(), ec.message()));
  ::chmod(home.c_str(), 0700);
  HomeLock lock;
  lock.dir_ = home;
  auto path = home / "daemon.lock";
  // O_CLOEXEC: a component must never inherit (and so keep alive) the daemon's lock.
  lock.fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.fd_) return fail(Code::kHomeError, errno_message("open " + path.string(), errno));
  // The lock's descriptor is close-on-exec, but a child forked by a daemon killed before that
  // child's exec holds it until the exec: moments, and a restart (systemd's, a test's) can come
  // sooner. So it is tried for a while unless daemon.json names a live daemon.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(lock.fd_.get(), F_OFD_SETLK, &fl) == 0) return lock;
    if (errno != EAGAIN && errno != EACCES)
      return fail(Code::kHomeError, errno_message("lock " + path.string(), errno));
    auto info = read_daemon_info(home);
    const bool live = info && info->pid > 0 && ::kill(info->pid, 0) == 0;
    if (live || std::chrono::steady_clock::now() >= deadline)
      return fail(Code::kDaemonRunning,
                  fmt::format("another berth daemon{} already runs with home {}",
                              info ? fmt::format(" (pid {}, port {})", info->pid, info->port) : "",
                              home.string()));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool home_held(const fs::path& home) {
  UniqueFd fd(::open((home / "daemon.lock").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  return ::fcntl(fd.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

Result<std::string> read_token(const fs::path& home) {
  auto t = read_file(home / "token");
  BERTH_TRY(t);
  while (!t->empty() && (t->back() == '\n' || t->back() == ' ')) t->pop_back();
  return *t;
}

Result<std::string> ensure_token(const fs::path& home) {
  if (fs::exists(home / "token")) {
    ::chmod((home / "token").c_str(), 0600);
    return read_token(home);
  }
  std::string token = random_hex(32);
  BERTH_TRY(write_file_atomic(home / "token", token + "\n", 0600));
  return token;
}

Result<void> write_daemon_info(const fs::path& home, const DaemonInfo& info) {
  nlohmann::json j = {{"port", info.port},
                      {"pid", info.pid},
                      {"address", info.address},
                      {"tls", info.tls},
                      {"ca", info.ca.string()}};
  return write_file_atomic(home / "daemon.json", j.dump() + "\n", 0644);
}

Result<DaemonInfo> read_daemon_info(const fs::path& home) {
  auto text = read_file(home / "daemon.json");
  BERTH_TRY(text);
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.contains("port") || !j.contains("pid"))
    return fail(Code::kHomeError, (home / "daemon.json").string() + " is malformed");
  DaemonInfo info{j["port"].get<uint16_t>(), j["pid"].get<int>()};
  info.address = j.value("address", info.address);
  info.tls = j.value("tls", false);
  info.ca = j.value("ca", "");
  return info;
}

void remove_daemon_info(const fs::path& home) {
  std::error_code ec;
  fs::remove(home / "daemon.json", ec);
}

}  // namespace berth
