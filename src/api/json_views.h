// The JSON of berth's resources, built in one place from plain data (docs/api.md is its
// contract): components, deployments, log lines, health.
#pragma once
#include <nlohmann/json.hpp>

#include "api/backend.h"
#include "proc/log_sink.h"
#include "store/deployment_repo.h"

namespace berth::api {

nlohmann::json component_json(const ComponentStatus& s);
nlohmann::json deployment_json(const DeploymentRow& r);
nlohmann::json line_json(const LogLine& l);
nlohmann::json health_json(const Health& h);

}  // namespace berth::api
