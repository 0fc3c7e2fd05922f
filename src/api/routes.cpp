#include "api/routes.h"

#include "api/resources.h"

namespace berth::api {

namespace {

bool public_path(const http::Request& req, bool public_metrics) {
  if (req.path == "/healthz" || (public_metrics && req.path == "/metrics")) return true;
  // The dashboard's page and its sign-in: a browser without a session must reach them.
  if (req.method == "GET" &&
      (req.path == "/" || req.path.starts_with("/assets/") || req.path == "/favicon.ico"))
    return true;
  return req.method == "POST" && req.path == "/v1/session";
}

}  // namespace

void register_routes(http::Router& router, Backend& b, Sessions& sessions) {
  add_dashboard_routes(router, b, sessions);
  add_health_routes(router, b);
  add_component_routes(router, b);
  add_deployment_routes(router, b);
  add_reconcile_routes(router, b);
  add_cache_routes(router, b);
  add_cluster_routes(router, b);
  add_metrics_routes(router, b);
  add_debug_routes(router, b);
}

http::Verdict authorize(const http::Request& req, const Credentials& creds) {
  const std::string& token = creds.token;
  const std::string& cluster_secret = creds.cluster_secret;
  const std::string prefix = "Bearer ";
  const bool bearer = req.authorization.starts_with(prefix);
  const std::string presented = bearer ? req.authorization.substr(prefix.size()) : "";
  if (req.path.starts_with("/v1/cluster/")) {
    // Node-to-node routes: the cluster secret only; a user's token opens nothing here.
    if (!cluster_secret.empty() && bearer && secrets_equal(presented, cluster_secret))
      return {std::nullopt, true};
    return {http::error_response(Code::kUnauthorized,
                                 cluster_secret.empty()
                                     ? "this daemon is not in a cluster"
                                     : "node-to-node routes need Authorization: Bearer <the "
                                       "cluster secret>")};
  }
  const bool right = bearer && secrets_equal(presented, token);
  if (right) return {std::nullopt, true};
  // A dashboard session: the browser sends its cookie by itself, even on a request another
  // site's page made it send, so a state-changing one must also show the session's CSRF
  // token, which only our page can read.
  const bool session_sent = req.authorization.empty() && creds.sessions && !req.cookie.empty();
  auto csrf =
      session_sent ? creds.sessions->csrf_of(req.cookie, Sessions::Clock::now()) : std::nullopt;
  if (public_path(req, creds.public_metrics)) return {std::nullopt, csrf.has_value()};
  if (csrf) {
    if (req.method == "GET" || req.method == "HEAD" || secrets_equal(req.csrf_token, *csrf))
      return {std::nullopt, true};
    return {http::error_response(
        Code::kCsrfFailed,
        req.csrf_token.empty()
            ? "a state-changing request on a dashboard session needs its X-CSRF-Token header"
            : "wrong X-CSRF-Token for this session")};
  }
  if (req.authorization.empty())
    return {http::error_response(
        Code::kUnauthorized,
        "missing Authorization: Bearer <token> (the token is in $BERTH_HOME/token)")};
  return {http::error_response(Code::kUnauthorized, "wrong bearer token")};
}

}  // namespace berth::api
