#include "proc/reaper.h"

#include <sys/prctl.h>
#include <sys/wait.h>

#include <csignal>

#include "core/signals.h"

namespace berth {

ExitStatus ExitStatus::from_wait(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
    s.core = WCOREDUMP(status);
  }
  return s;
}

std::string ExitStatus::describe() const {
  if (signal) return "killed by " + signal_name(signal) + (core ? " (core dumped)" : "");
  return "exit code " + std::to_string(code);
}

Reaper::Reaper(boost::asio::io_context& io) : sigchld_(io, SIGCHLD) {}

void Reaper::start() {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  arm();
  reap_now();
}

void Reaper::arm() {
  sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    reap_now();
    arm();
  });
}

void Reaper::watch(pid_t pid, std::function<void(ExitStatus)> on_exit) {
  watched_[pid] = std::move(on_exit);
}

uint64_t Reaper::add_listener(std::function<void()> cb) {
  listeners_[next_listener_] = std::move(cb);
  return next_listener_++;
}

void Reaper::reap_now() {
  bool any = false;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    any = true;
    if (auto it = watched_.find(pid); it != watched_.end()) {
      auto cb = std::move(it->second);
      watched_.erase(it);
      cb(ExitStatus::from_wait(status));
    }
  }
  if (!any) return;
  // Copy: a listener may remove itself (or others) while being called.
  auto copy = listeners_;
  for (auto& [id, cb] : copy)
    if (listeners_.contains(id)) cb();
}

}  // namespace berth
