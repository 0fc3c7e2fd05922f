#include "host/host.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "api/routes.h"
#include "core/daemon_log.h"
#include "core/failpoint.h"
#include "core/offload.h"
#include "host/api_backend.h"
#include "proc/orphan_sweep.h"

namespace berth {
namespace asio = boost::asio;
namespace fs = std::filesystem;

Host::Host(DaemonConfig config) : config_(std::move(config)), reaper_(io_) {}

Host::~Host() = default;

Result<void> Host::open() {
  // A test build's failpoints, armed before anything touches the disk (core/failpoint.h).
  if (const char* armed = std::getenv("BERTH_FAILPOINTS"); armed && *armed)
    BERTH_TRY(failpoint::arm_all(armed));
  auto lock = HomeLock::acquire(config_.home);
  BERTH_TRY(lock);
  lock_.emplace(std::move(*lock));
  std::error_code ec;
  fs::create_directories(config_.home / "logs", ec);
  auto token = ensure_token(config_.home);
  BERTH_TRY(token);
  token_ = *token;
  auto db = Db::open(config_.home / "berth.db");
  BERTH_TRY(db);
  db_ = std::move(*db);
  BERTH_TRY(migrate(*db_));
  component_repo_ = std::make_unique<ComponentRepo>(*db_);
  tree_repo_ = std::make_unique<TreeRepo>(*db_);
  lease_repo_ = std::make_unique<LeaseRepo>(*db_);
  deployment_repo_ = std::make_unique<DeploymentRepo>(*db_);

  std::optional<CgroupBase> cg;
  std::string tag = fmt::format(
      "{:x}", std::hash<std::string>{}(fs::absolute(config_.home).string()) & 0xffffffffffULL);
  if (config_.cgroup == CgroupMode::kAuto)
    cg = detect_cgroup_base("berth-" + tag, cgroup_why_);
  else
    cgroup_why_ = "disabled by configuration";
  spdlog::info("isolation: {}{}",
               cg ? "cgroup v2 at " + cg->dir.string() : "process groups (" + cgroup_why_ + ")",
               cg && cg->leaf ? "; the daemon moved into " + cg->leaf->string() : "");
  ctx_ = std::make_unique<HostContext>(
      HostContext{io_, reaper_, config_, *component_repo_, *tree_repo_, *lease_repo_, inotify_, cg,
                  tag, base_environment(config_.env.pass, config_.env.set, current_environment())});

  // Whatever a previous daemon left running dies before anything new starts.
  auto rows = tree_repo_->list();
  BERTH_TRY(rows);
  std::vector<LeftTree> left;
  for (auto& r : *rows)
    left.push_back(
        {fmt::format("{}#{}", r.component, r.instance), r.pid, r.start_time, r.pgid, r.cgroup});
  auto report = sweep_orphans(left);
  for (auto& n : report.notes) spdlog::warn("recovery: {}", n);
  BERTH_TRY(tree_repo_->clear());
  BERTH_TRY(lease_repo_->clear());
  open_cache();
  deployer_ =
      std::make_unique<Deployer>(DeployerContext{io_, reaper_, config_, *tree_repo_, ctx_->cgroup},
                                 *deployment_repo_, *this, cache_.get());
  destroy_ended_ = std::make_unique<StateEvent>(io_.get_executor());
  auto dead = component_repo_->tombstones();
  BERTH_TRY(dead);
  tombstones_.insert(dead->begin(), dead->end());
  return deployer_->recover();
}

// A cache that cannot be opened (an unmounted share, say) must not stop the daemon: deploys
// then install without it, and the log says why.
void Host::open_cache() {
  const auto& c = config_.cache;
  if (!c.enabled) return;
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  CacheOptions o{c.dir,
                 c.lock,
                 {c.lease_heartbeat, c.lease_stale},
                 c.copy ? CloneMode::kCopy : CloneMode::kLink,
                 c.max_bytes,
                 fmt::format("{} pid {} home {}", host, ::getpid(), config_.home.string())};
  auto cache = InstallCache::open(std::move(o));
  if (!cache) {
    spdlog::error("install cache off: {}", cache.error().message);
    return;
  }
  cache_ = std::move(*cache);
  // etcd locks are set once the cluster is (join_cluster says so then).
  if (c.lock != "etcd")
    spdlog::info("install cache at {} ({} locks)", c.dir.string(), cache_->locks().name());
}

int Host::run() {
  notify_ = NotifySocket::from_environment();  // first: before any thread reads the environment
  install_daemon_log(config_.daemon_log_rate, config_.log_max_bytes);
  if (auto r = open(); !r) {
    fmt::print(stderr, "berth daemon: {}\n", r.error().message);
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // Before any component starts: a certificate that does not load stops the start cleanly.
  auto tls = make_tls();
  if (!tls) {
    fmt::print(stderr, "berth daemon: {}\n", tls.error().message);
    return 1;
  }
  reaper_.start();

  auto rows = component_repo_->list();
  if (!rows) {
    fmt::print(stderr, "berth daemon: {}\n", rows.error().message);
    return 1;
  }
  std::vector<std::string> unfinished;
  for (auto& row : *rows) {
    auto c = std::make_shared<Component>(*ctx_, row.name, row.dir, row.watch,
                                         RunSource{row.run_argv, row.procfile});
    components_[row.name] = c;
    if (row.destroying) {
      c->mark_destroyed();
      c->set_destroy_failed({Code::kDestroyFailed, "the daemon stopped during its destroy"});
      unfinished.push_back(row.name);
    } else if (row.desired == Desired::kRunning)
      if (auto r = c->start_now(); !r)
        spdlog::error("{}: cannot start: {}", row.name, r.error().message);
  }

  api_ = std::make_unique<ApiBackend>(*this);
  sessions_ = std::make_unique<api::Sessions>(token_, config_.api.tls());
  api::register_routes(router_, *api_, *sessions_);
  api::Credentials creds{token_, config_.cluster.secret, config_.metrics_public, sessions_.get()};
  server_ = std::make_unique<http::Server>(
      io_, router_, [creds](const http::Request& req) { return api::authorize(req, creds); },
      http::ServerLimits{16 * 1024, config_.body_limit, config_.upload_limit,
                         config_.http.header_timeout, config_.http.idle_timeout,
                         config_.http.io_timeout, config_.http.max_connections},
      tls->server);
  if (!is_loopback_address(config_.api.listen) && !config_.api.tls())
    spdlog::warn(
        "the API listens on {} without TLS (api.insecure_http = true): tokens and the "
        "cluster secret cross the network in clear",
        config_.api.listen);
  auto port = server_->listen(config_.api.listen, config_.port);
  if (!port) {
    fmt::print(stderr, "berth daemon: {}\n", port.error().message);
    return 1;
  }
  port_ = *port;
  if (auto r = write_daemon_info(config_.home, daemon_info()); !r) {
    fmt::print(stderr, "berth daemon: {}\n", r.error().message);
    return 1;
  }
  spdlog::info("berth {} listening on {}://{}:{} (home {})", BERTH_VERSION,
               config_.api.tls() ? "https" : "http", config_.api.listen, port_,
               config_.home.string());
  join_cluster(tls->client);
  if (notify_)
    notify_->send(fmt::format("READY=1\nSTATUS=listening on port {}, {} components\nMAINPID={}",
                              port_, components_.size(), ::getpid()));

  if (!unfinished.empty())
    asio::co_spawn(io_, resume_destroys(std::move(unfinished)), asio::detached);
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("received {}, stopping every component", sig == SIGINT ? "SIGINT" : "SIGTERM");
    request_shutdown();
  });
  io_.run();
  // Every tree's group is gone by now; the daemon's own base group goes too (rmdir refuses
  // while anything is left in it), so stopped daemons leave no empty cgroups behind.
  if (ctx_->cgroup) {
    (void)cgroup::remove(ctx_->cgroup->dir);
    leave_leaf(*ctx_->cgroup);
  }
  remove_daemon_info(config_.home);
  spdlog::info("berth daemon stopped");
  return 0;
}

void Host::request_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (notify_) notify_->send("STOPPING=1\nSTATUS=stopping every component");
  asio::co_spawn(io_, shutdown(), asio::detached);
}

Result<Host::Tls> Host::make_tls() const {
  Tls out;
  const auto& api = config_.api;
  const auto& cluster = config_.cluster;
  if (api.tls()) {
    auto server = http::tls_server_context(api.tls_cert, api.tls_key, cluster.ca);
    BERTH_TRY(server);
    out.server = std::move(*server);
  }
  // Peers and etcd are dialled over TLS when their URLs say https; the node then shows its own
  // certificate, so an etcd with --client-cert-auth (or a peer) can verify it in turn.
  if (cluster.enabled() && (api.tls() || !cluster.ca.empty() ||
                            std::any_of(cluster.etcd.begin(), cluster.etcd.end(),
                                        [](auto& e) { return e.starts_with("https://"); }))) {
    auto client = http::tls_client_context(cluster.ca, api.tls_cert, api.tls_key);
    BERTH_TRY(client);
    out.client = std::move(*client);
  }
  return out;
}

DaemonInfo Host::daemon_info() const {
  DaemonInfo info{port_, ::getpid()};
  const auto& listen = config_.api.listen;
  info.address = listen;
  if (listen == "0.0.0.0" || listen == "::") {
    // Every address: dial loopback, or over TLS the advertised address its certificate names.
    info.address = listen == "::" ? "::1" : "127.0.0.1";
    if (auto u = http::Url::parse(config_.cluster.advertise); u && config_.api.tls())
      info.address = u->host;
  }
  info.tls = config_.api.tls();
  if (info.tls) info.ca = config_.cluster.ca.empty() ? config_.api.tls_cert : config_.cluster.ca;
  return info;
}

void Host::join_cluster(http::TlsContext tls) {
  if (!config_.cluster.enabled()) return;
  const std::string url = !config_.cluster.advertise.empty()
                              ? config_.cluster.advertise
                              : fmt::format("{}://{}:{}", config_.api.tls() ? "https" : "http",
                                            config_.api.listen, port_);
  auto names = [this] {
    std::vector<std::string> out;
    for (auto& [n, c] : components_) out.push_back(n);
    return out;
  };
  const bool shared_cache = cache_ && config_.cache.lock == "etcd";
  auto joined = [this, shared_cache] {
    if (shared_cache) asio::co_spawn(io_, announce_cache(), asio::detached);
  };
  cluster_ = std::make_unique<cluster::Node>(cluster::NodeContext{
      io_, config_.cluster, *deployer_, BERTH_VERSION, names, *this, std::move(tls), joined});
  if (shared_cache) {
    auto share = cluster_->cache_context(cache_->options().who);
    cache_->share_through(cluster::make_etcd_locks(share), cluster::make_cache_share(share));
    spdlog::info("install cache at {} ({} locks)", config_.cache.dir.string(),
                 cache_->locks().name());
  }
  deployer_->set_replication(&cluster_->replicator());
  deployer_->add_observer(&cluster_->replicator());
  cluster_->start(url);
}

asio::awaitable<void> Host::announce_cache() {
  asio::thread_pool worker(1);
  std::function<Result<size_t>()> announce = [cache = cache_.get()] {
    return cache->announce_held();
  };
  auto n = co_await offload(worker, std::move(announce));
  if (!n)
    spdlog::warn("install cache: announcing the entries held here: {}", n.error().message);
  else if (*n > 0)
    spdlog::info("install cache: announced the {} entries held here on the new lease", *n);
}

void Host::components_changed() {
  if (cluster_) cluster_->components_changed();
}

asio::awaitable<void> Host::shutdown() {
  server_->close();
  if (cluster_) cluster_->replicator().stop();  // deploys stop waiting for peers
  co_await deployer_->shutdown();
  if (cluster_) co_await cluster_->stop();  // peers see this node down at once
  // Stop all trees in parallel, each with its own grace; desired state is left as is so the
  // next daemon brings the same components back.
  auto pending = std::make_shared<size_t>(components_.size());
  auto done = std::make_shared<StateEvent>(io_.get_executor());
  for (auto& [name, c] : components_) {
    asio::co_spawn(
        io_,
        [c, pending, done]() -> asio::awaitable<void> {
          co_await c->stop();
          --*pending;
          done->notify_all();
        },
        asio::detached);
  }
  const std::function<bool()> all_stopped = [pending] { return *pending == 0; };
  co_await done->wait_until(all_stopped, std::chrono::steady_clock::time_point::max());
  for (auto& [name, c] : components_) c->logs().close_followers();
  io_.stop();
}

std::shared_ptr<Component> Host::find(const std::string& name) const {
  auto it = components_.find(name);
  return it == components_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<Component>> Host::run_component(const std::string& dir_text,
                                                       const std::string& name_arg, bool watch,
                                                       const EnvChange& env, bool* restart,
                                                       const RunSource& source) {
  if (shutting_down_) return fail(Code::kShuttingDown, "the daemon is shutting down");
  fs::path dir(dir_text);
  if (!dir.is_absolute())
    return fail(Code::kBadRequest, "dir must be an absolute path, got \"" + dir_text + "\"");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(Code::kBadDir, dir_text + " is not a directory");
  dir = fs::canonical(dir, ec);
  auto manifest = load_manifest(dir, source);
  BERTH_TRY(manifest);
  std::string name = !name_arg.empty()          ? name_arg
                     : !manifest->name.empty()  ? manifest->name
                     : !source.procfile.empty() ? dir.filename().string() + "-" + source.procfile
                                                : dir.filename().string();
  if (!valid_component_name(name))
    return fail(
        Code::kBadName,
        fmt::format("\"{}\" is not a valid component name (1-63 letters, digits, '.', '_', '-'; "
                    "pass --name)",
                    name));
  if (destroying_.contains(name))
    return fail(Code::kDestroyInProgress, "\"" + name + "\" is being destroyed; try again");
  if (auto c = find(name); c && c->destroyed())
    return fail(Code::kDestroyFailed, "\"" + name + "\" is half destroyed; run `berth rm " + name +
                                          "` to finish, then run it again");
  BERTH_TRY(lift_tombstone(name));
  auto c = find(name);
  if (c && c->dir() != dir)
    return fail(Code::kNameTaken,
                fmt::format("component \"{}\" already runs from {}", name, c->dir().string()));
  const bool fresh = !c;
  if (c) {
    c->set_watch_flag(watch);
    c->set_source(source);
  } else {
    c = std::make_shared<Component>(*ctx_, name, dir, watch, source);
  }
  // Checked and kept before the row, so a bad --env or profile leaves nothing registered.
  BERTH_TRY(c->change_env(env));
  BERTH_TRY(component_repo_->upsert(
      {name, dir.string(), Desired::kRunning, watch, false, source.argv, source.procfile}));
  components_[name] = c;
  components_changed();
  if (restart) *restart = !fresh && !env.empty() && c->running();
  if (auto r = c->start_now(); !r) {
    (void)component_repo_->set_desired(name, Desired::kStopped);
    return std::unexpected(r.error());
  }
  return c;
}

Result<std::shared_ptr<Component>> Host::adopt_deployed(const std::string& name,
                                                        const fs::path& link) {
  BERTH_TRY(component_repo_->upsert({name, link.string(), Desired::kRunning, false}));
  auto c = std::make_shared<Component>(*ctx_, name, link, false);
  components_[name] = c;
  components_changed();
  return c;
}

Result<void> Host::set_desired(const std::string& name, bool running) {
  return component_repo_->set_desired(name, running ? Desired::kRunning : Desired::kStopped);
}

api::Health Host::health() const {
  return {::getpid(),           port_,
          ctx_ && ctx_->cgroup, cgroup_why_,
          components_.size(),   inotify_.watches(),
          inotify_.events(),    inotify_.overflows()};
}

}  // namespace berth
