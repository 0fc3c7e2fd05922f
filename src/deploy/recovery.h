// Crash recovery of deploys, at daemon start before any component starts: every deployment
// left `running` by a dead daemon becomes `interrupted` (with the phase it was in), its
// staging tree and half-written payload are removed, and if it had already flipped the live
// link, the release that ran before is put back. Event-loop thread, before anything runs.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include "core/error.h"
#include "deploy/blob_store.h"
#include "deploy/release_store.h"
#include "store/deployment_repo.h"

namespace berth {

// The terminal event every deployment's log ends with.
nlohmann::json end_event(const DeploymentRow& row);
// Why a deployment ended when the daemon stopped during `phase`.
Error interrupted(const std::string& phase, const std::string& note = "");

Result<void> recover_deployments(boost::asio::any_io_executor ex, DeploymentRepo& repo,
                                 ReleaseStore& releases, BlobStore& blobs);

}  // namespace berth
