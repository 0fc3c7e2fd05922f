#include "deploy/retention.h"

namespace berth {

std::set<std::string> releases_to_keep(const std::vector<DeploymentRow>& history,
                                       const std::optional<std::string>& live, int keep) {
  std::set<std::string> out, earlier;
  if (live) out.insert(*live);
  for (const auto& row : history) {
    if (row.status == DeploymentStatus::kRunning) out.insert(row.release);
    if (row.status == DeploymentStatus::kSuccess && row.release != live &&
        earlier.size() < static_cast<size_t>(keep))
      earlier.insert(row.release);
  }
  out.insert(earlier.begin(), earlier.end());
  return out;
}

std::set<std::string> payloads_to_keep(const std::vector<DeploymentRow>& all,
                                       const ReleaseExists& exists) {
  std::set<std::string> out;
  for (const auto& row : all)
    if (row.digest &&
        (row.status == DeploymentStatus::kRunning || exists(row.component, row.release)))
      out.insert(*row.digest);
  return out;
}

Result<DeploymentRow> rollback_target(const std::vector<DeploymentRow>& history,
                                      const std::string& component,
                                      const std::optional<std::string>& live, const std::string& to,
                                      const ReleaseExists& exists) {
  for (const auto& row : history) {
    if (!to.empty() && row.id == to) {
      if (!exists(component, row.release))
        return fail(Code::kReleaseGone, "the release of deployment " + to + " was pruned");
      return row;
    }
    if (to.empty() && row.status == DeploymentStatus::kSuccess && row.release != live &&
        exists(component, row.release))
      return row;
  }
  if (to.empty())
    return fail(Code::kNoPreviousRelease,
                "\"" + component + "\" has no earlier release to roll back to");
  return fail(Code::kNotFound, "no deployment " + to + " of \"" + component + "\"");
}

}  // namespace berth
