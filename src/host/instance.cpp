#include "host/instance.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "core/random_id.h"
#include "core/signals.h"
#include "host/component.h"
#include "proc/cgroup.h"
#include "proc/proc_stat.h"

namespace berth {
namespace asio = boost::asio;

const char* to_string(Instance::State s) {
  switch (s) {
    case Instance::State::kStopped:
      return "stopped";
    case Instance::State::kStarting:
      return "starting";
    case Instance::State::kReady:
      return "ready";
    case Instance::State::kStopping:
      return "stopping";
    case Instance::State::kBackoff:
      return "backoff";
    case Instance::State::kCrashLooping:
      return "crash-looping";
    case Instance::State::kFailed:
      return "failed";
  }
  return "?";
}

Instance::Instance(Component& owner, int index)
    : owner_(owner),
      index_(index),
      manifest_(std::make_shared<Manifest>()),
      health_timer_(owner.ctx().io),
      backoff_timer_(owner.ctx().io) {}

void Instance::note(const std::string& text) const {
  owner_.note(index_, text);
}

void Instance::set_outcome(Result<void> r) {
  outcome_ = std::move(r);
  owner_.changed().notify_all();
}

asio::awaitable<Result<void>> Instance::wait_started() {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  const std::function<bool()> decided = [this] { return outcome_.has_value(); };
  co_await owner_.changed().wait_until(decided, std::chrono::steady_clock::time_point::max());
  co_return *outcome_;
}

bool Instance::serves() const {
  return state_ == State::kReady && current_.running() && health_.state != "unhealthy" && !retired_;
}

std::optional<ServeProxy::Backend> Instance::backend() const {
  if (current_.port == 0 || !serves()) return std::nullopt;
  return ServeProxy::Backend{current_.address, current_.port};
}

bool Instance::holds_slot(int slot) const {
  return (current_.running() && current_.slot == slot) || (incoming_ && incoming_->slot == slot) ||
         std::any_of(draining_.begin(), draining_.end(),
                     [slot](const Run& r) { return r.slot == slot; });
}

void Instance::refuse(const Error& why) {
  if (current_.running()) return;
  state_ = State::kFailed;
  last_error_ = why;
  set_outcome(std::unexpected(why));
}

void Instance::retire() {
  retired_ = true;
  if (current_.running()) note(fmt::format("scaled away: pid {} is told to stop", pid()));
}

Result<void> Instance::start(std::shared_ptr<const Manifest> m) {
  if (current_.running()) return {};
  manifest_ = std::move(m);
  backoff_timer_.cancel();
  backoff_until_.reset();
  tracker_.reset();
  return spawn_tree();
}

Result<Instance::Run> Instance::spawn_run() {
  if (retired_) return fail(Code::kStopped, fmt::format("instance {} was scaled away", index_));
  auto& ctx = owner_.ctx();
  const std::string& name = owner_.name();
  const Manifest& m = *manifest_;
  Run run;
  run.id = owner_.next_run_id();
  run.slot = owner_.free_slot();
  const int slot = run.slot;
  std::optional<std::filesystem::path> cgroup_dir;
  bool recorded = false;
  // Whatever was lent to a run that did not start is given back.
  auto undo = [&](Error why) -> Result<Run> {
    if (recorded) (void)ctx.trees.remove(name, slot);
    if (cgroup_dir) (void)cgroup::remove(*cgroup_dir);
    if (run.leased) (void)ctx.leases.release(name, slot);
    return std::unexpected(std::move(why));
  };
  const bool socket_mode = m.serve && m.serve->mode == ServeMode::kSocket;
  const bool proxy_mode = m.serve && m.serve->mode == ServeMode::kProxy;
  BERTH_TRY(owner_.ensure_socket(m));
  // Proxy mode: every tree listens on an address of its own, so two can overlap.
  if (m.run.lease_address || proxy_mode) {
    auto a = ctx.leases.acquire(name, slot, ctx.config.lease_first, ctx.config.lease_last);
    if (!a) return std::unexpected(a.error());
    run.leased = true;
    run.address = *a;
  }
  // Read afresh at every start: an edited env file or a new --env reaches the next run.
  auto env = owner_.environment();
  if (!env) return undo(env.error());
  (*env)["BERTH_COMPONENT"] = {name, "berth"};
  (*env)["BERTH_INSTANCE"] = {std::to_string(index_), "berth"};
  (*env)["BERTH_HOST"] = {run.address, "berth"};
  if (proxy_mode) {
    run.port = m.serve->instance_port;
    (*env)["PORT"] = {std::to_string(run.port), "berth [serve] proxy"};
  } else if (m.serve) {
    (*env)["PORT"] = {std::to_string(m.serve->port), "berth [serve]"};
  }
  if (ctx.config.cluster.enabled()) (*env)["BERTH_NODE"] = {ctx.config.cluster.node, "berth"};
  TreeSpec spec;
  spec.label = index_ == 0 ? name : fmt::format("{}#{}", name, index_);
  spec.spawn.argv = m.run.argv;
  spec.spawn.env = values_of(*env);
  spec.spawn.cwd = owner_.dir() / m.run.cwd;
  if (socket_mode) {
    spec.spawn.listen_fds = {owner_.socket()->fd()};
    spec.spawn.listen_names = name;
  }
  env_ = std::move(*env);
  spec.ready = m.ready;
  spec.stop = m.stop;
  spec.address = run.address;
  spec.notify_socket = fmt::format("berth/{}/{}/{}", ctx.tag, name, random_hex(4));
  const auto& limits = m.limits;
  if (limits.any() && !ctx.cgroup)
    return undo({Code::kLimitsUnavailable,
                 "[limits] are applied through cgroup v2, and this daemon runs without cgroups "
                 "(see `isolation` in berth status); remove [limits] or give berth a cgroup"});
  if (limits.any())
    if (auto r = cgroup::enable_for(ctx.cgroup->dir, limits); !r) return undo(r.error());
  if (ctx.cgroup) {
    auto dir = ctx.cgroup->dir / fmt::format("{}.{}", name, random_hex(4));
    if (auto r = cgroup::create(dir); r)
      cgroup_dir = spec.spawn.cgroup = dir;
    else if (limits.any())
      return undo({Code::kLimitsUnavailable, "[limits] need a cgroup: " + r.error().message});
    else
      spdlog::warn("{}: {}; running without a cgroup", name, r.error().message);
  }
  // Limits are in place before the first process joins: nothing runs unlimited, ever.
  if (cgroup_dir && limits.any())
    if (auto r = cgroup::apply_limits(*cgroup_dir, limits); !r) return undo(r.error());
  // A tree is recorded before it exists (its cgroup, if any) and again once it does: a daemon
  // that dies at any point leaves a row its successor can act on. A tree that cannot be
  // recorded is not started, or, if its second record fails, killed at once.
  TreeRow row{name, slot, 0, 0, 0, std::nullopt};
  if (cgroup_dir) row.cgroup = cgroup_dir->string();
  if (auto r = ctx.trees.put(row); !r)
    return undo({Code::kNotRecorded,
                 "cannot record the process tree, so it was not started: " + r.error().message});
  recorded = true;

  std::weak_ptr<Instance> weak = weak_from_this();
  const uint64_t id = run.id;
  const int index = index_;
  ProcessTree::Hooks hooks;
  // Lines go to the component's logs even after this instance was scaled away.
  std::weak_ptr<Component> component = owner_.weak_from_this();
  hooks.on_line = [component, index](Stream stream, std::string_view line) {
    if (auto c = component.lock()) c->append(index, stream, line);
  };
  hooks.on_ready = [weak, id] {
    if (auto self = weak.lock()) self->on_ready(id);
  };
  hooks.on_end = [weak, id](const TreeEnd& end) {
    if (auto self = weak.lock()) self->on_tree_end(id, end);
  };
  auto tree = ProcessTree::start(ctx.io, ctx.reaper, std::move(spec), std::move(hooks));
  if (!tree) return undo(tree.error());
  run.tree = *tree;
  run.spawned_at = std::chrono::steady_clock::now();
  run.started_at = std::chrono::system_clock::now();
  row.pid = row.pgid = run.tree->pid();
  row.start_time = run.tree->start_time();
  if (auto r = ctx.trees.put(row); !r)
    run.tree->abort(
        {Code::kNotRecorded,
         "cannot record the process tree, so it was killed at once: " + r.error().message});
  return run;
}

Result<void> Instance::spawn_tree() {
  outcome_.reset();
  auto run = spawn_run();
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
  owner_.changed().notify_all();
  return {};
}

bool Instance::overlaps(const Manifest& next) const {
  return manifest_->serve && next.serve && current_.running() && current_.tree->ready();
}

asio::awaitable<Result<void>> Instance::restart(std::shared_ptr<const Manifest> next, bool wait) {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  if (overlaps(*next)) {
    // Answered once the replacement is ready (or has failed, leaving the old one serving).
    BERTH_CO_TRY(co_await replace(std::move(next)));
    auto r = co_await wait_started();
    if (!r && current_.running())
      co_return fail(r.error().code, fmt::format("{}; pid {} keeps serving", r.error().message,
                                                 current_.tree->pid()));
    co_return r;
  }
  co_await stop();
  if (owner_.destroyed())
    co_return fail(Code::kComponentDestroyed, "component \"" + owner_.name() + "\" was destroyed");
  if (!owner_.started()) co_return Result<void>{};  // stopped by a user meanwhile
  auto r = start(std::move(next));
  if (!r || !wait) co_return r;
  co_return co_await wait_started();
}

asio::awaitable<Result<void>> Instance::replace(std::shared_ptr<const Manifest> next) {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  if (incoming_) {  // a newer restart wins over a replacement still starting
    auto tree = incoming_->tree;
    tree->request_stop();
    co_await tree->wait_ended();
  }
  if (owner_.destroyed())
    co_return fail(Code::kComponentDestroyed, "component \"" + owner_.name() + "\" was destroyed");
  if (!overlaps(*next)) {  // it ended (or was stopped) meanwhile
    co_await stop();
    co_return start(std::move(next));
  }
  manifest_ = std::move(next);
  tracker_.reset();
  outcome_.reset();
  auto run = spawn_run();
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

void Instance::release(const Run& run) {
  auto& ctx = owner_.ctx();
  (void)ctx.trees.remove(owner_.name(), run.slot);
  // The tree is dead: only now may its address go to someone else.
  if (run.leased) (void)ctx.leases.release(owner_.name(), run.slot);
}

namespace {

// Proxy mode: the replaced tree is told to stop once it has taken every connection the proxy
// sent it (a listener that closes drops its backlog), or after its grace.
asio::awaitable<void> stop_when_settled(std::shared_ptr<ServeProxy> proxy,
                                        std::shared_ptr<ProcessTree> tree,
                                        ServeProxy::Backend backend, Millis limit) {
  co_await proxy->settled(std::move(backend), limit);
  tree->request_stop();
}

}  // namespace

void Instance::on_ready(uint64_t id) {
  if (incoming_ && incoming_->id == id) {
    // With [health], the replacement serves only once a check has passed.
    if (manifest_->health) {
      asio::co_spawn(owner_.ctx().io, health_gate(id), asio::detached);
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

void Instance::promote() {
  Run old = std::move(current_);
  current_ = std::move(*incoming_);
  incoming_.reset();
  last_error_.reset();
  last_tail_.clear();
  warnings_.clear();
  note(fmt::format("ready; pid {} (the one it replaces) is told to stop", old.tree->pid()));
  owner_.backends_changed();  // before the old one may be told to stop
  const auto& proxy = owner_.proxy();
  if (proxy && old.port != 0) {
    // From became_ready() on, new connections go to the new one; the old one stops once it
    // has taken those it was sent.
    asio::co_spawn(
        owner_.ctx().io,
        stop_when_settled(proxy, old.tree, {old.address, old.port}, manifest_->stop.grace),
        asio::detached);
  } else {
    old.tree->request_stop();
  }
  draining_.push_back(std::move(old));
}

void Instance::became_ready() {
  state_ = State::kReady;
  ready_at_ = std::chrono::system_clock::now();
  if (manifest_->health) health_.state = "starting";  // a new run is not held to the last's
  owner_.backends_changed();
  set_outcome({});
  if (manifest_->health) {
    health_timer_.cancel();  // the loop of the run this one replaced ends
    asio::co_spawn(owner_.ctx().io, health_loop(current_.id), asio::detached);
  }
}

void Instance::on_tree_end(uint64_t id, const TreeEnd& end) {
  // Whoever waits for this run to stay up is told at the end of this call (see below).
  struct Tell {
    StateEvent& e;
    ~Tell() { e.notify_all(); }
  } tell{owner_.changed()};
  for (const auto& w : end.warnings) {
    warnings_.push_back(w);
    spdlog::warn("{}: {}", owner_.name(), w);
    owner_.append(index_, Stream::kBerth, "[berth] warning: " + w);
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
    owner_.backends_changed();
    if (current_.tree->ready()) became_ready();  // it was waiting for its health gate
    return;
  }
  if (!outcome_) set_outcome(std::unexpected(failure()));
  on_serving_end(end);
  owner_.backends_changed();  // connections go to the others, or wait for the next one
  if (!end.stop_requested) owner_.instance_down();
}

// The restart policy's turn, once the serving tree has ended.
void Instance::on_serving_end(const TreeEnd& end) {
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
                                                   manifest_->limits.memory.value_or(0) >> 20)};
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
      tracker_.on_run_end(manifest_->restart, failed, end.startup_failure.has_value(), end.ran);
  switch (decision.kind) {
    case RestartDecision::Kind::kNone:
      state_ = failed ? State::kFailed : State::kStopped;
      return;
    case RestartDecision::Kind::kCrashLoop:
      state_ = State::kCrashLooping;
      if (!manifest_->restart.cooldown) {
        note(
            fmt::format("crash-looping: {} unstable runs in a row; not restarting until asked "
                        "(berth start {})",
                        tracker_.consecutive_unstable(), owner_.name()));
        return;
      }
      note(
          fmt::format("crash-looping: {} unstable runs in a row; trying again in {} (berth "
                      "start {} tries now)",
                      tracker_.consecutive_unstable(),
                      format_duration(*manifest_->restart.cooldown), owner_.name()));
      wait_to_restart(*manifest_->restart.cooldown, State::kCrashLooping);
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
void Instance::wait_to_restart(Millis delay, State waiting) {
  backoff_until_ = std::chrono::steady_clock::now() + delay;
  backoff_timer_.expires_after(delay);
  std::weak_ptr<Instance> weak = weak_from_this();
  backoff_timer_.async_wait([weak, waiting](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->state_ != waiting || self->owner_.destroyed()) return;
    self->backoff_until_.reset();
    if (waiting == State::kCrashLooping) {
      self->tracker_.reset();
      self->note("cool-down over: trying again");
    }
    self->owner_.count_restart();
    (void)self->spawn_tree();
  });
}

std::vector<std::shared_ptr<ProcessTree>> Instance::begin_stop() {
  backoff_timer_.cancel();
  backoff_until_.reset();
  health_timer_.cancel();
  std::vector<std::shared_ptr<ProcessTree>> trees;
  if (incoming_) trees.push_back(incoming_->tree);
  if (current_.running()) trees.push_back(current_.tree);
  for (const auto& r : draining_) trees.push_back(r.tree);
  if (incoming_ || current_.running()) state_ = State::kStopping;
  for (const auto& t : trees) t->request_stop();
  owner_.backends_changed();
  return trees;
}

void Instance::stopped() {
  if (!current_.running()) state_ = State::kStopped;
}

asio::awaitable<void> Instance::stop() {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  for (const auto& t : begin_stop()) co_await t->wait_ended();
  stopped();
}

bool Instance::signal(int sig, bool leader_only) {
  if (!current_.running()) return false;
  current_.tree->send_signal(sig, leader_only);
  return true;
}

double Instance::cpu_percent(uint64_t used_us) const {
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

api::InstanceStatus Instance::status() const {
  using namespace std::chrono;
  api::InstanceStatus s;
  s.index = index_;
  s.state = to_string(state_);
  if (current_.started_at != system_clock::time_point{})
    s.started_at_ms = duration_cast<milliseconds>(current_.started_at.time_since_epoch()).count();
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
  if (manifest_->health) s.health = health_;
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
  s.last_stop_us = last_stop_us_;
  return s;
}

}  // namespace berth
