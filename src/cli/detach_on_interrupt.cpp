#include "cli/detach_on_interrupt.h"

#include <fmt/format.h>
#include <pthread.h>

#include <cstdio>
#include <cstdlib>

namespace berth::cli {

// SIGUSR2 is the guard's own "done": sent to the waiter by the destructor.
DetachOnInterrupt::DetachOnInterrupt(std::string id) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set_, &old_);
  waiter_ = std::thread([this, id = std::move(id)] {
    int sig = 0;
    if (sigwait(&set_, &sig) != 0 || sig != SIGINT) return;
    std::fflush(stdout);
    fmt::print(stderr,
               "\nberth: stopped following; deployment {} goes on in the daemon. Follow it "
               "again with `berth deployments follow {}`\n",
               id, id);
    std::fflush(stderr);
    std::_Exit(130);  // 128 + SIGINT, as a shell reports an interrupted command
  });
}

DetachOnInterrupt::~DetachOnInterrupt() {
  pthread_kill(waiter_.native_handle(), SIGUSR2);
  waiter_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace berth::cli
