// Who holds a listening TCP port: the LISTEN sockets of /proc/net/tcp{,6} and the processes
// whose fds name them. Port readiness counts only a socket the tree itself holds, and a port
// already taken at start names its holder. Plain reads of /proc; any thread.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth {

struct PortHolder {
  pid_t pid = 0;
  std::string command;  // its command line, spaces between the arguments, cut at 120 bytes
};

// Inodes of the sockets listening on `port` at the IPv4 `address` or at a wildcard address
// (0.0.0.0, ::). Empty when none, or when /proc/net cannot be read.
std::vector<uint64_t> listening_sockets(const std::string& address, uint16_t port);

// True when one of `pids` has one of `sockets` open, or when a member's fds cannot be read
// (berth does not call an app unready for a permission it lacks). Exited pids do not count.
bool holds_any(const std::vector<pid_t>& pids, const std::vector<uint64_t>& sockets);

// The first process found with one of `sockets` open; nullopt when none is visible (another
// user's process, seen by a daemon that is not root).
std::optional<PortHolder> port_holder(const std::vector<uint64_t>& sockets);

}  // namespace berth
