// One instance of a component (`[run] instances = N` runs N): its process trees (the one
// serving, an overlapped replacement, the replaced ones draining), its restart policy and
// backoff, its health checks and its state. What instances share (the manifest read last, the
// socket and proxy, the watcher, the logs, the slots) is the component's (host/component.h),
// which owns its instances and outlives every call into them.
// States: stopped, starting, ready, stopping, backoff (waiting to restart), crash-looping
// (start limit hit; waits for a user), failed (ended and not restarted by policy).
// All methods run on the io_context thread.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/backend.h"
#include "config/environment.h"
#include "config/manifest.h"
#include "proc/process_tree.h"
#include "proc/restart_policy.h"
#include "proc/serve_proxy.h"

namespace berth {

class Component;

class Instance : public std::enable_shared_from_this<Instance> {
 public:
  enum class State { kStopped, kStarting, kReady, kStopping, kBackoff, kCrashLooping, kFailed };

  Instance(Component& owner, int index);
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  int index() const { return index_; }
  State state() const { return state_; }
  bool running() const { return current_.running(); }
  // Its serving run: tells one run from the next (0: none yet).
  uint64_t run_id() const { return current_.id; }
  pid_t pid() const { return current_.running() ? current_.tree->pid() : 0; }
  // Ready, not failing its health checks and not scaled away: the proxy sends it connections.
  bool serves() const;
  std::optional<ServeProxy::Backend> backend() const;
  // Whether any of its trees (serving, replacement, draining) holds `slot`.
  bool holds_slot(int slot) const;
  const std::optional<Error>& last_error() const { return last_error_; }
  std::chrono::system_clock::time_point ready_at() const { return ready_at_; }
  // Its component could not start it (berth.toml did not load): failed, with `why`.
  void refuse(const Error& why);
  // `berth scale` is about to stop it for good: from now on it starts nothing (a roll or a
  // backoff still holding it included).
  void retire();

  // Starts a tree of `m` unless one runs; clears the restart history (a user's start).
  Result<void> start(std::shared_ptr<const Manifest> m);
  // Restarts it on `next`: with [serve] and a ready tree, overlapped (completes once the
  // replacement is ready or has failed, the old one serving on); else stop, then start, and
  // with `wait` completes once the new run is ready or has failed.
  boost::asio::awaitable<Result<void>> restart(std::shared_ptr<const Manifest> next, bool wait);
  // Completes when the run started last is ready (ok) or has failed to start (its error).
  boost::asio::awaitable<Result<void>> wait_started();
  bool decided() const { return outcome_.has_value(); }
  // Every tree is told to stop and the backoff ends; returns the trees to wait for. After they
  // ended, stopped() settles the state.
  std::vector<std::shared_ptr<ProcessTree>> begin_stop();
  void stopped();
  boost::asio::awaitable<void> stop();
  // Sends `sig` to every process of the serving tree (or only its leader); false: none runs.
  bool signal(int sig, bool leader_only);
  api::InstanceStatus status() const;
  // What the run started last was given, and where each came from.
  const Environment& env() const { return env_; }

 private:
  // One process tree of this instance and what was lent to it.
  struct Run {
    std::shared_ptr<ProcessTree> tree;
    uint64_t id = 0;  // the component's run count when it was spawned
    int slot = 0;     // its row in the tree store and its address lease
    bool leased = false;
    std::string address = "127.0.0.1";
    uint16_t port = 0;  // [serve] proxy mode: where it listens (on `address`)
    std::chrono::system_clock::time_point started_at{};
    std::chrono::steady_clock::time_point spawned_at{};
    bool running() const { return tree && !tree->ended(); }
  };

  // Spawns a tree of manifest_ (lease, environment, socket, cgroup, store row). On failure
  // nothing of it is left behind.
  Result<Run> spawn_run();
  // Spawns the serving tree (state starting); a failure leaves the instance failed.
  Result<void> spawn_tree();
  bool overlaps(const Manifest& next) const;
  // [serve]: `next` replaces the ready tree by an overlapped start.
  boost::asio::awaitable<Result<void>> replace(std::shared_ptr<const Manifest> next);
  void release(const Run& run);
  void on_ready(uint64_t id);
  // The replacement serves from now on; the tree it replaces is told to stop.
  void promote();
  void became_ready();
  void on_tree_end(uint64_t id, const TreeEnd& end);
  void on_serving_end(const TreeEnd& end);
  void wait_to_restart(Millis delay, State waiting);
  void set_outcome(Result<void> r);
  void note(const std::string& text) const;
  double cpu_percent(uint64_t used_us) const;
  // [health]: one check of `run`; the loop repeating it while `id` serves; the gate a
  // replacement passes before it is promoted; the restart after `retries` failures.
  boost::asio::awaitable<Result<void>> check_health(Run run);
  // `fresh`: a new run's loop; else the loop resumed on an unhealthy run whose restart failed,
  // which stays unhealthy until a check passes.
  boost::asio::awaitable<void> health_loop(uint64_t id, bool fresh = true);
  boost::asio::awaitable<void> health_gate(uint64_t id);
  boost::asio::awaitable<void> restart_unhealthy();
  void record_health(const Result<void>& r);

  Component& owner_;
  const int index_;
  std::shared_ptr<const Manifest> manifest_;  // of the run started last
  State state_ = State::kStopped;
  Run current_;                  // the tree serving (or starting); no tree once it has ended
  std::optional<Run> incoming_;  // [serve]: its replacement, not yet ready
  std::vector<Run> draining_;    // replaced by a ready one and told to stop, not yet gone
  // [health] of the serving run (reset when another run serves) and across runs.
  api::RunStatus::Health health_;
  boost::asio::steady_timer health_timer_;
  RestartTracker tracker_;
  boost::asio::steady_timer backoff_timer_;
  std::optional<std::chrono::steady_clock::time_point> backoff_until_;
  std::optional<Error> last_error_;
  std::vector<std::string> last_tail_;
  std::optional<ExitStatus> last_exit_;
  bool last_exit_oom_ = false;
  std::vector<std::string> warnings_;
  std::optional<std::pair<int64_t, int64_t>> last_stop_us_;  // {to leader exit, to tree gone}
  std::chrono::system_clock::time_point ready_at_{};
  // The CPU figure's last sample, per run (status() is const; this is only a cache of it).
  struct CpuSample {
    uint64_t run = 0, used_us = 0;
    std::chrono::steady_clock::time_point at{};
    double percent = 0;
  };
  mutable CpuSample cpu_sample_;
  std::optional<Result<void>> outcome_;  // of the run started last
  Environment env_;
  bool retired_ = false;
};

const char* to_string(Instance::State s);

}  // namespace berth
