// The daemon's single reaper: on SIGCHLD it collects every exited child (including orphaned
// grandchildren that come back because the daemon is a child subreaper) and dispatches the
// status of the ones somebody asked about. Other waiters are woken so they re-check trees.
#pragma once
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>

namespace berth {

struct ExitStatus {
  int code = -1;   // exit code when exited normally, else -1
  int signal = 0;  // terminating signal, else 0
  bool core = false;
  static ExitStatus from_wait(int status);
  std::string describe() const;  // "exit code 3", "killed by SIGKILL"
};

class Reaper {
 public:
  explicit Reaper(boost::asio::io_context& io);
  // Makes the daemon a child subreaper and starts listening for SIGCHLD.
  void start();
  // `on_exit` runs on the io_context once `pid` has been reaped. Register right after fork,
  // before returning to the loop (the reaper only runs from the loop, so no exit is missed).
  void watch(pid_t pid, std::function<void(ExitStatus)> on_exit);
  // `cb` runs after every reaping pass that collected any child, known or not, so trees whose
  // members are reparented orphans can re-check whether they are gone. Returns an id for
  // remove_listener.
  uint64_t add_listener(std::function<void()> cb);
  void remove_listener(uint64_t id) { listeners_.erase(id); }

 private:
  // Reaps whatever has exited (a SIGCHLD may stand for several exits).
  void reap_now();
  void arm();
  boost::asio::signal_set sigchld_;
  std::unordered_map<pid_t, std::function<void(ExitStatus)>> watched_;
  std::map<uint64_t, std::function<void()>> listeners_;
  uint64_t next_listener_ = 1;
};

}  // namespace berth
