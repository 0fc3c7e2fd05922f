// The JSON of berth's resources, built in one place from plain data (docs/api.md is its
// contract): components, deployments, log lines, health, the cluster's nodes.
#pragma once
#include <nlohmann/json.hpp>

#include "api/backend.h"
#include "proc/log_sink.h"
#include "store/deployment_repo.h"

namespace berth::api {

nlohmann::json component_json(const ComponentStatus& s);
nlohmann::json deployment_json(const DeploymentRow& r);
// GET /v1/deployments: {"deployments": [each row's deployment_json]}.
nlohmann::json deployments_body(const std::vector<DeploymentRow>& rows);
nlohmann::json line_json(const LogLine& l);
nlohmann::json health_json(const Health& h);
// GET /v1/nodes: every node of the cluster `node` is in, this one with `b`'s components.
nlohmann::json nodes_json(cluster::Node& node, Backend& b);

}  // namespace berth::api
