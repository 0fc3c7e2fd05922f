#include "api/routes.h"

#include "api/resources.h"

namespace berth::api {

namespace {

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

void register_routes(http::Router& router, Backend& b) {
  add_health_routes(router, b);
  add_component_routes(router, b);
  add_deployment_routes(router, b);
  add_reconcile_routes(router, b);
  add_cache_routes(router, b);
  add_cluster_routes(router, b);
  add_metrics_routes(router, b);
  add_debug_routes(router, b);
}

http::Verdict authorize(const http::Request& req, const std::string& token,
                        const std::string& cluster_secret, bool public_metrics) {
  const std::string prefix = "Bearer ";
  const bool bearer = req.authorization.starts_with(prefix);
  const std::string presented = bearer ? req.authorization.substr(prefix.size()) : "";
  if (req.path.starts_with("/v1/cluster/")) {
    // Node-to-node routes: the cluster secret only; a user's token opens nothing here.
    if (!cluster_secret.empty() && bearer && constant_time_equal(presented, cluster_secret))
      return {std::nullopt, true};
    return {http::error_response(Code::kUnauthorized,
                                 cluster_secret.empty()
                                     ? "this daemon is not in a cluster"
                                     : "node-to-node routes need Authorization: Bearer <the "
                                       "cluster secret>")};
  }
  const bool right = bearer && constant_time_equal(presented, token);
  if (right || req.path == "/healthz" || (public_metrics && req.path == "/metrics"))
    return {std::nullopt, right};
  if (req.authorization.empty())
    return {http::error_response(
        Code::kUnauthorized,
        "missing Authorization: Bearer <token> (the token is in $BERTH_HOME/token)")};
  return {http::error_response(Code::kUnauthorized, "wrong bearer token")};
}

}  // namespace berth::api
