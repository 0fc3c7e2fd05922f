#include "host/component.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/random_id.h"
#include "core/signals.h"
#include "proc/cgroup.h"
#include "proc/proc_stat.h"

namespace berth {
namespace asio = boost::asio;
using json = nlohmann::json;

const char* to_string(Component::State s) {
  switch (s) {
    case Component::State::kStopped:
      return "stopped";
    case Component::State::kStarting:
      return "starting";
    case Component::State::kReady:
      return "ready";
    case Component::State::kStopping:
      return "stopping";
    case Component::State::kBackoff:
      return "backoff";
    case Component::State::kCrashLooping:
      return "crash-looping";
    case Component::State::kFailed:
      return "failed";
  }
  return "?";
}

Component::Component(HostContext& ctx, std::string name, std::filesystem::path dir, bool watch,
                     RunSource source)
    : ctx_(ctx),
      name_(std::move(name)),
      dir_(std::move(dir)),
      source_(std::move(source)),
      logs_(ctx.io.get_executor(), ctx.config.home / "logs" / name_,
            LogLimits{ctx.config.log_max_bytes, ctx.config.log_files, ctx.config.log_ring_lines}),
      backoff_timer_(ctx.io),
      health_timer_(ctx.io),
      watch_flag_(watch),
      outcome_changed_(ctx.io.get_executor()) {}

void Component::set_outcome(Result<void> r) {
  outcome_ = std::move(r);
  outcome_changed_.notify_all();
}

asio::awaitable<Result<void>> Component::wait_started() {
  auto self = shared_from_this();
  const std::function<bool()> decided = [this] { return outcome_.has_value(); };
  co_await outcome_changed_.wait_until(decided, std::chrono::steady_clock::time_point::max());
  co_return *outcome_;
}

void Component::pause_for_deploy() {
  deploy_paused_ = true;
  watcher_.reset();
}

void Component::resume_after_deploy() {
  deploy_paused_ = false;
  if (wants_watch_) ensure_watcher(true);
}

void Component::note(const std::string& text) {
  logs_.append(Stream::kBerth, "[berth] " + text);
  spdlog::info("{}: {}", name_, text);
}

asio::awaitable<Result<void>> Component::start() {
  auto self = shared_from_this();
  if (state_ == State::kStopping && current_.tree) {
    auto tree = current_.tree;
    co_await tree->wait_ended();
  }
  co_return start_now();
}

Result<void> Component::start_now() {
  if (destroyed_)
    return fail(Code::kComponentDestroyed, "component \"" + name_ + "\" was destroyed");
  if (current_.running()) return {};
  auto m = load_manifest(dir_, source_);
  if (!m) {
    state_ = State::kFailed;
    last_error_ = m.error();
    set_outcome(std::unexpected(m.error()));
    return std::unexpected(m.error());
  }
  manifest_ = std::move(*m);
  wants_watch_ = true;
  backoff_timer_.cancel();
  backoff_until_.reset();
  tracker_.reset();
  // The watcher outlives a failed spawn: fixing the file restarts the component.
  ensure_watcher(!restarting_);
  return spawn_tree();
}

void Component::ensure_watcher(bool fresh) {
  if (deploy_paused_ || destroyed_) return;
  if (!(manifest_.watch.enabled || watch_flag_)) {
    watcher_.reset();
    return;
  }
  if (watcher_ && !fresh) return;
  WatchOptions opts;
  // A deployed component's dir is the components/NAME link: watch the release it points at
  // now (each deploy builds a fresh watcher on the new one).
  std::error_code ec;
  opts.root = std::filesystem::canonical(dir_, ec);
  if (ec) opts.root = dir_;
  opts.rules = IgnoreRules::load(dir_, manifest_.watch.ignore, manifest_.watch.include);
  opts.debounce = manifest_.watch.debounce;
  opts.max_wait = manifest_.watch.max_wait;
  opts.poll_interval = manifest_.watch.poll_interval;
  opts.retries = manifest_.watch.retries;
  std::weak_ptr<Component> weak = weak_from_this();
  watcher_.reset();  // release the old watches before the new crawl
  watcher_ = std::make_unique<TreeWatcher>(ctx_.io, ctx_.inotify, std::move(opts),
                                           [weak](const std::string& path, size_t events) {
                                             if (auto self = weak.lock())
                                               self->on_watch_change(path, events);
                                           });
  watcher_->start();
}

void Component::on_watch_change(const std::string& path, size_t events) {
  if (!watcher_ || deploy_paused_ || destroyed_) return;
  last_change_ = {path, std::chrono::system_clock::now()};
  note(events > 1 ? fmt::format("change in {} (+{} more events): restarting", path, events - 1)
                  : fmt::format("change in {}: restarting", path));
  asio::co_spawn(ctx_.io, watched_restart(), asio::detached);
}

asio::awaitable<void> Component::watched_restart() {
  auto self = shared_from_this();
  // Changes during a restart cause at most one more restart, after it.
  if (restarting_) {
    restart_again_ = true;
    co_return;
  }
  restarting_ = true;
  do {
    restart_again_ = false;
    auto next = load_manifest(dir_, source_);
    Result<void> r;
    if (next && overlaps(*next)) {
      ++restarts_;
      ++watch_restarts_;
      // Waits for the replacement's outcome, so a change meanwhile restarts once more after.
      r = co_await replace(std::make_unique<Manifest>(std::move(*next)));
      if (r) r = co_await wait_started();
    } else if (!next && manifest_.serve && current_.running()) {
      r = std::unexpected(next.error());  // a broken berth.toml: the serving tree goes on
    } else {
      co_await stop_tree();
      if (!watcher_) break;  // stopped by a user meanwhile
      ++restarts_;
      ++watch_restarts_;
      r = start_now();
    }
    if (!r) note("restart after change failed: " + r.error().message);
  } while (restart_again_ && watcher_);
  restarting_ = false;
}

asio::awaitable<Result<void>> Component::stays_up(std::chrono::milliseconds window) {
  auto self = shared_from_this();
  const uint64_t run = runs_;
  const std::function<bool()> left = [this, run] {
    return runs_ != run || state_ != State::kReady;
  };
  co_await outcome_changed_.wait_until(left, std::chrono::steady_clock::now() + window);
  if (!left()) co_return Result<void>{};
  const auto after = std::chrono::duration<double>(std::chrono::system_clock::now() - ready_at_);
  const std::string what = last_error_ && state_ != State::kStopping && state_ != State::kStopped
                               ? last_error_->message
                               : std::string("it was ") + to_string(state_);
  co_return fail(Code::kExitedAfterReady,
                 fmt::format("it went down {:.1f}s after it was ready, inside [deploy] healthy_for "
                             "{}: {}",
                             after.count(), format_duration(window), what));
}

Result<Environment> Component::environment(const EnvChange& change) const {
  auto chosen = ctx_.components.env(name_);
  BERTH_TRY(chosen);
  change.apply(chosen->set, chosen->profile);
  return compose_environment(ctx_.base_env, manifest_, dir_, chosen->set, chosen->profile);
}

Result<void> Component::change_env(const EnvChange& change) {
  if (destroyed_)
    return fail(Code::kComponentDestroyed, "component \"" + name_ + "\" was destroyed");
  BERTH_TRY(validate(change));
  // Checked against what is on disk now (the profile must exist, the env file must parse)
  // before anything is kept or stopped.
  auto m = load_manifest(dir_, source_);
  BERTH_TRY(m);
  auto chosen = ctx_.components.env(name_);
  BERTH_TRY(chosen);
  change.apply(chosen->set, chosen->profile);
  BERTH_TRY(compose_environment(ctx_.base_env, *m, dir_, chosen->set, chosen->profile));
  if (change.empty()) return {};
  return ctx_.components.set_env(name_, *chosen);
}

Component::~Component() {
  if (proxy_) proxy_->close();
}

Result<Component::Run> Component::spawn_run(int slot) {
  Run run;
  run.id = runs_;
  run.slot = slot;
  std::optional<std::filesystem::path> cgroup_dir;
  bool recorded = false;
  // Whatever was lent to a run that did not start is given back.
  auto undo = [&](Error why) -> Result<Run> {
    if (recorded) (void)ctx_.trees.remove(name_, slot);
    if (cgroup_dir) (void)cgroup::remove(*cgroup_dir);
    if (run.leased) (void)ctx_.leases.release(name_, slot);
    return std::unexpected(std::move(why));
  };
  const bool socket_mode = manifest_.serve && manifest_.serve->mode == ServeMode::kSocket;
  const bool proxy_mode = manifest_.serve && manifest_.serve->mode == ServeMode::kProxy;
  if (manifest_.serve)
    BERTH_TRY(ensure_socket());
  else
    close_socket();  // [serve] gone from berth.toml: nobody would accept on it
  // Proxy mode: every instance listens on an address of its own, so two can overlap.
  if (manifest_.run.lease_address || proxy_mode) {
    auto a = ctx_.leases.acquire(name_, slot, ctx_.config.lease_first, ctx_.config.lease_last);
    if (!a) return std::unexpected(a.error());
    run.leased = true;
    run.address = *a;
  }
  // Read afresh at every start: an edited env file or a new --env reaches the next run.
  auto env = environment();
  if (!env) return undo(env.error());
  (*env)["BERTH_COMPONENT"] = {name_, "berth"};
  (*env)["BERTH_HOST"] = {run.address, "berth"};
  if (proxy_mode) {
    run.port = manifest_.serve->instance_port;
    (*env)["PORT"] = {std::to_string(run.port), "berth [serve] proxy"};
  } else if (manifest_.serve) {
    (*env)["PORT"] = {std::to_string(manifest_.serve->port), "berth [serve]"};
  }
  if (ctx_.config.cluster.enabled()) (*env)["BERTH_NODE"] = {ctx_.config.cluster.node, "berth"};
  env_ = std::move(*env);
  TreeSpec spec;
  spec.label = name_;
  spec.spawn.argv = manifest_.run.argv;
  spec.spawn.env = values_of(env_);
  spec.spawn.cwd = dir_ / manifest_.run.cwd;
  if (socket_mode) {
    spec.spawn.listen_fds = {socket_->fd()};
    spec.spawn.listen_names = name_;
  }
  spec.ready = manifest_.ready;
  spec.stop = manifest_.stop;
  spec.address = run.address;
  spec.notify_socket = fmt::format("berth/{}/{}/{}", ctx_.tag, name_, random_hex(4));
  const auto& limits = manifest_.limits;
  if (limits.any() && !ctx_.cgroup)
    return undo({Code::kLimitsUnavailable,
                 "[limits] are applied through cgroup v2, and this daemon runs without cgroups "
                 "(see `isolation` in berth status); remove [limits] or give berth a cgroup"});
  if (limits.any())
    if (auto r = cgroup::enable_for(ctx_.cgroup->dir, limits); !r) return undo(r.error());
  if (ctx_.cgroup) {
    auto dir = ctx_.cgroup->dir / fmt::format("{}.{}", name_, random_hex(4));
    if (auto r = cgroup::create(dir); r)
      cgroup_dir = spec.spawn.cgroup = dir;
    else if (limits.any())
      return undo({Code::kLimitsUnavailable, "[limits] need a cgroup: " + r.error().message});
    else
      spdlog::warn("{}: {}; running without a cgroup", name_, r.error().message);
  }
  // Limits are in place before the first process joins: nothing runs unlimited, ever.
  if (cgroup_dir && limits.any())
    if (auto r = cgroup::apply_limits(*cgroup_dir, limits); !r) return undo(r.error());
  // A tree is recorded before it exists (its cgroup, if any) and again once it does: a daemon
  // that dies at any point leaves a row its successor can act on. A tree that cannot be
  // recorded is not started, or, if its second record fails, killed at once.
  TreeRow row{name_, slot, 0, 0, 0, std::nullopt};
  if (cgroup_dir) row.cgroup = cgroup_dir->string();
  if (auto r = ctx_.trees.put(row); !r)
    return undo({Code::kNotRecorded,
                 "cannot record the process tree, so it was not started: " + r.error().message});
  recorded = true;

  std::weak_ptr<Component> weak = weak_from_this();
  const uint64_t id = run.id;
  ProcessTree::Hooks hooks;
  hooks.on_line = [weak](Stream stream, std::string_view line) {
    if (auto self = weak.lock()) self->logs_.append(stream, line);
  };
  hooks.on_ready = [weak, id] {
    if (auto self = weak.lock()) self->on_ready(id);
  };
  hooks.on_end = [weak, id](const TreeEnd& end) {
    if (auto self = weak.lock()) self->on_tree_end(id, end);
  };
  auto tree = ProcessTree::start(ctx_.io, ctx_.reaper, std::move(spec), std::move(hooks));
  if (!tree) return undo(tree.error());
  run.tree = *tree;
  run.spawned_at = std::chrono::steady_clock::now();
  run.started_at = std::chrono::system_clock::now();
  row.pid = row.pgid = run.tree->pid();
  row.start_time = run.tree->start_time();
  if (auto r = ctx_.trees.put(row); !r)
    run.tree->abort(
        {Code::kNotRecorded,
         "cannot record the process tree, so it was killed at once: " + r.error().message});
  return run;
}

Result<void> Component::spawn_tree() {
  ++runs_;
  outcome_.reset();
  auto run = spawn_run(free_slot());
  if (!run) {
    state_ = State::kFailed;
    last_error_ = run.error();
    note(run.error().message);
    set_outcome(std::unexpected(run.error()));
    return std::unexpected(run.error());
  }
  current_ = std::move(*run);
  state_ = State::kStarting;
  last_error_.reset();
  last_tail_.clear();
  warnings_.clear();
  const auto& cg = current_.tree->cgroup();
  note(fmt::format("started pid {}{}", current_.tree->pid(),
                   cg ? " in cgroup " + cg->filename().string() : ""));
  return {};
}

bool Component::overlaps(const Manifest& next) const {
  return manifest_.serve && next.serve && current_.running() && current_.tree->ready();
}

asio::awaitable<Result<void>> Component::replace(std::unique_ptr<Manifest> next) {
  auto self = shared_from_this();
  if (incoming_) {  // a newer restart wins over a replacement still starting
    auto tree = incoming_->tree;
    tree->request_stop();
    co_await tree->wait_ended();
  }
  if (destroyed_)
    co_return fail(Code::kComponentDestroyed, "component \"" + name_ + "\" was destroyed");
  if (!overlaps(*next)) {  // it ended (or was stopped) meanwhile
    co_await stop_tree();
    co_return start_now();
  }
  manifest_ = std::move(*next);
  tracker_.reset();
  ensure_watcher(!restarting_);
  ++runs_;
  outcome_.reset();
  auto run = spawn_run(free_slot());
  if (!run) {
    note(fmt::format("the replacement did not start: {}; pid {} keeps serving", run.error().message,
                     current_.tree->pid()));
    set_outcome(std::unexpected(run.error()));
    co_return std::unexpected(run.error());
  }
  incoming_ = std::move(*run);
  note(fmt::format("started pid {} beside pid {}, which serves until the new one is ready",
                   incoming_->tree->pid(), current_.tree->pid()));
  co_return Result<void>{};
}

int Component::free_slot() const {
  for (int slot = 0;; ++slot) {
    bool taken = (current_.running() && current_.slot == slot) ||
                 (incoming_ && incoming_->slot == slot) ||
                 std::any_of(draining_.begin(), draining_.end(),
                             [slot](const Run& r) { return r.slot == slot; });
    if (!taken) return slot;
  }
}

void Component::release(const Run& run) {
  (void)ctx_.trees.remove(name_, run.slot);
  // The tree is dead: only now may its address go to someone else.
  if (run.leased) (void)ctx_.leases.release(name_, run.slot);
}

Result<void> Component::ensure_socket() {
  const auto& want = *manifest_.serve;
  const bool proxy = want.mode == ServeMode::kProxy;
  if (!socket_ || socket_->address() != want.address || socket_->port() != want.port) {
    auto bound = ListenSocket::bind(want.address, want.port);
    BERTH_TRY(bound);
    close_socket();
    socket_ = std::move(*bound);
    note(fmt::format("listening on {}:{} for its instances ([serve] {})", want.address, want.port,
                     proxy ? "proxy" : "socket"));
  }
  // The same socket across a change of mode: connections wait in its backlog meanwhile.
  if (proxy && !proxy_) {
    auto started = ServeProxy::start(ctx_.io.get_executor(), socket_);
    BERTH_TRY(started);
    proxy_ = std::move(*started);
  } else if (!proxy && proxy_) {
    proxy_->close();
    proxy_.reset();
  }
  return {};
}

void Component::close_socket() {
  if (proxy_) proxy_->close();
  proxy_.reset();
  socket_.reset();
}

std::optional<ServeProxy::Backend> Component::backend_of(const Run& run) const {
  if (run.port == 0) return std::nullopt;
  return ServeProxy::Backend{run.address, run.port};
}

namespace {

// Proxy mode: the replaced instance is told to stop once it has taken every connection the
// proxy sent it (a listener that closes drops its backlog), or after its grace.
asio::awaitable<void> stop_when_settled(std::shared_ptr<ServeProxy> proxy,
                                        std::shared_ptr<ProcessTree> tree,
                                        ServeProxy::Backend backend, Millis limit) {
  co_await proxy->settled(std::move(backend), limit);
  tree->request_stop();
}

}  // namespace

void Component::on_ready(uint64_t id) {
  if (incoming_ && incoming_->id == id) {
    // With [health], the replacement serves only once a check has passed.
    if (manifest_.health) {
      asio::co_spawn(ctx_.io, health_gate(id), asio::detached);
      return;
    }
    promote();
  } else if (current_.id == id) {
    note("ready");
  } else {
    return;
  }
  became_ready();
}

void Component::promote() {
  Run old = std::move(current_);
  current_ = std::move(*incoming_);
  incoming_.reset();
  last_error_.reset();
  last_tail_.clear();
  warnings_.clear();
  note(fmt::format("ready; pid {} (the one it replaces) is told to stop", old.tree->pid()));
  auto backend = backend_of(old);
  if (proxy_ && backend) {
    proxy_->set_backend(backend_of(current_));  // from now on, new connections go there
    asio::co_spawn(ctx_.io, stop_when_settled(proxy_, old.tree, *backend, manifest_.stop.grace),
                   asio::detached);
  } else {
    old.tree->request_stop();
  }
  draining_.push_back(std::move(old));
}

void Component::became_ready() {
  state_ = State::kReady;
  if (proxy_) proxy_->set_backend(backend_of(current_));
  ready_at_ = std::chrono::system_clock::now();
  set_outcome({});
  if (manifest_.health) {
    health_timer_.cancel();  // the loop of the run this one replaced ends
    asio::co_spawn(ctx_.io, health_loop(current_.id), asio::detached);
  }
}

void Component::on_tree_end(uint64_t id, const TreeEnd& end) {
  // Whoever waits for this run to stay up is told at the end of this call (see below).
  struct Tell {
    StateEvent& e;
    ~Tell() { e.notify_all(); }
  } tell{outcome_changed_};
  for (const auto& w : end.warnings) {
    warnings_.push_back(w);
    spdlog::warn("{}: {}", name_, w);
    logs_.append(Stream::kBerth, "[berth] warning: " + w);
  }
  auto replaced =
      std::find_if(draining_.begin(), draining_.end(), [id](const Run& r) { return r.id == id; });
  if (replaced != draining_.end()) {
    release(*replaced);
    note(fmt::format("pid {} (replaced) ended: {}{}", replaced->tree->pid(), end.status.describe(),
                     end.killed_after_grace ? ", killed after grace" : ""));
    draining_.erase(replaced);
    return;
  }
  const auto failure = [&end]() -> Error {
    if (end.startup_failure) return *end.startup_failure;
    if (end.stop_requested) return {Code::kStopped, "stopped before it was ready"};
    return {Code::kExitedBeforeReady, "exited before ready: " + end.status.describe()};
  };
  if (incoming_ && incoming_->id == id) {
    // A replacement that never became ready: the serving tree goes on as if nothing happened.
    release(*incoming_);
    incoming_.reset();
    if (!outcome_) set_outcome(std::unexpected(failure()));
    if (!end.stop_requested) {
      last_error_ = failure();
      last_tail_ = end.tail;
      note(fmt::format("the replacement failed to start: {}; pid {} keeps serving",
                       last_error_->message, current_.tree->pid()));
    }
    return;
  }
  if (current_.id != id || !current_.tree) return;
  release(current_);
  const pid_t pid = current_.tree->pid();
  current_.tree.reset();
  if (proxy_) proxy_->set_backend(std::nullopt);  // connections wait for the next one
  last_exit_ = end.status;
  last_exit_oom_ = end.oom_killed;
  if (end.stop_to_gone)
    last_stop_us_ = {end.stop_to_exit ? end.stop_to_exit->count() : -1, end.stop_to_gone->count()};
  if (incoming_ && !end.stop_requested) {
    // The serving tree died while its replacement starts: that one takes over.
    note(
        fmt::format("pid {} exited ({}) while its replacement starts", pid, end.status.describe()));
    current_ = std::move(*incoming_);
    incoming_.reset();
    state_ = State::kStarting;
    if (current_.tree->ready()) became_ready();  // it was waiting for its health gate
    return;
  }
  if (!outcome_) set_outcome(std::unexpected(failure()));
  on_serving_end(end);
  // Nothing will run for a while: connections are refused rather than left waiting.
  if (!end.stop_requested && state_ != State::kBackoff) close_socket();
}

// The restart policy's turn, once the serving tree has ended.
void Component::on_serving_end(const TreeEnd& end) {
  if (end.stop_requested) {
    state_ = State::kStopped;
    note(fmt::format("stopped ({}{})", end.status.describe(),
                     end.killed_after_grace ? ", killed after grace" : ""));
    return;
  }
  bool failed = end.startup_failure || end.status.code != 0 || end.status.signal != 0;
  if (end.startup_failure) {
    last_error_ = end.startup_failure;
    last_tail_ = end.tail;
    note(fmt::format("startup failed: {} ({})", wire(end.startup_failure->code),
                     end.startup_failure->message));
  } else if (end.oom_killed) {
    last_error_ = Error{Code::kExited, fmt::format("{}: out of memory ([limits] memory = {} MiB)",
                                                   end.status.describe(),
                                                   manifest_.limits.memory.value_or(0) >> 20)};
    last_tail_ = end.tail;
    note("exited: " + last_error_->message);
  } else {
    note(fmt::format("exited: {}", end.status.describe()));
    if (failed) {
      last_error_ = Error{Code::kExited,
                          end.status.describe() + (end.summary.empty() ? "" : "; " + end.summary)};
      last_tail_ = end.tail;
    }
  }
  auto decision =
      tracker_.on_run_end(manifest_.restart, failed, end.startup_failure.has_value(), end.ran);
  switch (decision.kind) {
    case RestartDecision::Kind::kNone:
      state_ = failed ? State::kFailed : State::kStopped;
      return;
    case RestartDecision::Kind::kCrashLoop:
      state_ = State::kCrashLooping;
      if (!manifest_.restart.cooldown) {
        note(
            fmt::format("crash-looping: {} unstable runs in a row; not restarting until asked "
                        "(berth start {})",
                        tracker_.consecutive_unstable(), name_));
        return;
      }
      note(fmt::format(
          "crash-looping: {} unstable runs in a row; trying again in {} (berth "
          "start {} tries now)",
          tracker_.consecutive_unstable(), format_duration(*manifest_.restart.cooldown), name_));
      wait_to_restart(*manifest_.restart.cooldown, State::kCrashLooping);
      return;
    case RestartDecision::Kind::kRestart:
      break;
  }
  state_ = State::kBackoff;
  note(fmt::format("restarting in {}", format_duration(decision.delay)));
  wait_to_restart(decision.delay, State::kBackoff);
}

// A backoff, or a crash loop's cool-down (which starts again from a clean history). Stopping
// or destroying it meanwhile leaves another state, and the timer then does nothing.
void Component::wait_to_restart(Millis delay, State waiting) {
  backoff_until_ = std::chrono::steady_clock::now() + delay;
  backoff_timer_.expires_after(delay);
  std::weak_ptr<Component> weak = weak_from_this();
  backoff_timer_.async_wait([weak, waiting](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->state_ != waiting || self->destroyed_) return;
    self->backoff_until_.reset();
    if (waiting == State::kCrashLooping) {
      self->tracker_.reset();
      self->note("cool-down over: trying again");
    }
    ++self->restarts_;
    (void)self->spawn_tree();
  });
}

asio::awaitable<Result<void>> Component::stop() {
  auto self = shared_from_this();
  wants_watch_ = false;
  watcher_.reset();
  co_await stop_tree();
  close_socket();
  co_return Result<void>{};
}

asio::awaitable<void> Component::stop_tree() {
  auto self = shared_from_this();
  backoff_timer_.cancel();
  backoff_until_.reset();
  health_timer_.cancel();
  std::vector<std::shared_ptr<ProcessTree>> trees;
  if (incoming_) trees.push_back(incoming_->tree);
  if (current_.running()) trees.push_back(current_.tree);
  for (const auto& r : draining_) trees.push_back(r.tree);
  if (incoming_ || current_.running()) state_ = State::kStopping;
  for (const auto& t : trees) t->request_stop();
  for (const auto& t : trees) co_await t->wait_ended();
  if (state_ != State::kStopped && !current_.running()) state_ = State::kStopped;
}

asio::awaitable<Result<void>> Component::restart() {
  auto self = shared_from_this();
  auto m = load_manifest(dir_, source_);  // refuse before stopping if the new manifest is broken
  BERTH_CO_TRY(m);
  ++restarts_;
  if (overlaps(*m)) {
    // Answered once the replacement is ready (or has failed, leaving the old one serving).
    BERTH_CO_TRY(co_await replace(std::make_unique<Manifest>(std::move(*m))));
    auto r = co_await wait_started();
    if (!r && current_.running())
      co_return fail(r.error().code, fmt::format("{}; pid {} keeps serving", r.error().message,
                                                 current_.tree->pid()));
    co_return r;
  }
  co_await stop_tree();
  co_return start_now();
}

Result<void> Component::signal(int sig, bool leader_only) {
  if (!current_.running())
    return fail(Code::kNotRunning, "component \"" + name_ + "\" is not running");
  current_.tree->send_signal(sig, leader_only);
  note(
      fmt::format("sent {} to {}", signal_name(sig), leader_only ? "its leader" : "every process"));
  return {};
}

double Component::cpu_percent(uint64_t used_us) const {
  const auto now = std::chrono::steady_clock::now();
  auto& c = cpu_sample_;
  const bool first = c.run != current_.id;  // the first figure of a run covers the run so far
  if (first) c = {current_.id, 0, current_.spawned_at, 0};
  const auto elapsed = std::chrono::duration<double, std::micro>(now - c.at).count();
  // Samples closer than this would be noise: the last figure stands.
  if ((first || elapsed >= 200'000) && elapsed > 0) {
    c.percent =
        used_us >= c.used_us ? 100.0 * static_cast<double>(used_us - c.used_us) / elapsed : 0;
    c.used_us = used_us;
    c.at = now;
  }
  return c.percent;
}

api::ComponentStatus Component::status() const {
  using namespace std::chrono;
  api::ComponentStatus s;
  s.name = name_;
  s.dir = dir_.string();
  s.state = destroy_error_ ? "destroy_failed" : to_string(state_);
  s.destroy_error = destroy_error_;
  s.restarts = restarts_;
  s.watch_restarts = watch_restarts_;
  if (current_.started_at != std::chrono::system_clock::time_point{})
    s.started_at_ms = duration_cast<milliseconds>(current_.started_at.time_since_epoch()).count();
  s.cgroup_isolation = ctx_.cgroup.has_value();
  s.address = current_.address;
  if (const auto& tree = current_.tree) {
    auto members = tree->members();
    s.pid = tree->pid();
    s.processes = members.size();
    s.memory_bytes = rss_bytes(members);
    std::optional<uint64_t> used;
    if (auto cg = tree->cgroup()) used = cgroup::cpu_usec(*cg);
    if (!used) used = cpu_usec(members);
    s.cpu_seconds = static_cast<double>(*used) / 1e6;
    s.cpu_percent = cpu_percent(*used);
    auto since = state_ == State::kReady ? ready_at_ : current_.started_at;
    s.uptime_ms = duration_cast<milliseconds>(system_clock::now() - since).count();
    s.cgroup = tree->cgroup();
  }
  if (incoming_) s.replacement_pid = incoming_->tree->pid();
  for (const auto& r : draining_) s.draining_pids.push_back(r.tree->pid());
  if (manifest_.health) s.health = health_;
  if (manifest_.serve) {
    s.serve = api::ComponentStatus::Serve{manifest_.serve->address, manifest_.serve->port,
                                          to_string(manifest_.serve->mode), socket_ != nullptr};
    if (proxy_) {
      const auto st = proxy_->stats();
      const auto& b = proxy_->backend();
      s.serve->proxy = {b ? std::optional(b->str()) : std::nullopt, st.active, st.accepted,
                        st.dropped};
    }
  }
  if (backoff_until_)
    s.restart_in_ms = std::max<int64_t>(
        0, duration_cast<milliseconds>(*backoff_until_ - steady_clock::now()).count());
  if (last_exit_)
    s.last_exit = {
        last_exit_->code,
        last_exit_->signal ? std::optional(signal_name(last_exit_->signal)) : std::nullopt,
        last_exit_->describe(), last_exit_oom_ ? std::optional<std::string>("oom") : std::nullopt};
  s.last_error = last_error_;
  if (last_error_) s.last_error_tail = last_tail_;
  s.warnings = warnings_;
  if (watcher_) {
    s.watch = api::ComponentStatus::Watch{to_string(watcher_->mode()), watcher_->reason(),
                                          watcher_->watches(), std::nullopt};
    if (last_change_)
      s.watch->last_change = {
          last_change_->first,
          duration_cast<milliseconds>(last_change_->second.time_since_epoch()).count()};
  }
  s.last_stop_us = last_stop_us_;
  s.restart_policy = to_string(manifest_.restart.policy);
  for (const auto& [k, v] : env_) s.env.push_back({k, shown_value(k, v.value), v.source});
  if (auto chosen = ctx_.components.env(name_); chosen) s.profile = chosen->profile;
  s.log_file = logs_.file().string();
  s.inferred = manifest_.inferred;
  s.command = manifest_.run.argv;
  return s;
}

}  // namespace berth
