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
}

http::Verdict authorize(const http::Request& req, const std::string& token) {
  const std::string prefix = "Bearer ";
  const bool right = req.authorization.starts_with(prefix) &&
                     constant_time_equal(req.authorization.substr(prefix.size()), token);
  if (right || req.path == "/healthz") return {std::nullopt, right};
  if (req.authorization.empty())
    return {http::error_response(
        Code::kUnauthorized,
        "missing Authorization: Bearer <token> (the token is in $BERTH_HOME/token)")};
  return {http::error_response(Code::kUnauthorized, "wrong bearer token")};
}

}  // namespace berth::api
