// What a component's deployment history says to keep, and where a rollback goes: pure
// functions of the rows (newest first) and of which releases still exist, so they are tested
// without a disk or a daemon.
#pragma once
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/deployment_repo.h"

namespace berth {

// Does releases/COMPONENT/RELEASE exist?
using ReleaseExists = std::function<bool(const std::string& component, const std::string& release)>;

// Release ids of one component to keep: the live one, those of deploys in flight, and the
// newest `keep` earlier successful ones (for rollback).
std::set<std::string> releases_to_keep(const std::vector<DeploymentRow>& history,
                                       const std::optional<std::string>& live, int keep);

// Payload digests to keep (all components): those of deploys in flight and of every
// deployment whose release still exists.
std::set<std::string> payloads_to_keep(const std::vector<DeploymentRow>& all,
                                       const ReleaseExists& exists);

// The deployment a rollback of `component` goes back to: deployment `to` when given (its
// release must still exist: release_gone; unknown: not_found), else the newest successful one
// whose release exists and is not the live one (none: no_previous_release).
Result<DeploymentRow> rollback_target(const std::vector<DeploymentRow>& history,
                                      const std::string& component,
                                      const std::optional<std::string>& live, const std::string& to,
                                      const ReleaseExists& exists);

}  // namespace berth
