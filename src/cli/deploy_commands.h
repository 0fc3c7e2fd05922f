// `berth deploy`, `berth rollback` and `berth deployments`: upload with a progress bar, then
// follow the deployment's events until it ends.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "http/client.h"

namespace berth::cli {

struct DeployOptions {
  std::string path;  // a directory or a .tar.gz
  std::string name;
  bool follow = true;
  bool json_out = false;
  // --env/--unset-env/--profile as the JSON object the API takes ({} for none).
  nlohmann::json env = nlohmann::json::object();
};

int cmd_deploy(http::Client& client, const DeployOptions& o);
// `to`: a deployment id, or empty for the release before the live one.
int cmd_rollback(http::Client& client, const std::string& name, const std::string& to, bool follow,
                 bool json_out);
int cmd_deployments(http::Client& client, const std::string& name, bool json_out);
// Prints the events of deployment `id` until it ends; 0 only when it succeeded.
int follow_deployment(http::Client& client, const std::string& id, bool json_out);

}  // namespace berth::cli
