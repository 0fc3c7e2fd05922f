// A component: its manifest, its process trees, its restart policy, its logs and, with
// [serve], the listening socket it keeps across restarts. With [serve], a restart overlaps:
// the replacement starts beside the serving tree, which is told to stop only once the
// replacement is ready (a replacement that fails leaves it serving).
// States: stopped, starting, ready, stopping, backoff (waiting to restart), crash-looping
// (start limit hit; waits for a user), failed (ended and not restarted by policy).
// All methods run on the io_context thread.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "api/backend.h"
#include "config/environment.h"
#include "config/manifest.h"
#include "host/host_context.h"
#include "proc/listen_socket.h"
#include "proc/log_sink.h"
#include "proc/process_tree.h"
#include "proc/restart_policy.h"
#include "proc/serve_proxy.h"
#include "watch/tree_watcher.h"

namespace berth {

class Component final : public api::ComponentApi, public std::enable_shared_from_this<Component> {
 public:
  enum class State { kStopped, kStarting, kReady, kStopping, kBackoff, kCrashLooping, kFailed };

  // `watch`: `berth run --watch` (the manifest's [watch] enabled also turns watching on).
  // `source`: what `berth run` asked to run instead of berth.toml's command (config/manifest.h).
  Component(HostContext& ctx, std::string name, std::filesystem::path dir, bool watch = false,
            RunSource source = {});
  // The proxy's accept loop keeps it alive: it is closed here, not merely let go.
  ~Component() override;

  const std::string& name() const override { return name_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Re-reads berth.toml and starts a tree unless one is running. Clears crash-loop history.
  // A start that arrives while the tree is stopping waits for the stop to finish first.
  boost::asio::awaitable<Result<void>> start() override;
  // The same, for callers off a coroutine (daemon start-up): never waits.
  Result<void> start_now();
  // Ends the tree (stop signal, grace, SIGKILL) and completes once every member is gone.
  // Also releases the component's watches: a stopped component holds none.
  boost::asio::awaitable<Result<void>> stop() override;
  // With [serve] and a ready tree: starts the replacement beside it and returns (see above);
  // a replacement still starting is stopped first (the newest restart wins).
  boost::asio::awaitable<Result<void>> restart() override;
  // Sends `sig` to every process of the serving tree (or only its leader).
  Result<void> signal(int sig, bool leader_only) override;

  // Completes when the run started last is ready (ok) or has failed to start (its error).
  boost::asio::awaitable<Result<void>> wait_started();
  // After wait_started() said ready: ok once that run has stayed ready for `window`, else
  // exited_after_ready as soon as it ends or leaves ready (with its exit and output line).
  boost::asio::awaitable<Result<void>> stays_up(std::chrono::milliseconds window);

  // While a deploy is in flight the component holds no watches and change-restarts are off;
  // resuming builds a fresh watcher on the (new) tree, so what changed during the deploy is
  // covered by the deploy's own restart.
  void pause_for_deploy();
  void resume_after_deploy();

  // Destroyed: from now on nothing may start, watch or restart it (late timers and events
  // included). Set by the host before the teardown.
  void mark_destroyed() { destroyed_ = true; }
  bool destroyed() const { return destroyed_; }
  bool running() const { return current_.running(); }
  // `[lifecycle] keep` of the manifest it last started with.
  bool keep() const { return manifest_.lifecycle.keep; }
  // Teardown failed: shown as state `destroy_failed` with the reason until a retry succeeds.
  void set_destroy_failed(const Error& e) { destroy_error_ = e; }

  // Keeps an --env/--profile change for this and every later start, after checking the
  // environment it makes (names, the profile against berth.toml on disk, the env file); an
  // empty change only checks. Does not restart.
  Result<void> change_env(const EnvChange& change) override;

  api::ComponentStatus status() const override;
  LogSink& logs() override { return logs_; }
  void set_watch_flag(bool on) { watch_flag_ = on; }
  void set_source(RunSource source) { source_ = std::move(source); }

 private:
  // One process tree of this component and what was lent to it.
  struct Run {
    std::shared_ptr<ProcessTree> tree;
    uint64_t id = 0;  // runs_ when it was spawned: tells one run from the next
    int slot = 0;     // its row in the tree store and its address lease
    bool leased = false;
    std::string address = "127.0.0.1";
    uint16_t port = 0;  // [serve] proxy mode: where it listens (on `address`)
    std::chrono::system_clock::time_point started_at{};
    std::chrono::steady_clock::time_point spawned_at{};
    bool running() const { return tree && !tree->ended(); }
  };

  // Spawns a tree of manifest_ into `slot` (lease, environment, socket, cgroup, store row).
  // On failure nothing of it is left behind.
  Result<Run> spawn_run(int slot);
  // Spawns the serving tree (state starting); a failure leaves the component failed.
  Result<void> spawn_tree();
  // [serve]: the manifest `next` (already loaded) replaces the ready tree by an overlapped start.
  boost::asio::awaitable<Result<void>> replace(std::unique_ptr<Manifest> next);
  bool overlaps(const Manifest& next) const;
  int free_slot() const;
  void release(const Run& run);
  // [serve]: binds the socket (and in proxy mode starts the proxy on it) unless it is bound.
  Result<void> ensure_socket();
  void close_socket();
  std::optional<ServeProxy::Backend> backend_of(const Run& run) const;
  void on_ready(uint64_t id);
  // The replacement serves from now on; the tree it replaces is told to stop.
  void promote();
  void became_ready();
  // [health]: one check of `run`; the loop repeating it while `id` serves; the gate a
  // replacement passes before it is promoted; the restart after `retries` failures.
  boost::asio::awaitable<Result<void>> check_health(Run run);
  boost::asio::awaitable<void> health_loop(uint64_t id);
  boost::asio::awaitable<void> health_gate(uint64_t id);
  boost::asio::awaitable<void> restart_unhealthy();
  void record_health(const Result<void>& r);
  // Every layer of the environment for the next start, with `change` applied on top.
  Result<Environment> environment(const EnvChange& change = {}) const;
  // Ends the tree and any pending backoff, keeping the watcher.
  boost::asio::awaitable<void> stop_tree();
  // Creates (or, with `fresh`, recreates) the watcher when watching is on; drops it when off.
  void ensure_watcher(bool fresh);
  void on_watch_change(const std::string& path, size_t events);
  boost::asio::awaitable<void> watched_restart();
  void on_tree_end(uint64_t id, const TreeEnd& end);
  void on_serving_end(const TreeEnd& end);
  void wait_to_restart(Millis delay, State waiting);
  void note(const std::string& text);
  double cpu_percent(uint64_t used_us) const;
  void set_outcome(Result<void> r);

  HostContext& ctx_;
  std::string name_;
  std::filesystem::path dir_;
  RunSource source_;
  Manifest manifest_;
  LogSink logs_;
  State state_ = State::kStopped;
  Run current_;                  // the tree serving (or starting); no tree once it has ended
  std::optional<Run> incoming_;  // [serve]: its replacement, not yet ready
  std::vector<Run> draining_;    // replaced by a ready one and told to stop, not yet gone
  // [serve] socket mode: bound at the first start, kept across restarts and backoffs, closed
  // by a stop or when the component ends for good.
  std::shared_ptr<ListenSocket> socket_;
  std::shared_ptr<ServeProxy> proxy_;  // proxy mode: accepts on socket_ and relays
  // [health] of the serving run (reset when another run serves) and across runs.
  api::ComponentStatus::Health health_;
  boost::asio::steady_timer health_timer_;
  RestartTracker tracker_;
  boost::asio::steady_timer backoff_timer_;
  std::optional<std::chrono::steady_clock::time_point> backoff_until_;
  int restarts_ = 0, watch_restarts_ = 0;
  uint64_t runs_ = 0;  // trees spawned: tells one run from the next
  std::optional<Error> last_error_;
  std::vector<std::string> last_tail_;
  std::optional<ExitStatus> last_exit_;
  bool last_exit_oom_ = false;
  std::vector<std::string> warnings_;
  std::optional<std::pair<int64_t, int64_t>> last_stop_us_;  // {to leader exit, to tree gone}
  std::chrono::system_clock::time_point ready_at_{};
  Environment env_;  // what the run started last was given, and where each came from
  // The CPU figure's last sample, per run (status() is const; this is only a cache of it).
  struct CpuSample {
    uint64_t run = 0, used_us = 0;
    std::chrono::steady_clock::time_point at{};
    double percent = 0;
  };
  mutable CpuSample cpu_sample_;
  bool watch_flag_ = false;
  std::unique_ptr<TreeWatcher> watcher_;
  bool restarting_ = false, restart_again_ = false;
  std::optional<std::pair<std::string, std::chrono::system_clock::time_point>> last_change_;
  bool deploy_paused_ = false;
  bool destroyed_ = false;
  std::optional<Error> destroy_error_;
  bool wants_watch_ = false;             // started and not stopped since: a watcher belongs here
  std::optional<Result<void>> outcome_;  // of the run started last
  StateEvent outcome_changed_;
};

const char* to_string(Component::State s);

}  // namespace berth
