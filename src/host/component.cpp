#include "host/component.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "core/signals.h"

namespace berth {
namespace asio = boost::asio;
using State = Instance::State;

namespace {

// An instance's failure, named as that instance's.
std::unexpected<Error> failed_instance(const Instance& in, const Error& e) {
  return std::unexpected(Error{e.code, fmt::format("instance {}: {}", in.index(), e.message)});
}

}  // namespace

Component::Component(HostContext& ctx, std::string name, std::filesystem::path dir, bool watch,
                     RunSource source)
    : ctx_(ctx),
      name_(std::move(name)),
      dir_(std::move(dir)),
      source_(std::move(source)),
      manifest_(std::make_shared<Manifest>()),
      logs_(ctx.io.get_executor(), ctx.config.home / "logs" / name_,
            LogLimits{ctx.config.log_max_bytes, ctx.config.log_files, ctx.config.log_ring_lines}),
      watch_flag_(watch),
      changed_(ctx.io.get_executor()) {
  // Read once: from now on scale() keeps it and the store in step.
  if (auto kept = ctx_.components.scale(name_); kept) scaled_ = *kept;
}

Component::~Component() {
  if (proxy_) proxy_->close();
}

bool Component::running() const {
  return std::any_of(instances_.begin(), instances_.end(),
                     [](const auto& in) { return in->running(); });
}

int Component::wanted(const Manifest& m) const {
  return scaled_.value_or(m.run.instances);
}

void Component::append(int index, Stream stream, std::string_view line) {
  logs_.append(stream, line, tagged() ? index : -1);
}

void Component::note(int index, const std::string& text) {
  logs_.append(Stream::kBerth, "[berth] " + text, tagged() ? index : -1);
  if (tagged() && index >= 0)
    spdlog::info("{}#{}: {}", name_, index, text);
  else
    spdlog::info("{}: {}", name_, text);
}

asio::awaitable<Result<void>> Component::wait_started() {
  auto self = shared_from_this();
  const auto list = instances_;
  for (const auto& in : list) {
    auto r = co_await in->wait_started();
    if (!r && list.size() > 1) co_return failed_instance(*in, r.error());
    if (!r) co_return r;
  }
  co_return Result<void>{};
}

void Component::pause_for_deploy() {
  deploy_paused_ = true;
  watcher_.reset();
}

void Component::resume_after_deploy() {
  deploy_paused_ = false;
  if (wants_watch_) ensure_watcher(true);
}

asio::awaitable<Result<void>> Component::start() {
  auto self = shared_from_this();
  const auto list = instances_;  // the vector may change while a stop is awaited
  for (const auto& in : list)
    if (in->state() == State::kStopping) co_await in->stop();
  co_return start_now();
}

Result<void> Component::start_now() {
  if (destroyed_)
    return fail(Code::kComponentDestroyed, "component \"" + name_ + "\" was destroyed");
  Result<void> first;
  const auto keep_first = [&first](Result<void> r) {
    if (!r && first) first = std::move(r);
  };
  if (running()) {
    // Those that do not run (failed, crash-looping, waiting to restart) start now.
    for (const auto& in : instances_)
      if (!in->running() && in->state() != State::kStopping) keep_first(in->start(manifest_));
    return first;
  }
  auto m = load();
  if (!m) {
    if (instances_.empty()) instances_.push_back(std::make_shared<Instance>(*this, 0));
    for (const auto& in : instances_) in->refuse(m.error());
    return std::unexpected(m.error());
  }
  manifest_ = std::make_shared<const Manifest>(std::move(*m));
  wants_watch_ = true;
  // The watcher outlives a failed spawn: fixing the file restarts the component.
  ensure_watcher(!restarting_);
  const size_t n = wanted(*manifest_);
  if (instances_.size() > n) instances_.resize(n);  // none of them runs
  while (instances_.size() < n)
    instances_.push_back(std::make_shared<Instance>(*this, static_cast<int>(instances_.size())));
  for (const auto& in : instances_) keep_first(in->start(manifest_));
  return first;
}

void Component::ensure_watcher(bool fresh) {
  if (deploy_paused_ || destroyed_) return;
  if (!(manifest_->watch.enabled || watch_flag_)) {
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
  opts.rules = IgnoreRules::load(dir_, manifest_->watch.ignore, manifest_->watch.include);
  opts.debounce = manifest_->watch.debounce;
  opts.max_wait = manifest_->watch.max_wait;
  opts.poll_interval = manifest_->watch.poll_interval;
  opts.retries = manifest_->watch.retries;
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
    auto next = load();
    Result<void> r;
    if (!next && manifest_->serve && running()) {
      r = std::unexpected(next.error());  // a broken berth.toml: the serving trees go on
    } else if (!next) {
      co_await stop_all();
      if (!watcher_) break;  // stopped by a user meanwhile
      ++restarts_;
      ++watch_restarts_;
      r = start_now();
    } else {
      ++restarts_;
      ++watch_restarts_;
      // Waits for every instance, so a change meanwhile restarts once more after.
      r = co_await roll(std::make_shared<const Manifest>(std::move(*next)), true);
    }
    if (!r) note("restart after change failed: " + r.error().message);
  } while (restart_again_ && watcher_);
  restarting_ = false;
}

asio::awaitable<Result<void>> Component::roll(std::shared_ptr<const Manifest> next,
                                              bool wait_last) {
  auto self = shared_from_this();
  if (destroyed_)
    co_return fail(Code::kComponentDestroyed, "component \"" + name_ + "\" was destroyed");
  manifest_ = next;
  wants_watch_ = true;
  ensure_watcher(!restarting_);
  const size_t n = wanted(*next);
  // Fewer: the extra ones are stopped, not restarted first.
  if (instances_.size() > n) BERTH_CO_TRY(co_await resize(static_cast<int>(n)));
  const auto list = instances_;  // a scale meanwhile must not move this loop
  for (size_t i = 0; i < list.size(); ++i) {
    // One at a time: the next one is restarted only once this one is ready again.
    const bool wait = wait_last || i + 1 < list.size() || list.size() < n;
    auto r = co_await list[i]->restart(next, wait);
    if (r) continue;
    if (list.size() == 1) co_return r;
    co_return fail(
        r.error().code,
        fmt::format("instance {}: {}{}", i, r.error().message,
                    i + 1 < list.size() ? fmt::format("; instances {} to {} were not restarted",
                                                      i + 1, list.size() - 1)
                                        : ""));
  }
  if (instances_.size() < n) BERTH_CO_TRY(co_await resize(static_cast<int>(n)));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Component::resize(int n) {
  auto self = shared_from_this();
  const size_t want = static_cast<size_t>(n);
  if (instances_.size() > want) {
    // The highest go first; each is dropped once its trees are gone (their slots with them).
    const std::vector<std::shared_ptr<Instance>> extra(instances_.begin() + n, instances_.end());
    std::vector<ServeProxy::Backend> relayed;
    for (const auto& in : extra) {
      if (auto b = in->backend()) relayed.push_back(std::move(*b));
      in->retire();
    }
    // Proxy mode: they get no new connection, and take those they were sent before they stop.
    backends_changed();
    if (auto proxy = proxy_)
      for (const auto& b : relayed) co_await proxy->settled(b, manifest_->stop.grace);
    std::vector<std::shared_ptr<ProcessTree>> trees;
    for (const auto& in : extra)
      for (auto& t : in->begin_stop()) trees.push_back(std::move(t));
    for (const auto& t : trees) co_await t->wait_ended();
    std::erase_if(instances_, [&extra](const auto& in) {
      return std::find(extra.begin(), extra.end(), in) != extra.end();
    });
    co_return Result<void>{};
  }
  const size_t before = instances_.size();
  while (instances_.size() < want)
    instances_.push_back(std::make_shared<Instance>(*this, static_cast<int>(instances_.size())));
  const std::vector<std::shared_ptr<Instance>> fresh(instances_.begin() + before, instances_.end());
  for (const auto& in : fresh)
    if (auto r = in->start(manifest_); !r) co_return failed_instance(*in, r.error());
  for (const auto& in : fresh)
    if (auto r = co_await in->wait_started(); !r) co_return failed_instance(*in, r.error());
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Component::scale(std::optional<int> n) {
  auto self = shared_from_this();
  if (destroyed_)
    co_return fail(Code::kComponentDestroyed, "component \"" + name_ + "\" was destroyed");
  if (n && (*n < 1 || *n > RunSpec::kMaxInstances))
    co_return fail(Code::kBadRequest,
                   fmt::format("instances must be between 1 and {} (berth stop stops them all)",
                               RunSpec::kMaxInstances));
  BERTH_CO_TRY(ctx_.components.set_scale(name_, n));
  scaled_ = n;
  note(n ? fmt::format("scaled to {} instance{}", *n, *n == 1 ? "" : "s")
         : std::string("scaled back to berth.toml's [run] instances"));
  if (!wants_watch_) co_return Result<void>{};  // stopped: its next start runs that many
  co_return co_await resize(wanted(*manifest_));
}

asio::awaitable<Result<void>> Component::stays_up(std::chrono::milliseconds window) {
  auto self = shared_from_this();
  const auto list = instances_;
  std::vector<uint64_t> runs;
  for (const auto& in : list) runs.push_back(in->run_id());
  // The first instance that ended or left ready since; none: list.size().
  const auto first_gone = [&list, &runs] {
    size_t i = 0;
    while (i < list.size() && list[i]->run_id() == runs[i] && list[i]->state() == State::kReady)
      ++i;
    return i;
  };
  const std::function<bool()> left = [&] { return first_gone() < list.size(); };
  co_await changed_.wait_until(left, std::chrono::steady_clock::now() + window);
  if (!left()) co_return Result<void>{};
  const Instance& in = *list[first_gone()];
  const auto after =
      std::chrono::duration<double>(std::chrono::system_clock::now() - in.ready_at());
  const std::string what =
      in.last_error() && in.state() != State::kStopping && in.state() != State::kStopped
          ? in.last_error()->message
          : std::string("it was ") + to_string(in.state());
  co_return fail(Code::kExitedAfterReady,
                 fmt::format("{}it went down {:.1f}s after it was ready, inside [deploy] "
                             "healthy_for {}: {}",
                             list.size() > 1 ? fmt::format("instance {}: ", in.index()) : "",
                             after.count(), format_duration(window), what));
}

Result<Environment> Component::environment(const EnvChange& change) const {
  auto chosen = ctx_.components.env(name_);
  BERTH_TRY(chosen);
  change.apply(chosen->set, chosen->profile);
  return compose_environment(ctx_.base_env, *manifest_, dir_, chosen->set, chosen->profile);
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

int Component::free_slot() const {
  for (int slot = 0;; ++slot)
    if (std::none_of(instances_.begin(), instances_.end(),
                     [slot](const auto& in) { return in->holds_slot(slot); }))
      return slot;
}

Result<void> Component::ensure_socket(const Manifest& m) {
  if (!m.serve) {
    close_socket();  // [serve] gone from berth.toml: nobody would accept on it
    return {};
  }
  const auto& want = *m.serve;
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
    backends_changed();
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

void Component::backends_changed() {
  if (!proxy_) return;
  std::vector<ServeProxy::Backend> serving;
  for (const auto& in : instances_)
    if (auto b = in->backend()) serving.push_back(std::move(*b));
  proxy_->set_backends(std::move(serving));
}

void Component::instance_down() {
  for (const auto& in : instances_)
    if (in->running() || in->state() == State::kBackoff || in->state() == State::kStarting) return;
  // Nothing will run for a while: connections are refused rather than left waiting.
  close_socket();
}

asio::awaitable<Result<void>> Component::stop() {
  auto self = shared_from_this();
  wants_watch_ = false;
  watcher_.reset();
  co_await stop_all();
  close_socket();
  co_return Result<void>{};
}

asio::awaitable<void> Component::stop_all() {
  auto self = shared_from_this();
  const auto list = instances_;
  std::vector<std::shared_ptr<ProcessTree>> trees;
  for (const auto& in : list)
    for (auto& t : in->begin_stop()) trees.push_back(std::move(t));
  for (const auto& t : trees) co_await t->wait_ended();
  for (const auto& in : list) in->stopped();
}

asio::awaitable<Result<void>> Component::restart() {
  auto self = shared_from_this();
  auto m = load();  // refuse before stopping if the new manifest is broken
  BERTH_CO_TRY(m);
  ++restarts_;
  co_return co_await roll(std::make_shared<const Manifest>(std::move(*m)), false);
}

Result<void> Component::signal(int sig, bool leader_only) {
  bool sent = false;
  for (const auto& in : instances_) sent = in->signal(sig, leader_only) || sent;
  if (!sent) return fail(Code::kNotRunning, "component \"" + name_ + "\" is not running");
  note(
      fmt::format("sent {} to {}", signal_name(sig), leader_only ? "its leader" : "every process"));
  return {};
}

std::string Component::state() const {
  if (instances_.empty()) return to_string(State::kStopped);
  // The least settled state of any instance speaks for the component.
  static constexpr State kOrder[] = {State::kFailed,   State::kCrashLooping, State::kBackoff,
                                     State::kStopping, State::kStarting,     State::kReady,
                                     State::kStopped};
  for (State s : kOrder)
    if (std::any_of(instances_.begin(), instances_.end(),
                    [s](const auto& in) { return in->state() == s; }))
      return to_string(s);
  return to_string(State::kStopped);
}

api::ComponentStatus Component::status() const {
  using namespace std::chrono;
  api::ComponentStatus s;
  s.name = name_;
  s.dir = dir_.string();
  s.state = destroy_error_ ? "destroy_failed" : state();
  s.destroy_error = destroy_error_;
  s.restarts = restarts_;
  s.watch_restarts = watch_restarts_;
  s.cgroup_isolation = ctx_.cgroup.has_value();
  for (const auto& in : instances_) s.instances.push_back(in->status());
  if (!s.instances.empty()) {
    // Instance 0 speaks for the component; the figures are every instance's together, and the
    // error is the first one's that has one.
    static_cast<api::RunStatus&>(s) = s.instances.front();
    for (auto i = std::next(s.instances.begin()); i != s.instances.end(); ++i) {
      s.processes += i->processes;
      s.memory_bytes += i->memory_bytes;
      s.cpu_seconds += i->cpu_seconds;
      s.cpu_percent += i->cpu_percent;
      s.warnings.insert(s.warnings.end(), i->warnings.begin(), i->warnings.end());
      if (!s.last_error && i->last_error) {
        s.last_error = i->last_error;
        s.last_error_tail = i->last_error_tail;
      }
    }
    for (const auto& [k, v] : instances_.front()->env())
      s.env.push_back({k, shown_value(k, v.value), v.source});
  }
  s.instances_wanted = wanted(*manifest_);
  if (scaled_) s.instances_source = "scale";
  if (manifest_->serve) {
    s.serve = api::ComponentStatus::Serve{manifest_->serve->address, manifest_->serve->port,
                                          to_string(manifest_->serve->mode), socket_ != nullptr};
    if (proxy_) {
      const auto st = proxy_->stats();
      api::ComponentStatus::Serve::Proxy p{{}, st.active, st.accepted, st.dropped};
      for (const auto& b : proxy_->backends()) p.backends.push_back(b.str());
      s.serve->proxy = std::move(p);
    }
  }
  if (watcher_) {
    s.watch = api::ComponentStatus::Watch{to_string(watcher_->mode()), watcher_->reason(),
                                          watcher_->watches(), std::nullopt};
    if (last_change_)
      s.watch->last_change = {
          last_change_->first,
          duration_cast<milliseconds>(last_change_->second.time_since_epoch()).count()};
  }
  s.restart_policy = to_string(manifest_->restart.policy);
  if (auto chosen = ctx_.components.env(name_); chosen) s.profile = chosen->profile;
  s.log_file = logs_.file().string();
  s.inferred = manifest_->inferred;
  s.command = manifest_->run.argv;
  return s;
}

}  // namespace berth
