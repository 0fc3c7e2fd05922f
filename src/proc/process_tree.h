// One running instance of a component: a process tree with its own session/process group and,
// where allowed, its own cgroup. It owns the startup (readiness: marker, port, notify, or
// settle; idle timeout and absolute cap) and the end (stop signal to the whole tree, grace,
// SIGKILL, then waiting until every member is gone). `on_end` fires exactly once, only after
// the whole tree is dead and reaped.
#pragma once
#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/state_event.h"
#include "proc/reaper.h"
#include "proc/spawn.h"
#include "proc/specs.h"
#include "proc/stream.h"

namespace berth {

struct TreeSpec {
  std::string label;  // "NAME" or "NAME#i", for messages
  SpawnSpec spawn;    // spawn.cgroup: created by the caller, or none
  ReadySpec ready;
  StopSpec stop;
  std::string address = "127.0.0.1";  // where ready.port is probed and checked
  std::string notify_socket;          // abstract socket name when ready.notify
  bool run_to_exit = false;           // a job (an installer): no readiness, any exit is its end
};

struct TreeEnd {
  bool reached_ready = false;
  bool stop_requested = false;
  bool killed_after_grace = false;
  ExitStatus status;  // the main process's exit
  std::optional<Error>
      startup_failure;  // startup_idle_timeout | startup_max_exceeded | exited_before_ready
  std::vector<std::string> tail;      // last lines of output (for failures)
  std::string summary;                // of those, the line saying what went wrong (failure_line.h)
  std::vector<std::string> warnings;  // e.g. a declared port still taken after the stop
  std::chrono::milliseconds ran{0};   // spawn to main exit
  bool oom_killed = false;            // the kernel's OOM killer ended a member ([limits] memory)
  // For a requested stop: request -> leader exited, and request -> whole tree gone and checked.
  std::optional<std::chrono::microseconds> stop_to_exit, stop_to_gone;
};

class ProcessTree : public std::enable_shared_from_this<ProcessTree> {
 public:
  struct Hooks {
    std::function<void(Stream stream, std::string_view line)> on_line;
    std::function<void()> on_ready;
    std::function<void(const TreeEnd&)> on_end;
  };

  // Spawns and begins supervising. Fails only if the process could not be started.
  static Result<std::shared_ptr<ProcessTree>> start(boost::asio::io_context& io, Reaper& reaper,
                                                    TreeSpec spec, Hooks hooks);
  ~ProcessTree();

  // Begins the stop sequence (idempotent): stop signal, the manifest's grace, SIGKILL.
  void request_stop();
  // Ends a tree that must not run (one the store could not record) before it is ready: it is
  // killed at once, without grace, and ends as the startup failure `why`.
  void abort(Error why);
  // `berth signal`: `sig` to every member of the tree, or to the leader alone (through its
  // pidfd, so never to a stranger that reused the pid). Nothing once the tree has ended.
  void send_signal(int sig, bool leader_only);
  // Completes once on_end has run.
  boost::asio::awaitable<void> wait_ended();

  pid_t pid() const { return pid_; }
  uint64_t start_time() const { return start_time_; }
  const std::optional<std::filesystem::path>& cgroup() const { return spec_.spawn.cgroup; }
  bool ready() const { return ready_; }
  bool ended() const { return ended_; }
  // Live members of the tree (cgroup members, else the process group).
  std::vector<pid_t> members() const;

 private:
  ProcessTree(boost::asio::io_context& io, Reaper& reaper, TreeSpec spec, Hooks hooks);
  boost::asio::awaitable<void> supervise();
  boost::asio::awaitable<void> pump(int fd, Stream stream);
  boost::asio::awaitable<void> probe_port();
  bool holds_port() const;  // the listening socket on [ready] port is one the tree holds
  static std::string port_taken(const std::string& address, uint16_t port);
  boost::asio::awaitable<void> read_notify(int fd);
  boost::asio::awaitable<bool> wait_gone(std::chrono::steady_clock::time_point deadline);
  // Returns true when SIGKILL was needed (always true when not graceful).
  boost::asio::awaitable<bool> terminate(bool graceful);
  // Processes of this tree outside its cgroup (see terminate), as pidfds.
  std::vector<UniqueFd> escapees() const;
  void signal_tree(int sig);
  // Opens a pidfd on every cgroup member not yet held (see ending_).
  void track_members();
  bool tree_gone() const;
  void on_output(Stream stream, std::string_view chunk);

  boost::asio::io_context& io_;
  Reaper& reaper_;
  TreeSpec spec_;
  Hooks hooks_;
  StateEvent ev_;
  uint64_t listener_id_ = 0;

  pid_t pid_ = 0;
  uint64_t start_time_ = 0;
  UniqueFd pidfd_;
  // pidfds of the cgroup members seen while the tree ends. The kernel unlinks an exiting task
  // from its cgroup before the task has finished exiting, so an unpopulated cgroup alone does
  // not mean every member is gone; each of these must also have exited.
  std::map<pid_t, UniqueFd> ending_;
  std::chrono::steady_clock::time_point spawned_at_, last_output_;
  std::optional<ExitStatus> main_exit_;
  std::chrono::steady_clock::time_point main_exit_at_;
  bool ready_ = false, stop_requested_ = false, ended_ = false;
  std::optional<Error> aborted_;
  std::chrono::steady_clock::time_point stop_requested_at_;
  int pumps_open_ = 0;
  std::deque<std::string> tail_;
  struct Matchers;
  std::unique_ptr<Matchers> matchers_;
};

}  // namespace berth
