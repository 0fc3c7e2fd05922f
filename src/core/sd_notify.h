// systemd's notify protocol (sd_notify(3)) without libsystemd: datagrams such as "READY=1" to
// the socket in $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace), for a daemon
// run as a Type=notify unit. Taken from the environment once, at start, and removed from it
// so no child (an install, a health check) inherits it. Used on the event-loop thread.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/unique_fd.h"

namespace berth {

class NotifySocket {
 public:
  // Nothing when NOTIFY_SOCKET is unset or empty. Call before any thread reads the environment.
  static std::optional<NotifySocket> from_environment();
  // Best effort, as sd_notify: a supervisor that stopped listening changes nothing here.
  void send(std::string_view state) const;

 private:
  NotifySocket(std::string address, UniqueFd fd)
      : address_(std::move(address)), fd_(std::move(fd)) {}
  std::string address_;
  UniqueFd fd_;
};

}  // namespace berth
