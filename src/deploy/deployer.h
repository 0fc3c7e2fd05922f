// Runs deployments: a record plus an event log, and the pipeline extract -> install ->
// activate (flip components/NAME) -> restart exactly once, rolling back to the previous
// release when the new one fails to start. A deploy starts from a payload in the blob store:
// streamed in by an upload (receive) or already there (start, for a peer that fetched it).
// Deploys of one component run one after another in arrival order; while any is in flight the
// component's watchers are released (DeployTarget). Event-loop thread; extraction runs on a
// pool thread and the cached install on one of its own.
#pragma once
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/install_cache.h"
#include "config/daemon_config.h"
#include "deploy/blob_store.h"
#include "deploy/cache_uses.h"
#include "deploy/deploy_metrics.h"
#include "deploy/deploy_target.h"
#include "deploy/event_log.h"
#include "deploy/installer.h"
#include "deploy/observer.h"
#include "deploy/release_store.h"
#include "deploy/replication.h"
#include "http/message.h"
#include "proc/cgroup.h"
#include "proc/reaper.h"
#include "store/deployment_repo.h"
#include "store/tree_repo.h"

namespace berth {

// What the pipeline runs on, passed by reference (no globals).
struct DeployerContext {
  boost::asio::io_context& io;
  Reaper& reaper;
  const DaemonConfig& config;
  TreeRepo& trees;                          // installers are recorded like components' trees
  const std::optional<CgroupBase>& cgroup;  // installers get a cgroup where components do
};

class Deployer {
 public:
  // `cache` may be null (the install cache is off or its directory unusable).
  Deployer(DeployerContext ctx, DeploymentRepo& repo, DeployTarget& target, InstallCache* cache);
  ~Deployer();

  // At daemon start, before components start: see deploy/recovery.h; then re-takes the
  // install cache's use marks of the releases on disk.
  Result<void> recover();
  // PUT /v1/components/{name}: records the deployment from the first byte, stores the body as
  // a blob, then starts the pipeline. Returns the record once the payload is stored. `env`
  // (deploy --env/--profile) is kept for the component as the new release starts, and the
  // settings before it come back if the release fails (bad_env in a cluster: not carried).
  boost::asio::awaitable<Result<DeploymentRow>> receive(const std::string& name,
                                                        http::BodyReader& body, EnvChange env = {});
  // A deploy of a payload already in the blob store (not_found when it is not), `origin`
  // saying where it came from. Returns the record; the pipeline runs on. A cluster peer
  // passes the origin's deployment and release ids; by default both are new.
  struct StartOptions {
    std::string id, release;
    DeploymentKind kind = DeploymentKind::kDeploy;
    // A cluster converge: why it is no longer wanted, asked once any destroy of the name in
    // progress has ended (see DeployTarget::admit) and again when its turn in the queue comes;
    // then nothing starts or comes back.
    DeployTarget::Superseded superseded;
  };
  boost::asio::awaitable<Result<DeploymentRow>> start(const std::string& name,
                                                      const std::string& digest,
                                                      const std::string& origin,
                                                      StartOptions options);
  // Back to release `to` (a deployment id), or to the newest earlier release when empty.
  Result<DeploymentRow> rollback(const std::string& name, const std::string& to);
  // The live event log of a running deployment; null once it has ended.
  std::shared_ptr<DeploymentLog> live_log(const std::string& id) const;
  bool in_flight(const std::string& component) const { return depth_.contains(component); }
  // Destroy wins over deploys: each deploy of the component in flight stops at its next
  // step (its installer killed, its staging removed) and fails with component_destroyed;
  // completes when none is left. A deploy already switching releases finishes first.
  boost::asio::awaitable<void> cancel_all(const std::string& component);
  // Daemon shutdown: every deploy stops at its next step as `interrupted` (installers are
  // killed); completes when no pipeline runs. Uploads still arriving are left to recovery.
  boost::asio::awaitable<void> shutdown();
  // Drops the cache use marks of releases that no longer exist (after pruning, destroy).
  void release_cache_uses() { uses_.release_gone(); }
  // Observers hear of every phase and end after the event log; they must outlive the deployer.
  void add_observer(DeploymentObserver* o) { observers_.push_back(o); }
  // The cluster's hook (null: one machine); it must outlive the deployer.
  void set_replication(ReplicationHook* hook) { replication_ = hook; }

  DeploymentRepo& repo() { return repo_; }
  const DeployMetrics& metrics() const { return metrics_; }
  const ReleaseStore& releases() const { return releases_; }
  const BlobStore& blobs() const { return blobs_; }

 private:
  struct Active;
  class Guard;
  class EventLogObserver;

  Result<std::shared_ptr<Active>> begin(const std::string& name, DeploymentRow row);
  void launch(std::shared_ptr<Active> a);
  boost::asio::awaitable<void> pipeline(std::shared_ptr<Active> a);
  boost::asio::awaitable<Result<void>> phases(Active& a);
  boost::asio::awaitable<Result<void>> extract(Active& a);
  boost::asio::awaitable<Result<void>> install(Active& a);
  boost::asio::awaitable<Result<void>> run_installer(Active& a, const InstallPlan& plan,
                                                     std::chrono::milliseconds timeout);
  boost::asio::awaitable<Result<void>> cached_install(Active& a, const InstallPlan& plan,
                                                      std::chrono::milliseconds timeout);
  boost::asio::awaitable<Result<void>> activate_and_restart(Active& a);
  void set_phase(Active& a, const std::string& phase);
  void cancel(Active& a, Error why);
  // The status a pipeline's result gives; then the single terminal write; finish is both.
  void conclude(Active& a, const Result<void>& r);
  void record_end(Active& a);
  void finish(Active& a, const Result<void>& r);
  void prune(const std::string& name);
  void end_lifecycle(const std::string& name, DeploymentLog& log);

  DeployerContext ctx_;
  DeploymentRepo& repo_;
  DeployTarget& target_;
  ReleaseStore releases_;
  BlobStore blobs_;
  InstallCache* cache_;
  CacheUses uses_;
  std::unique_ptr<EventLogObserver> event_log_;  // observers_[0]
  DeployMetrics metrics_;                        // observers_[1]
  std::vector<DeploymentObserver*> observers_;
  ReplicationHook* replication_ = nullptr;
  boost::asio::thread_pool pool_{1};  // extraction: blocking file I/O off the event loop
  std::map<std::string, std::shared_ptr<Active>> active_;
  std::map<std::string, std::deque<std::string>> queue_;  // per component, arrival order
  std::map<std::string, int> depth_;                      // deploys in flight per component
  StateEvent turn_;
  bool closing_ = false;
  int pipelines_ = 0;
};

}  // namespace berth
