#include "core/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>

namespace berth {

std::optional<NotifySocket> NotifySocket::from_environment() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return std::nullopt;
  std::string address(path);
  ::unsetenv("NOTIFY_SOCKET");
  if (address.size() >= sizeof(sockaddr_un::sun_path)) return std::nullopt;
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return std::nullopt;
  return NotifySocket(std::move(address), std::move(fd));
}

void NotifySocket::send(std::string_view state) const {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, address_.data(), address_.size());
  if (address_[0] == '@') sa.sun_path[0] = 0;
  (void)::sendto(fd_.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<sockaddr*>(&sa),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size()));
}

}  // namespace berth
