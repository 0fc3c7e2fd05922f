// Ctrl-C while the CLI follows a deployment: the deployment goes on in the daemon, so say so
// and how to follow it again, then exit 130. A thread waits for SIGINT with sigwait (no
// handler, no global state); the main thread keeps SIGINT blocked while the guard lives.
#pragma once
#include <signal.h>

#include <string>
#include <thread>

namespace berth::cli {

class DetachOnInterrupt {
 public:
  explicit DetachOnInterrupt(std::string id);
  ~DetachOnInterrupt();
  DetachOnInterrupt(const DetachOnInterrupt&) = delete;
  DetachOnInterrupt& operator=(const DetachOnInterrupt&) = delete;

 private:
  sigset_t set_{}, old_{};
  std::thread waiter_;
};

}  // namespace berth::cli
