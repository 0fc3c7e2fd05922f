// What the deploy pipeline asks of the cluster, when there is one (cluster/replicator.h): to
// announce an uploaded deploy before it runs, and to fold the peers' results into the record
// before its terminal write. Event-loop thread.
#pragma once
#include <boost/asio/awaitable.hpp>

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
};

}  // namespace berth
