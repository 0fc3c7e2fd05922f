#include "deploy/deployer.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include "archive/extract.h"
#include "config/manifest.h"
#include "core/duration.h"
#include "core/offload.h"
#include "core/random_id.h"
#include "deploy/cached_install.h"
#include "deploy/recovery.h"
#include "deploy/retention.h"

namespace berth {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int64_t kKeepFirstEvents = 1000, kKeepLastEvents = 10000;

std::string new_id() {
  auto now = std::chrono::system_clock::now();
  return fmt::format("{:%Y%m%d-%H%M%S}-{}", fmt::gmtime(std::chrono::system_clock::to_time_t(now)),
                     random_hex(3));
}

Result<void> check_name(const std::string& name) {
  if (valid_component_name(name)) return {};
  return fail(Code::kBadName, fmt::format("\"{}\" is not a valid component name (1-63 letters, "
                                          "digits, '.', '_', '-')",
                                          name));
}

}  // namespace

// Ends a component's deploy lifecycle when destroyed, whatever path the deployment took:
// watchers resume first, then observers hear `deploy:end`.
class Deployer::Guard {
 public:
  Guard(Deployer& d, std::string name, std::shared_ptr<DeploymentLog> log)
      : d_(d), name_(std::move(name)), log_(std::move(log)) {}
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() { d_.end_lifecycle(name_, *log_); }

 private:
  Deployer& d_;
  std::string name_;
  std::shared_ptr<DeploymentLog> log_;
};

struct Deployer::Active {
  DeploymentRow row;
  std::shared_ptr<DeploymentLog> log;
  std::atomic<bool> cancel{false};
  Error cancel_error;  // why, once `cancel` is set
  std::function<void()> stop_install;
  std::optional<Guard> guard;
  DeployTarget::Superseded superseded;  // a cluster converge: asked again at its turn
  EnvChange env;                        // `deploy --env/--profile`: kept as the release starts
};

// The first observer: each phase becomes a `phase` event in the deployment's own log.
class Deployer::EventLogObserver final : public DeploymentObserver {
 public:
  explicit EventLogObserver(Deployer& d) : d_(d) {}
  void on_phase(const DeploymentRow& row) override {
    if (auto log = d_.live_log(row.id)) log->append("phase", {{"phase", row.phase}});
  }

 private:
  Deployer& d_;
};

Deployer::Deployer(DeployerContext ctx, DeploymentRepo& repo, DeployTarget& target,
                   InstallCache* cache)
    : ctx_(ctx),
      repo_(repo),
      target_(target),
      releases_(ctx.config.home),
      blobs_(ctx.config.home / "blobs"),
      cache_(cache),
      uses_(cache),
      event_log_(std::make_unique<EventLogObserver>(*this)),
      observers_{event_log_.get(), &metrics_},
      turn_(ctx.io.get_executor()) {}

Deployer::~Deployer() {
  // The daemon is going away mid-deploy: the next start marks these `interrupted`.
  closing_ = true;
  for (auto& [id, a] : active_) a->cancel = true;
  pool_.join();
  for (auto& [id, a] : active_) a->guard.reset();
}

std::shared_ptr<DeploymentLog> Deployer::live_log(const std::string& id) const {
  auto it = active_.find(id);
  return it == active_.end() ? nullptr : it->second->log;
}

Result<void> Deployer::recover() {
  BERTH_TRY(recover_deployments(ctx_.io.get_executor(), repo_, releases_, blobs_));
  uses_.hold_live(repo_, releases_);
  return {};
}

Result<std::shared_ptr<Deployer::Active>> Deployer::begin(const std::string& name,
                                                          DeploymentRow row) {
  row.component = name;
  row.created_at = row.updated_at = now_ms();
  BERTH_TRY(repo_.insert(row));
  auto a = std::make_shared<Active>();
  a->row = std::move(row);
  a->log = std::make_shared<DeploymentLog>(ctx_.io.get_executor(), repo_, a->row.id);
  active_[a->row.id] = a;
  queue_[name].push_back(a->row.id);
  if (depth_[name]++ == 0) target_.deploys_began(name);
  a->log->append("deploy:start",
                 {{"component", name}, {"kind", a->row.kind}, {"in_flight", depth_[name]}});
  a->guard.emplace(*this, name, a->log);
  return a;
}

void Deployer::end_lifecycle(const std::string& name, DeploymentLog& log) {
  if (closing_) return;
  int left = --depth_[name];
  if (left == 0) {
    depth_.erase(name);
    target_.deploys_ended(name);
  }
  log.append("deploy:end", {{"component", name},
                            {"watchers", left == 0 ? "resumed"
                                                   : fmt::format("paused: {} more deploys in "
                                                                 "flight",
                                                                 left)}});
}

asio::awaitable<Result<DeploymentRow>> Deployer::receive(const std::string& name,
                                                         http::BodyReader& body, EnvChange env) {
  BERTH_CO_TRY(check_name(name));
  BERTH_CO_TRY(validate(env));
  // A cluster deploy would have to carry the values to every node through etcd.
  if (replication_ && !env.empty())
    co_return fail(Code::kBadEnv,
                   "--env and --profile are not carried by a cluster deploy yet; set them on "
                   "each node with `berth restart NAME --env KEY=VALUE`");
  if (target_.shutting_down()) co_return fail(Code::kShuttingDown, "the daemon is shutting down");
  BERTH_CO_TRY(co_await target_.admit(name));
  DeploymentRow row;
  row.id = row.release = new_id();
  row.previous = releases_.current(name);
  row.origin = "upload";
  // The record exists from the first byte: a daemon killed mid-upload leaves it interrupted.
  auto begun = begin(name, row);
  BERTH_CO_TRY(begun);
  auto a = *begun;
  a->env = std::move(env);
  auto blob = co_await blobs_.ingest(body, a->row.id);
  if (!blob) {
    const Error why = blob.error();
    finish(*a, std::unexpected(why));
    co_return std::unexpected(why);
  }
  a->row.digest = blob->digest;
  a->row.size = static_cast<int64_t>(blob->size);
  if (auto r = repo_.set_payload(a->row.id, blob->digest, a->row.size); !r)
    spdlog::error("deployment {}: {}", a->row.id, r.error().message);
  if (replication_)
    if (auto announced = co_await replication_->announce(a->row); !announced) {
      const Error why = announced.error();
      finish(*a, std::unexpected(why));
      co_return std::unexpected(why);
    }
  launch(a);
  co_return a->row;
}

asio::awaitable<Result<DeploymentRow>> Deployer::start(const std::string& name,
                                                       const std::string& digest,
                                                       const std::string& origin,
                                                       StartOptions options) {
  BERTH_CO_TRY(check_name(name));
  if (target_.shutting_down()) co_return fail(Code::kShuttingDown, "the daemon is shutting down");
  auto size = blobs_.size_of(digest);
  BERTH_CO_TRY(size);
  BERTH_CO_TRY(co_await target_.admit(name, options.superseded));
  DeploymentRow row;
  row.id = options.id.empty() ? new_id() : options.id;
  row.release = options.release.empty() ? row.id : options.release;
  row.kind = options.kind;
  row.previous = releases_.current(name);
  row.digest = digest;
  row.size = static_cast<int64_t>(*size);
  row.origin = origin;
  auto begun = begin(name, row);
  BERTH_CO_TRY(begun);
  (*begun)->superseded = std::move(options.superseded);
  launch(*begun);
  co_return (*begun)->row;
}

void Deployer::launch(std::shared_ptr<Active> a) {
  a->log->append("received", {{"digest", "sha256:" + *a->row.digest}, {"size", a->row.size}});
  asio::co_spawn(ctx_.io, pipeline(std::move(a)), asio::detached);
}

Result<DeploymentRow> Deployer::rollback(const std::string& name, const std::string& to) {
  BERTH_TRY(target_.deployed(name));
  auto live = releases_.current(name);
  auto history = repo_.list(name, 1000);
  BERTH_TRY(history);
  auto target = rollback_target(*history, name, live, to,
                                [this](auto& c, auto& r) { return releases_.has_release(c, r); });
  BERTH_TRY(target);
  DeploymentRow row;
  row.id = new_id();
  row.kind = DeploymentKind::kRollback;
  row.release = target->release;
  row.digest = target->digest;
  row.size = target->size;
  row.previous = live;
  row.origin = "rollback";
  auto a = begin(name, row);
  BERTH_TRY(a);
  (*a)->log->append("info", {{"message", "rolling back to release " + target->release}});
  asio::co_spawn(ctx_.io, pipeline(*a), asio::detached);
  return (*a)->row;
}

asio::awaitable<void> Deployer::pipeline(std::shared_ptr<Active> a) {
  ++pipelines_;
  Result<void> r;
  try {
    r = co_await phases(*a);
  } catch (const std::exception& e) {
    // A bug must end this deployment, not the daemon.
    r = fail(Code::kInternal, std::string("deploy pipeline: ") + e.what());
  }
  conclude(*a, r);
  if (replication_ && a->row.status != DeploymentStatus::kInterrupted)
    co_await replication_->settle(a->row);  // may fold the status: success -> partial
  record_end(*a);
  --pipelines_;
  turn_.notify_all();
}

void Deployer::set_phase(Active& a, const std::string& phase) {
  a.row.phase = phase;
  if (auto r = repo_.set_phase(a.row.id, phase); !r)
    spdlog::error("deployment {}: {}", a.row.id, r.error().message);
  for (auto* o : observers_) o->on_phase(a.row);
}

void Deployer::cancel(Active& a, Error why) {
  if (a.cancel) return;
  a.cancel_error = std::move(why);
  a.cancel = true;
  if (a.stop_install) a.stop_install();
}

asio::awaitable<void> Deployer::cancel_all(const std::string& component) {
  for (auto& [id, a] : active_)
    if (a->row.component == component)
      cancel(*a, Error{Code::kComponentDestroyed,
                       "\"" + component + "\" was destroyed during the deploy"});
  turn_.notify_all();
  const std::function<bool()> idle = [this, component] { return !in_flight(component); };
  co_await turn_.wait_until(idle, std::chrono::steady_clock::time_point::max());
}

asio::awaitable<void> Deployer::shutdown() {
  for (auto& [id, a] : active_) cancel(*a, interrupted(a->row.phase));
  turn_.notify_all();
  // Pipelines own process trees (installers): they must end while the reaper exists.
  const std::function<bool()> none = [this] { return pipelines_ == 0; };
  co_await turn_.wait_until(none, std::chrono::steady_clock::time_point::max());
}

// The pipeline, in order: wait for this component's earlier deploys, extract, install, then
// switch releases and restart once. A cancel (destroy, shutdown) stops it at the next step.
asio::awaitable<Result<void>> Deployer::phases(Active& a) {
  const std::string name = a.row.component, id = a.row.id, release = a.row.release;
  auto& q = queue_[name];
  if (q.front() != id) {
    a.log->append("info", {{"message", "waiting for deployment " + q.front() + " to finish"}});
    const std::function<bool()> my_turn = [this, name, id, &a] {
      return queue_[name].front() == id || a.cancel;
    };
    co_await turn_.wait_until(my_turn, std::chrono::steady_clock::time_point::max());
  }
  if (a.cancel) co_return std::unexpected(a.cancel_error);
  // A converge that waited behind a newer deploy (or a destroy) of the name has nothing to do.
  if (auto why = a.superseded ? a.superseded() : std::nullopt) co_return std::unexpected(*why);
  if (a.row.kind != DeploymentKind::kRollback) {
    auto extracted = co_await extract(a);
    if (!extracted && a.cancel) co_return std::unexpected(a.cancel_error);
    BERTH_CO_TRY(extracted);
    auto installed = co_await install(a);
    if (!installed || a.cancel) {
      std::error_code ec;
      fs::remove_all(releases_.release_dir(name, release), ec);
      if (a.cancel) co_return std::unexpected(a.cancel_error);
      co_return installed;
    }
  }
  co_return co_await activate_and_restart(a);
}

asio::awaitable<Result<void>> Deployer::extract(Active& a) {
  set_phase(a, "extracting");
  const std::string name = a.row.component, id = a.row.release;  // the release's directory
  auto staging = releases_.staging_dir(name, id);
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) co_return fail(Code::kIoError, "cannot create " + staging.string() + ": " + ec.message());
  ExtractLimits limits;
  limits.max_bytes = ctx_.config.extract_max_bytes;
  limits.max_entries = ctx_.config.extract_max_entries;
  auto blob = blobs_.path(*a.row.digest);
  std::atomic<bool>* cancel = &a.cancel;
  auto work = [blob, staging, limits, cancel] {
    return extract_archive(blob, staging, limits, cancel);
  };
  auto stats = co_await offload(pool_, std::move(work));
  if (stats)
    if (auto r = releases_.promote(name, id, stats->top); !r) stats = std::unexpected(r.error());
  if (!stats) {
    fs::remove_all(staging, ec);
    co_return std::unexpected(stats.error());
  }
  json info = {{"files", stats->files}, {"bytes", stats->bytes}, {"entries", stats->entries}};
  if (stats->top) info["unwrapped"] = *stats->top;
  if (stats->setid_stripped) info["setid_stripped"] = stats->setid_stripped;
  a.log->append("extracted", info);
  if (auto m = load_manifest(releases_.release_dir(name, id)); !m) {
    fs::remove_all(releases_.release_dir(name, id), ec);
    co_return std::unexpected(m.error());
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Deployer::install(Active& a) {
  set_phase(a, "installing");
  auto dir = releases_.release_dir(a.row.component, a.row.release);
  auto manifest = load_manifest(dir);
  BERTH_CO_TRY(manifest);
  auto plan = plan_install(dir, manifest->install);
  BERTH_CO_TRY(plan);
  if (!*plan) {
    a.log->append("info", {{"message", "nothing to install"}});
    co_return Result<void>{};
  }
  const auto timeout = manifest->install.timeout;
  if (cache_ && (*plan)->uncached.empty()) co_return co_await cached_install(a, **plan, timeout);
  if (cache_) a.log->append("info", {{"message", "install cache not used: " + (*plan)->uncached}});
  co_return co_await run_installer(a, **plan, timeout);
}

// Runs the install command in the release, on the event loop.
asio::awaitable<Result<void>> Deployer::run_installer(Active& a, const InstallPlan& plan,
                                                      std::chrono::milliseconds timeout) {
  a.log->append("info", {{"message", fmt::format("running `{}` ({})", plan.command, plan.why)}});
  std::optional<fs::path> cgroup_dir;
  if (ctx_.cgroup) {
    auto d = ctx_.cgroup->dir / fmt::format("install.{}.{}", a.row.component, random_hex(4));
    if (cgroup::create(d)) cgroup_dir = d;
  }
  std::weak_ptr<DeploymentLog> weak = a.log;
  InstallRun run{ctx_.io,
                 ctx_.reaper,
                 releases_.release_dir(a.row.component, a.row.release),
                 plan,
                 timeout,
                 cgroup_dir,
                 [weak](Stream stream, std::string_view line) {
                   if (auto log = weak.lock())
                     log->append("install", {{"stream", to_string(stream)}, {"line", line}});
                 },
                 &ctx_.trees,
                 "install:" + a.row.component,
                 &a.stop_install};
  auto r = co_await run_install(std::move(run));
  if (cgroup_dir) (void)cgroup::remove(*cgroup_dir);
  co_return r;
}

// The install through the shared cache (deploy/cached_install.h). Lock waits end at the
// install timeout, after which the install runs here without the cache rather than fail.
asio::awaitable<Result<void>> Deployer::cached_install(Active& a, const InstallPlan& plan,
                                                       std::chrono::milliseconds timeout) {
  const auto dir = releases_.release_dir(a.row.component, a.row.release);
  std::shared_ptr<DeploymentLog> log = a.log;
  CachedInstall job{ctx_.io,
                    *cache_,
                    plan,
                    dir,
                    timeout,
                    &a.cancel,
                    [log](const std::string& note) {
                      log->append("info", {{"message", note}});
                    },
                    [this, &a, &plan, timeout] { return run_installer(a, plan, timeout); }};
  auto out = co_await install_through_cache(std::move(job));
  if (!out && out.error().code == Code::kLockTimeout) {
    a.log->append("info",
                  {{"message", "gave up waiting for another installer after " +
                                   format_duration(timeout) + "; installing without the cache"}});
    co_return co_await run_installer(a, plan, timeout);
  }
  if (!out) {
    const Error why = a.cancel ? a.cancel_error : out.error();
    co_return std::unexpected(why);
  }
  const auto& o = out->outcome;
  metrics_.cache_outcome(o.hit);
  json info = {{"cache", o.hit ? "hit" : "miss"},
               {"key", out->key},
               {"waited", o.waited},
               {"fetched", o.fetched},
               {"files", o.placed.files},
               {"bytes", o.placed.bytes},
               {"linked", o.placed.linked},
               {"copied", o.placed.copied}};
  if (!o.warning.empty()) {
    info["cache"] = "uncached";
    info["warning"] = o.warning;
  }
  a.log->append("cache", info);
  (void)repo_.set_install(a.row.id, info.dump());
  if (o.use) uses_.hold(dir, std::move(out->outcome.use));
  co_return Result<void>{};
}

// Flips components/NAME to the new release and restarts once. A release that fails to start
// is flipped back and the previous one restarted (rolled_back); with nothing to go back to,
// the component is stopped rather than left restarting a broken first release.
asio::awaitable<Result<void>> Deployer::activate_and_restart(Active& a) {
  const std::string name = a.row.component;
  // A rolling cluster deploy: this node's turn first (a rollback is this node's own business).
  const auto manifest = load_manifest(releases_.release_dir(name, a.row.release));
  const DeploySpec spec = manifest ? manifest->deploy : DeploySpec{};
  const auto window = spec.healthy_for.value_or(ctx_.config.healthy_for);
  std::shared_ptr<void> slot;
  if (replication_ && a.row.kind != DeploymentKind::kRollback && spec.rolling) {
    set_phase(a, "rollout-wait");
    auto got = co_await replication_->rollout_slot(a.row, spec, &a.cancel);
    if (a.cancel) co_return std::unexpected(a.cancel_error);
    BERTH_CO_TRY(got);
    slot = std::move(*got);
  }
  set_phase(a, "activating");
  a.row.previous = releases_.current(name);
  if (a.row.previous == a.row.release) a.row.previous.reset();  // rollback to what runs
  BERTH_CO_TRY(releases_.activate(name, a.row.release));
  a.log->append("activated", {{"release", a.row.release},
                              {"previous", a.row.previous ? json(*a.row.previous) : json()}});

  set_phase(a, "restarting");
  // The deploy's --env is kept as its release starts, and put back with the previous release.
  std::optional<EnvSettings> env_before;
  Result<void> r;
  if (!a.env.empty()) {
    auto kept = target_.keep_env(name, a.env);
    if (kept)
      env_before = std::move(*kept);
    else
      r = std::unexpected(kept.error());
  }
  if (r) r = co_await target_.restart(name);
  if (r) a.log->append("info", {{"message", "ready"}});
  // "Succeeded" means it stays up: a release that crashes just after ready is rolled back.
  if (r && window.count() > 0) {
    set_phase(a, "staying-up");
    a.log->append("info", {{"message", "it must stay up for " + format_duration(window) +
                                           " ([deploy] healthy_for)"}});
    r = co_await target_.stays_up(name, window);
    if (r) a.log->append("info", {{"message", "stayed up for " + format_duration(window)}});
  }
  if (r) co_return r;
  const Error why = r.error();
  a.log->append("info", {{"message", "the new release failed: " + why.message}});
  if (env_before) target_.restore_env(name, *env_before);
  if (a.row.previous && releases_.has_release(name, *a.row.previous) &&
      releases_.activate(name, *a.row.previous)) {
    auto again = co_await target_.restart(name);
    a.log->append("rollback",
                  {{"release", *a.row.previous},
                   {"ready", again.has_value()},
                   {"message", again ? "previous release is running again"
                                     : "previous release failed too: " + again.error().message}});
    a.row.status = DeploymentStatus::kRolledBack;
  } else {
    co_await target_.stop(name);
  }
  if (slot) co_await replication_->stop_rollout(a.row, why);
  co_return std::unexpected(why);
}

void Deployer::conclude(Active& a, const Result<void>& r) {
  // Watchers resume before anyone is told the deployment ended (or waits for peers).
  a.guard.reset();
  // This node is done with it: the component's next deploy may run while this one waits for
  // its peers. Held until the end, two origins' deploys of one component would each wait for
  // the other's peer result queued behind itself, until peer_timeout.
  auto& q = queue_[a.row.component];
  std::erase(q, a.row.id);
  if (q.empty()) queue_.erase(a.row.component);
  turn_.notify_all();
  if (r) {
    a.row.status = DeploymentStatus::kSuccess;
  } else {
    if (a.row.status == DeploymentStatus::kRunning)
      a.row.status = r.error().code == Code::kInterrupted ? DeploymentStatus::kInterrupted
                                                          : DeploymentStatus::kFailed;
    a.row.error = r.error();
    a.row.error_phase = a.row.phase;
  }
}

void Deployer::finish(Active& a, const Result<void>& r) {
  conclude(a, r);
  record_end(a);
}

void Deployer::record_end(Active& a) {
  a.row.phase = std::string(to_string(a.row.status));
  a.row.ended_at = now_ms();
  a.log->append("end", end_event(a.row));
  auto closing = a.log->close();
  if (auto w = repo_.finish(a.row, closing); !w)
    spdlog::error("deployment {}: cannot record its end: {}", a.row.id, w.error().message);
  a.log->when_unfollowed([repo = &repo_, id = a.row.id] {
    if (auto capped = repo->cap_events(id, kKeepFirstEvents, kKeepLastEvents);
        capped && *capped > 0)
      spdlog::info("deployment {}: kept the first {} and last {} events, dropped {}", id,
                   kKeepFirstEvents, kKeepLastEvents, *capped);
  });
  spdlog::info("deployment {} of {}: {}{}", a.row.id, a.row.component, to_string(a.row.status),
               a.row.error ? " (" + a.row.error->message + ")" : "");
  for (auto* o : observers_) o->on_end(a.row);
  // After failures too: a failed deploy's payload and release would otherwise stay until a
  // later success (on a full disk, keeping it full).
  prune(a.row.component);
  active_.erase(a.row.id);
  turn_.notify_all();
}

void Deployer::prune(const std::string& name) {
  auto history = repo_.list(name, 1000);
  if (!history) return;
  size_t releases = releases_.prune_releases(
      name, releases_to_keep(*history, releases_.current(name), ctx_.config.releases_keep));
  auto all = repo_.list("", 100000);
  if (!all) return;
  size_t blobs = blobs_.prune(
      payloads_to_keep(*all, [this](auto& c, auto& r) { return releases_.has_release(c, r); }));
  uses_.release_gone();
  if (releases || blobs)
    spdlog::info("{}: pruned {} old releases and {} unreferenced payloads", name, releases, blobs);
}

}  // namespace berth
