// The composition root: owns the io_context, the store, the reaper, the components and the
// HTTP server, and wires them together. `run()` is `berth daemon`.
#pragma once
#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/backend.h"
#include "api/sessions.h"
#include "cluster/node.h"
#include "config/daemon_config.h"
#include "config/home.h"
#include "core/sd_notify.h"
#include "deploy/deploy_target.h"
#include "deploy/deployer.h"
#include "host/component.h"
#include "http/router.h"
#include "http/server.h"
#include "store/db.h"
#include "watch/inotify_api.h"
#include "watch/inotify_hub.h"

namespace berth {

class Host final : public DeployTarget, public cluster::LocalComponents {
 public:
  explicit Host(DaemonConfig config);
  ~Host();
  // Runs the daemon until SIGINT/SIGTERM or POST /v1/shutdown. Returns the process exit code.
  int run();

  // --- used by the API ---
  std::shared_ptr<Component> find(const std::string& name) const;
  const std::map<std::string, std::shared_ptr<Component>>& components() const {
    return components_;
  }
  // Registers DIR as a component run in place (name: given, else the manifest's, else the
  // directory's, with "-TYPE" for a Procfile type), runs `source` when given, keeps `env` for it
  // and starts it. `*restart` is set when it was running and
  // `env` changed something, which only a restart can bring to it.
  Result<std::shared_ptr<Component>> run_component(const std::string& dir, const std::string& name,
                                                   bool watch, const EnvChange& env = {},
                                                   bool* restart = nullptr,
                                                   const RunSource& source = {});
  // Registers a deployed component: its directory is the components/NAME link.
  Result<std::shared_ptr<Component>> adopt_deployed(const std::string& name,
                                                    const std::filesystem::path& link);
  Result<void> set_desired(const std::string& name, bool running);
  Deployer& deployer() { return *deployer_; }
  InstallCache* cache() { return cache_.get(); }
  cluster::Node* cluster() { return cluster_.get(); }  // null: not in a cluster

  // --- destroy and reconcile (host/destroy.cpp) ---
  // Cancels its deploys, stops the tree (every member gone), drops its watches, removes its
  // live link, releases and logs, then tombstones it. Idempotent. The intent is recorded
  // first (if it cannot be, nothing is touched); a teardown or tombstone that fails leaves it
  // `destroy_failed`, refusing to start; another destroy, a deploy, or the next daemon start
  // finishes it. Unknown: not_found.
  // Returns whether it was destroyed before.
  boost::asio::awaitable<Result<bool>> destroy(const std::string& name);
  // `berth rm`: in a cluster, through the desired state on every node (Replicator::destroy);
  // a component run in place, or any outside a cluster: here only.
  boost::asio::awaitable<Result<api::DestroyReport>> destroy_everywhere(const std::string& name);
  // cluster::LocalComponents
  bool deployed_here(const std::string& name) const override;
  boost::asio::awaitable<Result<bool>> destroy_here(const std::string& name) override;
  bool tombstoned(const std::string& name) const { return tombstones_.contains(name); }
  // Only an explicit deploy or run (or reconcile healing a live name) calls this.
  Result<void> lift_tombstone(const std::string& name);
  // Completes at once, or when a destroy of `name` in progress has ended.
  boost::asio::awaitable<void> destroy_settled(const std::string& name);
  // Before a deploy brings `name` back: waits for a destroy in progress, and completes a
  // destroy that failed half-way (its teardown or its tombstone), so the deploy starts afresh.
  boost::asio::awaitable<Result<void>> finish_pending_destroy(const std::string& name);
  using Reconciled = api::ReconcileReport;
  // Destroys every component not in `live` except those with work in flight or
  // [lifecycle] keep; lifts the tombstones of names in `live`.
  boost::asio::awaitable<Reconciled> reconcile(const std::set<std::string>& live);
  // Stops every tree (in parallel) and then the event loop.
  void request_shutdown();
  bool shutting_down() const override { return shutting_down_; }

  // --- DeployTarget: what the deploy pipeline asks of the components (host/deploy_target.cpp)
  boost::asio::awaitable<Result<void>> admit(const std::string& name,
                                             Superseded superseded) override;
  Result<void> deployed(const std::string& name) const override;
  void deploys_began(const std::string& name) override;
  void deploys_ended(const std::string& name) override;
  boost::asio::awaitable<Result<void>> stays_up(const std::string& name,
                                                std::chrono::milliseconds window) override;
  boost::asio::awaitable<Result<void>> restart(const std::string& name) override;
  boost::asio::awaitable<void> stop(const std::string& name) override;
  Result<EnvSettings> keep_env(const std::string& name, const EnvChange& change) override;
  void restore_env(const std::string& name, const EnvSettings& previous) override;
  api::Health health() const;

 private:
  Result<void> open();
  void open_cache();
  // Destroys recorded but not finished by a previous daemon (killed mid-teardown).
  boost::asio::awaitable<void> resume_destroys(std::vector<std::string> names);
  boost::asio::awaitable<void> shutdown();
  // The API's TLS context ([api] tls_cert/tls_key) and the one peers and etcd are dialled with
  // (null where not needed); bad_config when a certificate, key or CA does not load.
  struct Tls {
    http::TlsContext server, client;
  };
  Result<Tls> make_tls() const;
  // What daemon.json tells a local CLI: where to dial and how to verify.
  DaemonInfo daemon_info() const;
  // Joins the cluster when [cluster] is set, once the API listens (peers need its URL).
  void join_cluster(http::TlsContext tls);
  // After each join (a new lease, and none of the keys the old one carried): tells the cluster
  // again which install cache entries this node holds, off the event loop.
  boost::asio::awaitable<void> announce_cache();
  // The set of components changed: the cluster's node record says so.
  void components_changed();

  DaemonConfig config_;
  boost::asio::io_context io_;
  std::optional<HomeLock> lock_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<ComponentRepo> component_repo_;
  std::unique_ptr<TreeRepo> tree_repo_;
  std::unique_ptr<LeaseRepo> lease_repo_;
  std::unique_ptr<DeploymentRepo> deployment_repo_;
  Reaper reaper_;
  KernelInotify inotify_api_;
  InotifyHub inotify_{io_, inotify_api_};  // one inotify instance for every component
  std::unique_ptr<HostContext> ctx_;
  std::string cgroup_why_;
  std::string token_;
  std::map<std::string, std::shared_ptr<Component>> components_;
  std::unique_ptr<InstallCache> cache_;  // before the deployer, which holds use marks in it
  std::unique_ptr<Deployer> deployer_;
  std::set<std::string> tombstones_;  // mirror of the tombstones table
  std::set<std::string> destroying_;
  std::unique_ptr<StateEvent> destroy_ended_;
  std::unique_ptr<cluster::Node> cluster_;   // after the deployer: it observes deploys
  std::unique_ptr<api::Backend> api_;        // what the routes see of this host
  std::unique_ptr<api::Sessions> sessions_;  // the dashboard's sign-ins
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
  bool shutting_down_ = false;
  // Type=notify under systemd: READY=1 once the API listens, STOPPING=1 when the stop begins.
  std::optional<NotifySocket> notify_;
};

}  // namespace berth
