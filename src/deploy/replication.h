// What the deploy pipeline asks of the cluster, when there is one (cluster/replicator.h): to
// announce an uploaded deploy before it runs, to hold a rolling deploy's restarts to a few
// nodes at a time, and to fold the peers' results into the record before its terminal
// write. Event-loop thread.
#pragma once
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "config/manifest.h"
#include "core/error.h"
#include "store/deployment_repo.h"

namespace berth {

class ReplicationHook {
 public:
  virtual ~ReplicationHook() = default;
  // An upload is stored and about to run: make it the cluster's desired release. A failure
  // (etcd unreachable: cluster_unavailable) fails the deployment before anything changes.
  virtual boost::asio::awaitable<Result<void>> announce(DeploymentRow& row) = 0;
  // The pipeline has ended with `row.status`; returns when the peers it waits for have ended
  // (or timed out), with `row.peer_results` filled and the status folded (success -> partial
  // when a peer did not succeed). A deployment it did not announce is left as it is.
  virtual boost::asio::awaitable<void> settle(DeploymentRow& row) = 0;
  // Before this node switches to the release of a cluster deploy whose manifest says
  // rollout = "rolling": waits for one of its `max_parallel` slots, held until the returned
  // token is dropped (null: no slot was needed). Fails with rollout_stopped (or conflict,
  // component_destroyed) when the rollout was stopped or superseded meanwhile: this node then
  // keeps its release. Gives up waiting (null) when `*cancel` becomes true.
  virtual boost::asio::awaitable<Result<std::shared_ptr<void>>> rollout_slot(
      const DeploymentRow& row, const DeploySpec& spec, const std::atomic<bool>* cancel) = 0;
  // The new release of a rolling deploy failed here (and this node went back): stop the
  // rollout, putting the cluster's desired state back to the release it replaced.
  virtual boost::asio::awaitable<void> stop_rollout(const DeploymentRow& row, const Error& why) = 0;
};

}  // namespace berth
