// Runs deployments. A deployment is a record plus an event log: the payload is streamed into
// the blob store, then extracted into a staging directory, installed, activated by flipping
// components/NAME, and the component restarted exactly once; a release that fails readiness
// is rolled back. Deploys of one component run one after another in arrival order (a second
// one waits, and says so); while any is in flight the component's watchers are paused.
#pragma once
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cache/install_cache.h"
#include "deploy/event_log.h"
#include "deploy/installer.h"
#include "deploy/release_store.h"
#include "host/host_context.h"
#include "http/message.h"
#include "store/deployment_repo.h"

namespace berth {

class Host;
class Component;

class Deployer {
 public:
  // `cache` may be null (the install cache is off or its directory unusable).
  Deployer(HostContext& ctx, DeploymentRepo& repo, Host& host, InstallCache* cache);
  ~Deployer();

  // At daemon start, before components start: every unfinished deployment becomes
  // `interrupted`, its staging is removed and a half-done activation is undone, so the
  // component comes back on the release it ran before.
  Result<void> recover();
  // PUT /v1/components/{name}: stores the body as a blob, records the deployment and starts
  // its pipeline. Returns the record once the payload is stored.
  boost::asio::awaitable<Result<DeploymentRow>> receive(const std::string& name,
                                                        http::BodyReader& body);
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
  void release_cache_uses();
  DeploymentRepo& repo() { return repo_; }
  const ReleaseStore& releases() const { return store_; }

 private:
  struct Active;
  class Guard;

  Result<std::shared_ptr<Active>> begin(const std::string& name, DeploymentRow row);
  boost::asio::awaitable<void> pipeline(std::shared_ptr<Active> a);
  boost::asio::awaitable<Result<void>> phases(Active& a);
  boost::asio::awaitable<Result<void>> extract(Active& a);
  boost::asio::awaitable<Result<void>> install(Active& a);
  boost::asio::awaitable<Result<void>> run_installer(Active& a, const InstallPlan& plan,
                                                     std::chrono::milliseconds timeout);
  boost::asio::awaitable<Result<void>> cached_install(Active& a, const InstallPlan& plan,
                                                      std::chrono::milliseconds timeout);
  void hold_cache_uses();
  boost::asio::awaitable<Result<void>> activate_and_restart(Active& a);
  void set_phase(Active& a, const std::string& phase);
  void cancel(Active& a, Error why);
  void finish(Active& a, const Result<void>& r);
  void prune(const std::string& name);
  void end_lifecycle(const std::string& name, DeploymentLog& log);

  HostContext& ctx_;
  DeploymentRepo& repo_;
  Host& host_;
  ReleaseStore store_;
  InstallCache* cache_;
  std::map<std::filesystem::path, UseMark> uses_;  // release dir -> its cache entry's use mark
  boost::asio::thread_pool pool_{1};  // extraction: blocking file I/O off the event loop
  std::map<std::string, std::shared_ptr<Active>> active_;
  std::map<std::string, std::deque<std::string>> queue_;  // per component, arrival order
  std::map<std::string, int> depth_;                      // deploys in flight per component
  StateEvent turn_;
  bool closing_ = false;
  int pipelines_ = 0;
};

}  // namespace berth
