#include "proc/listen_socket.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace berth {

Result<std::shared_ptr<ListenSocket>> ListenSocket::bind(const std::string& address,
                                                         uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return fail(Code::kBadManifest,
                fmt::format("[serve] address \"{}\" is not an IP address", address));
  }
  const std::string where = fmt::format("{}:{}", address, port);
  // CLOEXEC: only the instances it is handed to (dup2 to fd 3) may hold it.
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(Code::kSpawnFailed, errno_message("socket", errno));
  int one = 1;
  // The daemon restarting must not wait out TIME_WAIT of its previous connections.
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    if (err == EADDRINUSE)
      return fail(Code::kPortInUse,
                  fmt::format("[serve] cannot listen on {}: another process holds it", where));
    if (err == EADDRNOTAVAIL)
      return fail(Code::kBadManifest,
                  fmt::format("[serve] cannot listen on {}: not an address of this host", where));
    return fail(Code::kSpawnFailed, errno_message("[serve] bind " + where, err));
  }
  if (::listen(fd.get(), SOMAXCONN) != 0)
    return fail(Code::kSpawnFailed, errno_message("[serve] listen on " + where, errno));
  return std::shared_ptr<ListenSocket>(new ListenSocket(std::move(fd), address, port));
}

}  // namespace berth
