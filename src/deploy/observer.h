// Who hears of a deployment's progress: its event log first, the cluster's replicator next.
// Called on the event-loop thread, after the record is written; an observer that fails must
// not fail the deploy (observability never decides an outcome).
#pragma once
#include "store/deployment_repo.h"

namespace berth {

class DeploymentObserver {
 public:
  virtual ~DeploymentObserver() = default;
  // `row.phase` has just changed (received, extracting, installing, activating, restarting).
  virtual void on_phase(const DeploymentRow& row) { (void)row; }
  // The terminal status, error and times are written.
  virtual void on_end(const DeploymentRow& row) { (void)row; }
};

}  // namespace berth
