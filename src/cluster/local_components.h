// What the cluster may do to this node's own components, and nothing more: ask whether one is
// deployed here and destroy it here. Host implements it; the replicator calls it when a
// component's desired state says destroyed. Event loop.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <string>

#include "core/error.h"

namespace berth::cluster {

class LocalComponents {
 public:
  virtual ~LocalComponents() = default;
  // Deployed here. A component run in place (`berth run`) is node-local: a cluster destroy
  // or reconcile never touches it.
  virtual bool deployed_here(const std::string& name) const = 0;
  // Cancels its deploys in flight here, stops and removes it, then tombstones it; true when
  // it was not a component here (a first deploy of it, if any, ends component_destroyed).
  virtual boost::asio::awaitable<Result<bool>> destroy_here(const std::string& name) = 0;
};

}  // namespace berth::cluster
