#include "proc/port_owner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

namespace berth {
namespace {

constexpr uint32_t kListen = 0x0A;  // TCP_LISTEN in the kernel's `st` column

// A hex field; nullopt when it is not one. No exceptions: this runs on the event loop.
std::optional<uint32_t> hex(std::string_view s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The kernel prints each 32-bit word of an address as a native-order %08X of its network-order
// value, so reading one back as a native integer gives the in_addr bytes again.
std::optional<in_addr> v4_of(std::string_view text) {
  if (text.size() != 8 && text.size() != 32) return std::nullopt;
  uint32_t w[4] = {};
  for (size_t i = 0; i < text.size() / 8; ++i) {
    auto v = hex(text.substr(i * 8, 8));
    if (!v) return std::nullopt;
    w[i] = *v;
  }
  in_addr a{};
  if (text.size() == 8 || (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0)) {
    a.s_addr = w[0];  // an IPv4 address, or :: (0, the wildcard)
    return a;
  }
  if (w[0] == 0 && w[1] == 0 && w[2] == htonl(0xffff)) {  // ::ffff:a.b.c.d
    a.s_addr = w[3];
    return a;
  }
  return std::nullopt;  // a real IPv6 address: never the IPv4 address asked about
}

void scan(const char* table, in_addr want, uint16_t port, std::vector<uint64_t>& out) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, st, queues, timer, retr, uid, timeout;
    uint64_t inode = 0;
    if (!(fields >> slot >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >>
          inode))
      continue;
    auto colon = local.find(':');
    if (colon == std::string::npos || hex(st) != kListen) continue;
    if (hex(std::string_view(local).substr(colon + 1)) != port) continue;
    auto addr = v4_of(std::string_view(local).substr(0, colon));
    if (addr && (addr->s_addr == 0 || addr->s_addr == want.s_addr)) out.push_back(inode);
  }
}

// The socket inodes `pid` has open; nullopt when its fds cannot be read (EACCES), empty when
// it is gone.
std::optional<std::vector<uint64_t>> sockets_of(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return errno == EACCES ? std::nullopt : std::optional(std::vector<uint64_t>{});
  std::vector<uint64_t> out;
  char link[64];
  while (auto* e = ::readdir(d.get())) {
    if (e->d_name[0] == '.') continue;
    auto n = ::readlink((dir + "/" + e->d_name).c_str(), link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    unsigned long long inode = 0;
    if (std::sscanf(link, "socket:[%llu]", &inode) == 1) out.push_back(inode);
  }
  return out;
}

bool any_of(const std::vector<uint64_t>& have, const std::vector<uint64_t>& sockets) {
  return std::ranges::any_of(have, [&](uint64_t i) { return std::ranges::count(sockets, i) > 0; });
}

std::string command_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(in)), {});
  while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
  std::ranges::replace(cmd, '\0', ' ');
  if (cmd.size() > 120) cmd = cmd.substr(0, 117) + "...";
  return cmd;
}

}  // namespace

std::vector<uint64_t> listening_sockets(const std::string& address, uint16_t port) {
  in_addr want{};
  if (inet_pton(AF_INET, address.c_str(), &want) != 1) return {};
  std::vector<uint64_t> out;
  scan("/proc/net/tcp", want, port, out);
  scan("/proc/net/tcp6", want, port, out);
  return out;
}

bool holds_any(const std::vector<pid_t>& pids, const std::vector<uint64_t>& sockets) {
  for (pid_t pid : pids) {
    auto have = sockets_of(pid);
    if (!have || any_of(*have, sockets)) return true;
  }
  return false;
}

std::optional<PortHolder> port_holder(const std::vector<uint64_t>& sockets) {
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (!proc) return std::nullopt;
  while (auto* e = ::readdir(proc.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const pid_t pid = std::atoi(e->d_name);
    if (auto have = sockets_of(pid); have && any_of(*have, sockets))
      return PortHolder{pid, command_of(pid)};
  }
  return std::nullopt;
}

}  // namespace berth
