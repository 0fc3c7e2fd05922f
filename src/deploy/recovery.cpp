#include "deploy/recovery.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "core/duration.h"
#include "deploy/event_log.h"

namespace berth {
namespace fs = std::filesystem;
using json = nlohmann::json;

json end_event(const DeploymentRow& row) {
  json end = {{"status", row.status}};
  if (row.error)
    end["error"] = {
        {"code", row.error->code}, {"message", row.error->message}, {"phase", row.error_phase}};
  if (auto peers = json::parse(row.peer_results, nullptr, false);
      peers.is_array() && !peers.empty())
    end["peer_results"] = peers;
  return end;
}

Error interrupted(const std::string& phase, const std::string& note) {
  return Error{Code::kInterrupted,
               fmt::format("the daemon stopped during the {} phase{}", phase, note)};
}

Result<void> recover_deployments(boost::asio::any_io_executor ex, DeploymentRepo& repo,
                                 ReleaseStore& releases, BlobStore& blobs) {
  auto rows = repo.unfinished();
  BERTH_TRY(rows);
  for (auto& row : *rows) {
    std::error_code ec;
    fs::remove_all(releases.staging_dir(row.component, row.release), ec);
    std::string note;
    auto current = releases.current(row.component);
    const bool deploy = row.kind != DeploymentKind::kRollback;
    if (deploy && current == row.release && row.previous &&
        releases.has_release(row.component, *row.previous)) {
      // Killed after the flip: put the release that ran before back.
      if (auto r = releases.activate(row.component, *row.previous); r) {
        current = row.previous;
        note = "; the previous release " + *row.previous + " is live again";
      }
    }
    if (deploy && current != row.release)
      fs::remove_all(releases.release_dir(row.component, row.release), ec);
    row.error = interrupted(row.phase, note);
    row.error_phase = row.phase;
    row.status = DeploymentStatus::kInterrupted;
    row.phase = "interrupted";
    row.ended_at = now_ms();
    DeploymentLog log(ex, repo, row.id, repo.last_seq(row.id));
    log.append("end", end_event(row));
    BERTH_TRY(repo.finish(row, log.close()));
    spdlog::warn("deployment {} of {} interrupted during {}", row.id, row.component,
                 row.error_phase);
  }
  releases.sweep_partials();
  blobs.sweep_incoming();
  return {};
}

}  // namespace berth
