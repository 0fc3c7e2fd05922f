// What the deploy pipeline needs from the components it deploys, and nothing more: the host
// implements it. Everything here runs on the event-loop thread.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "config/environment.h"
#include "core/error.h"
#include "store/component_repo.h"

namespace berth {

class DeployTarget {
 public:
  virtual ~DeployTarget() = default;

  virtual bool shutting_down() const = 0;
  // Before a deploy of `name` is recorded: waits for a destroy of it in progress (and
  // finishes one that failed half-way), lifts its tombstone, and refuses a name that runs in
  // place (name_taken). `superseded` is asked once that destroy has ended and before the
  // tombstone is lifted: an error is returned as it is and nothing is lifted.
  using Superseded = std::function<std::optional<Error>()>;
  virtual boost::asio::awaitable<Result<void>> admit(const std::string& name,
                                                     Superseded superseded = nullptr) = 0;
  // Before a rollback: ok when a deployed component of that name exists (else not_found, or
  // not_deployed for one run in place, or component_destroyed).
  virtual Result<void> deployed(const std::string& name) const = 0;
  // Lesson 1: the first deploy of `name` in flight releases its watches and turns change
  // restarts off; when the last one ends a fresh watcher is built on the live release.
  virtual void deploys_began(const std::string& name) = 0;
  virtual void deploys_ended(const std::string& name) = 0;
  // Starts (first deploy: registers) or restarts the component from its live link, records
  // that it should run, and completes when it is ready or has failed to start.
  virtual boost::asio::awaitable<Result<void>> restart(const std::string& name) = 0;
  // After restart() said ready: completes when the run that became ready has stayed up for
  // `window` (ok), or as soon as it ends or leaves `ready` (exited_after_ready, with why).
  virtual boost::asio::awaitable<Result<void>> stays_up(const std::string& name,
                                                        std::chrono::milliseconds window) = 0;
  // A deploy's --env/--profile, kept for `name` just before its new release starts (checked
  // against that release: the profile must exist, the env file must parse). Returns what was
  // kept before, for restore_env when the release fails and the previous one comes back.
  virtual Result<EnvSettings> keep_env(const std::string& name, const EnvChange& change) = 0;
  virtual void restore_env(const std::string& name, const EnvSettings& previous) = 0;
  // Stops it and records that it should not run (a first release that failed).
  virtual boost::asio::awaitable<void> stop(const std::string& name) = 0;
};

}  // namespace berth
