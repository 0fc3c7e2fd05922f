// The listening socket of a component's [serve]: bound by the daemon once and held across its
// restarts, deploys and rollbacks, so a connection is never refused while instances change;
// each instance inherits it (proc/spawn.h listen_fds). Owned through shared_ptr by the
// component and by every tree that was given it; used on the event-loop thread.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth {

class ListenSocket {
 public:
  // A TCP socket bound to address:port (numeric IPv4 or IPv6) and listening with the
  // system's largest backlog: connections that arrive while no instance accepts wait there.
  // Refusals: port_in_use (someone holds it), bad_manifest (not an address of this host,
  // EADDRNOTAVAIL), spawn_failed (anything else, with the errno).
  static Result<std::shared_ptr<ListenSocket>> bind(const std::string& address, uint16_t port);

  int fd() const { return fd_.get(); }
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }

 private:
  ListenSocket(UniqueFd fd, std::string address, uint16_t port)
      : fd_(std::move(fd)), address_(std::move(address)), port_(port) {}
  UniqueFd fd_;
  std::string address_;
  uint16_t port_;
};

}  // namespace berth
