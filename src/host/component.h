// A component: its manifest, its instances (`[run] instances`, `berth scale`), its watcher, its
// logs and, with [serve], the listening socket (and proxy) it keeps across restarts. A restart
// rolls over the instances one at a time, each overlapped with [serve] (host/instance.h).
// Its state is its instances' (the least settled of theirs when they differ).
// All methods run on the io_context thread.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/backend.h"
#include "config/environment.h"
#include "config/manifest.h"
#include "core/state_event.h"
#include "host/host_context.h"
#include "host/instance.h"
#include "proc/listen_socket.h"
#include "proc/log_sink.h"
#include "proc/serve_proxy.h"
#include "watch/tree_watcher.h"

namespace berth {

class Component final : public api::ComponentApi, public std::enable_shared_from_this<Component> {
 public:
  // `watch`: `berth run --watch` (the manifest's [watch] enabled also turns watching on).
  // `source`: what `berth run` asked to run instead of berth.toml's command (config/manifest.h).
  Component(HostContext& ctx, std::string name, std::filesystem::path dir, bool watch = false,
            RunSource source = {});
  // The proxy's accept loop keeps it alive: it is closed here, not merely let go.
  ~Component() override;

  const std::string& name() const override { return name_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Re-reads berth.toml and starts its instances unless they run (an instance that does not
  // run is started, with a clean restart history). A start that arrives while the component
  // is stopping waits for the stop to finish first.
  boost::asio::awaitable<Result<void>> start() override;
  // The same, for callers off a coroutine (daemon start-up): never waits.
  Result<void> start_now();
  // Ends every tree (stop signal, grace, SIGKILL) and completes once every member is gone.
  // Also releases the component's watches and socket: a stopped component holds none.
  boost::asio::awaitable<Result<void>> stop() override;
  // Rolls over the instances one at a time (see Instance::restart); a failure stops the roll,
  // the instances not reached yet running on as they were.
  boost::asio::awaitable<Result<void>> restart() override;
  Result<void> signal(int sig, bool leader_only) override;
  boost::asio::awaitable<Result<void>> scale(std::optional<int> n) override;

  // Completes when every instance's run started last is ready (ok) or has failed to start
  // (the first error).
  boost::asio::awaitable<Result<void>> wait_started();
  // After wait_started() said ready: ok once every instance has stayed ready for `window`,
  // else exited_after_ready as soon as one ends or leaves ready (with its exit).
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
  bool running() const;
  // `[lifecycle] keep` of the manifest it last started with.
  bool keep() const { return manifest_->lifecycle.keep; }
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

  // What its instances use (host/instance.cpp).
  HostContext& ctx() { return ctx_; }
  // berth.toml as it is on disk now.
  Result<Manifest> load() const { return load_manifest(dir_, source_); }
  // Every layer of the environment for the next start, with `change` applied on top.
  Result<Environment> environment(const EnvChange& change = {}) const;
  uint64_t next_run_id() { return ++runs_; }
  int free_slot() const;
  // [serve]: binds the socket (and in proxy mode starts the proxy on it) unless it is bound;
  // without [serve] in `m`, lets it go.
  Result<void> ensure_socket(const Manifest& m);
  const std::shared_ptr<ListenSocket>& socket() const { return socket_; }
  const std::shared_ptr<ServeProxy>& proxy() const { return proxy_; }
  // An instance became ready, stopped serving or changed health: the proxy's turn list is
  // made again from the instances that serve.
  void backends_changed();
  // An instance's serving tree ended and it will not run for a while: with no instance left
  // running or about to, connections are refused rather than left waiting.
  void instance_down();
  // Lines of instance `index` (tagged when the component runs more than one).
  void append(int index, Stream stream, std::string_view line);
  void note(int index, const std::string& text);
  void count_restart() { ++restarts_; }
  // An unhealthy instance may restart itself unless a deploy or a restart is under way.
  bool restart_allowed() const { return !destroyed_ && !deploy_paused_ && !restarting_; }
  StateEvent& changed() { return changed_; }
  // Started and not stopped since (a restart racing a stop must not start it again).
  bool started() const { return wants_watch_; }

 private:
  int wanted(const Manifest& m) const;
  // Lines carry their instance once more than one runs.
  bool tagged() const { return instances_.size() > 1; }
  // Grows or shrinks instances_ to `n`: new ones start on manifest_, extra ones (the highest
  // first) are stopped and dropped.
  boost::asio::awaitable<Result<void>> resize(int n);
  boost::asio::awaitable<Result<void>> roll(std::shared_ptr<const Manifest> next, bool wait_last);
  boost::asio::awaitable<void> stop_all();
  void close_socket();
  void note(const std::string& text) { note(-1, text); }
  // Creates (or, with `fresh`, recreates) the watcher when watching is on; drops it when off.
  void ensure_watcher(bool fresh);
  void on_watch_change(const std::string& path, size_t events);
  boost::asio::awaitable<void> watched_restart();
  std::string state() const;

  HostContext& ctx_;
  std::string name_;
  std::filesystem::path dir_;
  RunSource source_;
  std::shared_ptr<const Manifest> manifest_;  // read last
  LogSink logs_;
  std::vector<std::shared_ptr<Instance>> instances_;
  std::optional<int> scaled_;  // `berth scale`'s number, as kept in the store
  // [serve]: bound at the first start, kept across restarts and backoffs, closed by a stop or
  // when no instance runs or is about to.
  std::shared_ptr<ListenSocket> socket_;
  std::shared_ptr<ServeProxy> proxy_;  // proxy mode: accepts on socket_ and relays
  int restarts_ = 0, watch_restarts_ = 0;
  uint64_t runs_ = 0;  // trees spawned: tells one run from the next
  bool watch_flag_ = false;
  std::unique_ptr<TreeWatcher> watcher_;
  bool restarting_ = false, restart_again_ = false;
  std::optional<std::pair<std::string, std::chrono::system_clock::time_point>> last_change_;
  bool deploy_paused_ = false;
  bool destroyed_ = false;
  std::optional<Error> destroy_error_;
  bool wants_watch_ = false;  // started and not stopped since: a watcher belongs here
  StateEvent changed_;        // an instance's outcome or state changed
};

}  // namespace berth
