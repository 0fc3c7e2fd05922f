#include "host/deployer.h"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <vector>

#include "archive/extract.h"
#include "core/duration.h"
#include "core/offload.h"
#include "core/random_id.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "deploy/installer.h"
#include "host/host.h"
#include "proc/cgroup.h"

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

Error interrupted(const std::string& phase, const std::string& note) {
  return Error{Code::kInterrupted,
               fmt::format("the daemon stopped during the {} phase{}", phase, note)};
}

// The last event of every deployment.
json end_event(const DeploymentRow& row) {
  json end = {{"status", row.status}};
  if (row.error)
    end["error"] = {
        {"code", row.error->code}, {"message", row.error->message}, {"phase", row.error_phase}};
  return end;
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
};

Deployer::Deployer(HostContext& ctx, DeploymentRepo& repo, Host& host, InstallCache* cache)
    : ctx_(ctx),
      repo_(repo),
      host_(host),
      store_(ctx.config.home),
      cache_(cache),
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
  auto rows = repo_.unfinished();
  BERTH_TRY(rows);
  for (auto& row : *rows) {
    std::error_code ec;
    fs::remove_all(store_.staging_dir(row.component, row.id), ec);
    fs::remove(store_.incoming_blob(row.id), ec);
    std::string note;
    auto current = store_.current(row.component);
    if (row.kind == "deploy" && current == row.release) {
      // Killed after the flip: put the release that ran before back.
      if (row.previous && store_.has_release(row.component, *row.previous)) {
        if (auto r = store_.activate(row.component, *row.previous); r) {
          current = row.previous;
          note = "; the previous release " + *row.previous + " is live again";
        }
      }
    }
    if (row.kind == "deploy" && current != row.release)
      fs::remove_all(store_.release_dir(row.component, row.release), ec);
    row.error = interrupted(row.phase, note);
    row.error_phase = row.phase;
    row.status = row.phase = "interrupted";
    row.ended_at = now_ms();
    DeploymentLog log(ctx_.io.get_executor(), repo_, row.id, repo_.last_seq(row.id));
    log.append("end", end_event(row));
    BERTH_TRY(repo_.finish(row, log.close()));
    spdlog::warn("deployment {} of {} interrupted during {}", row.id, row.component,
                 row.error_phase);
  }
  store_.sweep_partials();
  hold_cache_uses();
  return {};
}

// At start: every release still on disk that was made from a cache entry marks it in use again.
void Deployer::hold_cache_uses() {
  if (!cache_) return;
  auto rows = repo_.list("", 100000);
  if (!rows) return;
  for (auto& row : *rows) {
    if (row.install.empty() || !store_.has_release(row.component, row.release)) continue;
    auto info = json::parse(row.install, nullptr, false);
    if (!info.is_object() || !info.value("key", json()).is_string()) continue;
    auto dir = store_.release_dir(row.component, row.release);
    if (uses_.contains(dir)) continue;
    const auto key = info["key"].get<std::string>();
    if (auto mark = cache_->use(key); mark && cache_->lookup(key)) uses_[dir] = std::move(*mark);
  }
}

void Deployer::release_cache_uses() {
  std::erase_if(uses_, [](const auto& u) {
    std::error_code ec;
    return !fs::exists(u.first, ec);
  });
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
  if (depth_[name]++ == 0)
    if (auto c = host_.find(name)) c->pause_for_deploy();
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
    if (auto c = host_.find(name)) c->resume_after_deploy();
  }
  log.append("deploy:end", {{"component", name},
                            {"watchers", left == 0 ? "resumed"
                                                   : fmt::format("paused: {} more deploys in "
                                                                 "flight",
                                                                 left)}});
}

asio::awaitable<Result<DeploymentRow>> Deployer::receive(const std::string& name,
                                                         http::BodyReader& body) {
  if (!valid_component_name(name))
    co_return fail(Code::kBadName,
                   fmt::format("\"{}\" is not a valid component name (1-63 letters, digits, "
                               "'.', '_', '-')",
                               name));
  if (host_.shutting_down()) co_return fail(Code::kShuttingDown, "the daemon is shutting down");
  // A deploy arriving while the component is being destroyed (or half destroyed) waits for
  // that destroy to end, then starts afresh.
  BERTH_CO_TRY(co_await host_.finish_pending_destroy(name));
  BERTH_CO_TRY(host_.lift_tombstone(name));
  if (auto c = host_.find(name); c && c->dir() != store_.link(name))
    co_return fail(Code::kNameTaken, fmt::format("component \"{}\" runs in place from {}; deploy "
                                                 "under another name or remove it first",
                                                 name, c->dir().string()));
  DeploymentRow row;
  row.id = new_id();
  row.release = row.id;
  row.previous = store_.current(name);
  auto begun = begin(name, row);
  BERTH_CO_TRY(begun);
  auto a = *begun;
  const std::string id = a->row.id;

  // Stream the body to disk, hashing as it goes; never whole in memory.
  std::error_code ec;
  fs::create_directories(store_.incoming_blob(id).parent_path(), ec);
  auto incoming = store_.incoming_blob(id);
  Result<void> stored;
  {
    UniqueFd fd(::open(incoming.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) stored = fail(Code::kIoError, errno_message("create " + incoming.string(), errno));
    Sha256 hash;
    std::vector<char> buf(256 * 1024);
    uint64_t size = 0;
    while (stored) {
      auto n = co_await body.read_some(buf.data(), buf.size());
      if (!n) {
        stored = std::unexpected(n.error());
        break;
      }
      if (*n == 0) break;
      hash.update({buf.data(), *n});
      for (size_t off = 0; off < *n;) {
        ssize_t w = ::write(fd.get(), buf.data() + off, *n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          stored = fail(Code::kIoError, errno_message("write " + incoming.string(), errno));
          break;
        }
        off += static_cast<size_t>(w);
      }
      size += *n;
    }
    if (stored && size == 0) stored = fail(Code::kBadRequest, "the upload is empty");
    if (stored && ::fsync(fd.get()) != 0)
      stored = fail(Code::kIoError, errno_message("fsync", errno));
    if (stored) {
      a->row.digest = hash.hex();
      a->row.size = static_cast<int64_t>(size);
    }
  }
  if (stored) stored = store_.store_blob(incoming, *a->row.digest);
  if (!stored) {
    fs::remove(incoming, ec);
    auto err = stored.error();
    finish(*a, std::unexpected(err));
    co_return std::unexpected(err);
  }
  if (auto r = repo_.set_payload(id, *a->row.digest, a->row.size); !r)
    spdlog::error("deployment {}: {}", id, r.error().message);
  a->log->append("received", {{"digest", "sha256:" + *a->row.digest}, {"size", a->row.size}});
  asio::co_spawn(ctx_.io, pipeline(a), asio::detached);
  co_return a->row;
}

Result<DeploymentRow> Deployer::rollback(const std::string& name, const std::string& to) {
  auto c = host_.find(name);
  if (!c) return fail(Code::kNotFound, "no component named \"" + name + "\"");
  if (c->dir() != store_.link(name))
    return fail(Code::kNotDeployed, "\"" + name + "\" runs in place; it has no releases");
  auto current = store_.current(name);
  auto history = repo_.list(name, 1000);
  BERTH_TRY(history);
  const DeploymentRow* target = nullptr;
  for (auto& row : *history) {
    bool usable = row.status == "success" && store_.has_release(name, row.release);
    if (!to.empty() && row.id == to) {
      if (!store_.has_release(name, row.release))
        return fail(Code::kReleaseGone, "the release of deployment " + to + " was pruned");
      target = &row;
      break;
    }
    if (to.empty() && usable && row.release != current) {
      target = &row;
      break;
    }
  }
  if (!target)
    return to.empty() ? fail(Code::kNoPreviousRelease,
                             "\"" + name + "\" has no earlier release to roll back to")
                      : fail(Code::kNotFound, "no deployment " + to + " of \"" + name + "\"");
  DeploymentRow row;
  row.id = new_id();
  row.kind = "rollback";
  row.release = target->release;
  row.digest = target->digest;
  row.size = target->size;
  row.previous = current;
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
  finish(*a, r);
  --pipelines_;
  turn_.notify_all();
}

void Deployer::set_phase(Active& a, const std::string& phase) {
  a.row.phase = phase;
  if (auto r = repo_.set_phase(a.row.id, phase); !r)
    spdlog::error("deployment {}: {}", a.row.id, r.error().message);
  a.log->append("phase", {{"phase", phase}});
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
  const std::function<bool()> idle = [this, component] { return !depth_.contains(component); };
  co_await turn_.wait_until(idle, std::chrono::steady_clock::time_point::max());
}

asio::awaitable<void> Deployer::shutdown() {
  for (auto& [id, a] : active_) cancel(*a, interrupted(a->row.phase, ""));
  turn_.notify_all();
  // Pipelines own process trees (installers): they must end while the reaper exists.
  const std::function<bool()> none = [this] { return pipelines_ == 0; };
  co_await turn_.wait_until(none, std::chrono::steady_clock::time_point::max());
}

asio::awaitable<Result<void>> Deployer::phases(Active& a) {
  const std::string name = a.row.component, id = a.row.id;
  // One deployment of a component at a time, in arrival order.
  auto& q = queue_[name];
  if (q.front() != id) {
    a.log->append("info", {{"message", "waiting for deployment " + q.front() + " to finish"}});
    const std::function<bool()> my_turn = [this, name, id, &a] {
      return queue_[name].front() == id || a.cancel;
    };
    co_await turn_.wait_until(my_turn, std::chrono::steady_clock::time_point::max());
  }
  if (a.cancel) co_return std::unexpected(a.cancel_error);
  if (a.row.kind == "deploy") {
    if (auto r = co_await extract(a); !r) co_return a.cancel ? std::unexpected(a.cancel_error) : r;
    auto r = co_await install(a);
    if (!r || a.cancel) {
      std::error_code ec;
      fs::remove_all(store_.release_dir(name, id), ec);
      co_return a.cancel ? std::unexpected(a.cancel_error) : r;
    }
  }
  co_return co_await activate_and_restart(a);
}

asio::awaitable<Result<void>> Deployer::extract(Active& a) {
  set_phase(a, "extracting");
  const std::string name = a.row.component, id = a.row.id;
  auto staging = store_.staging_dir(name, id);
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) co_return fail(Code::kIoError, "cannot create " + staging.string() + ": " + ec.message());
  ExtractLimits limits;
  limits.max_bytes = ctx_.config.extract_max_bytes;
  limits.max_entries = ctx_.config.extract_max_entries;
  auto blob = store_.blob(*a.row.digest);
  std::atomic<bool>* cancel = &a.cancel;
  auto work = [blob, staging, limits, cancel] {
    return extract_archive(blob, staging, limits, cancel);
  };
  auto stats = co_await offload(pool_, std::move(work));
  if (stats) {
    if (auto r = store_.promote(name, id, stats->top); !r) stats = std::unexpected(r.error());
  }
  if (!stats) {
    fs::remove_all(staging, ec);
    co_return std::unexpected(stats.error());
  }
  json info = {{"files", stats->files}, {"bytes", stats->bytes}, {"entries", stats->entries}};
  if (stats->top) info["unwrapped"] = *stats->top;
  if (stats->setid_stripped) info["setid_stripped"] = stats->setid_stripped;
  a.log->append("extracted", info);
  if (auto m = load_manifest(store_.release_dir(name, id)); !m) {
    fs::remove_all(store_.release_dir(name, id), ec);
    co_return std::unexpected(m.error());
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Deployer::install(Active& a) {
  set_phase(a, "installing");
  auto dir = store_.release_dir(a.row.component, a.row.id);
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
  InstallRun run{
      ctx_.io,
      ctx_.reaper,
      store_.release_dir(a.row.component, a.row.id),
      plan,
      timeout,
      cgroup_dir,
      [weak](char stream, std::string_view line) {
        if (auto log = weak.lock())
          log->append("install", {{"stream", stream == 'e' ? "stderr" : "stdout"}, {"line", line}});
      },
      &ctx_.trees,
      "install:" + a.row.component,
      &a.stop_install};
  auto r = co_await run_install(std::move(run));
  if (cgroup_dir) (void)cgroup::remove(*cgroup_dir);
  co_return r;
}

// The install through the shared cache. The cache protocol blocks (it waits on locks and does
// file I/O), so it runs on a thread of its own; on a miss that thread hands the install
// itself back to the event loop and waits for it. Lock waits end at the install timeout,
// after which the install runs here without the cache rather than fail the deploy.
asio::awaitable<Result<void>> Deployer::cached_install(Active& a, const InstallPlan& plan,
                                                       std::chrono::milliseconds timeout) {
  const auto dir = store_.release_dir(a.row.component, a.row.id);
  auto& io = ctx_.io;
  std::shared_ptr<DeploymentLog> log = a.log;
  std::optional<CacheKey> key;
  auto protocol = [&]() -> Result<CacheOutcome> {
    auto k = cache_key(plan.command, dir, plan.inputs, cache_->tools());
    BERTH_TRY(k);
    key = *k;
    CacheFill fill{*k, plan.command, dir, plan.outputs, {}, {}};
    fill.wait.deadline = std::chrono::steady_clock::now() + timeout;
    fill.wait.cancel = &a.cancel;
    fill.wait.on_wait = [&io, log, k = k->key](const std::string& holder) {
      asio::post(io, [log, k, holder] {
        log->append("info", {{"message",
                              fmt::format("waiting for another installer of {}{}", k.substr(0, 12),
                                          holder.empty() ? "" : " (" + holder + ")")}});
      });
    };
    fill.install = [&]() -> Result<void> {
      auto done = std::make_shared<std::promise<Result<void>>>();
      auto result = done->get_future();
      asio::co_spawn(io, run_installer(a, plan, timeout),
                     [done](std::exception_ptr e, Result<void> r) {
                       done->set_value(e ? fail(Code::kInstallFailed, "the installer failed to run")
                                         : std::move(r));
                     });
      try {
        return result.get();
      } catch (const std::future_error&) {  // the loop went away before the install ended
        return std::unexpected(interrupted("installing", ""));
      }
    };
    return cache_->get_or_install(fill);
  };
  asio::thread_pool worker(1);
  auto out = co_await offload(worker, std::move(protocol));
  if (!out && out.error().code == Code::kLockTimeout) {
    a.log->append("info",
                  {{"message", "gave up waiting for another installer after " +
                                   format_duration(timeout) + "; installing without the cache"}});
    co_return co_await run_installer(a, plan, timeout);
  }
  if (!out) co_return std::unexpected(a.cancel ? a.cancel_error : out.error());
  json info = {{"cache", out->hit ? "hit" : "miss"},
               {"key", key->key},
               {"waited", out->waited},
               {"files", out->placed.files},
               {"bytes", out->placed.bytes},
               {"linked", out->placed.linked},
               {"copied", out->placed.copied}};
  if (!out->warning.empty()) {
    info["cache"] = "uncached";
    info["warning"] = out->warning;
  }
  a.log->append("cache", info);
  (void)repo_.set_install(a.row.id, info.dump());
  if (out->use) uses_[dir] = std::move(out->use);
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Deployer::activate_and_restart(Active& a) {
  const std::string name = a.row.component;
  set_phase(a, "activating");
  a.row.previous = store_.current(name);
  if (a.row.previous == a.row.release) a.row.previous.reset();  // rollback to what runs
  BERTH_CO_TRY(store_.activate(name, a.row.release));
  a.log->append("activated", {{"release", a.row.release},
                              {"previous", a.row.previous ? json(*a.row.previous) : json()}});

  set_phase(a, "restarting");
  auto c = host_.find(name);
  bool fresh = !c;
  if (fresh) {
    auto made = host_.adopt_deployed(name, store_.link(name));
    BERTH_CO_TRY(made);
    c = *made;
    c->pause_for_deploy();
  }
  (void)host_.set_desired(name, true);
  Result<void> r;
  if (fresh)
    r = c->start_now();
  else
    r = co_await c->restart();
  if (r) r = co_await c->wait_started();
  if (r) {
    a.log->append("info", {{"message", "ready"}});
    co_return r;
  }
  const Error why = r.error();
  a.log->append("info", {{"message", "the new release failed to start: " + why.message}});
  if (a.row.previous && store_.has_release(name, *a.row.previous)) {
    if (auto back = store_.activate(name, *a.row.previous); back) {
      auto again = co_await c->restart();
      if (again) again = co_await c->wait_started();
      a.log->append("rollback",
                    {{"release", *a.row.previous},
                     {"ready", again.has_value()},
                     {"message", again ? "previous release is running again"
                                       : "previous release failed too: " + again.error().message}});
      a.row.status = "rolled_back";
      co_return std::unexpected(why);
    }
  }
  // Nothing to go back to: do not leave a broken first release restarting forever.
  co_await c->stop();
  (void)host_.set_desired(name, false);
  co_return std::unexpected(why);
}

void Deployer::finish(Active& a, const Result<void>& r) {
  // Watchers resume before anyone is told the deployment ended.
  a.guard.reset();
  if (r) {
    a.row.status = "success";
  } else {
    if (a.row.status == "running")
      a.row.status = r.error().code == Code::kInterrupted ? "interrupted" : "failed";
    a.row.error = r.error();
    a.row.error_phase = a.row.phase;
  }
  a.row.phase = a.row.status;
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
  spdlog::info("deployment {} of {}: {}{}", a.row.id, a.row.component, a.row.status,
               a.row.error ? " (" + a.row.error->message + ")" : "");
  auto& q = queue_[a.row.component];
  std::erase(q, a.row.id);
  if (q.empty()) queue_.erase(a.row.component);
  // After failures too: a failed deploy's payload and release would otherwise stay until a
  // later success (on a full disk, keeping it full).
  prune(a.row.component);
  active_.erase(a.row.id);
  turn_.notify_all();
}

void Deployer::prune(const std::string& name) {
  auto history = repo_.list(name, 1000);
  if (!history) return;
  // The live release, those of deploys in flight, and the newest `releases_keep` earlier
  // successful ones for rollback.
  std::set<std::string> keep, earlier;
  auto cur = store_.current(name);
  if (cur) keep.insert(*cur);
  for (auto& row : *history) {
    if (row.status == "running") keep.insert(row.release);
    if (row.status == "success" && row.release != cur &&
        earlier.size() < static_cast<size_t>(ctx_.config.releases_keep))
      earlier.insert(row.release);
  }
  keep.insert(earlier.begin(), earlier.end());
  size_t releases = store_.prune_releases(name, keep);
  // A blob stays while some deployment's release (any component) still exists or runs.
  auto all = repo_.list("", 100000);
  if (!all) return;
  std::set<std::string> digests;
  for (auto& row : *all)
    if (row.digest && (row.status == "running" || store_.has_release(row.component, row.release)))
      digests.insert(*row.digest);
  size_t blobs = store_.prune_blobs(digests);
  release_cache_uses();
  if (releases || blobs)
    spdlog::info("{}: pruned {} old releases and {} unreferenced payloads", name, releases, blobs);
}

}  // namespace berth
