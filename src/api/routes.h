// berth's HTTP API: every resource's routes (api/resources.h) and bearer-token auth, written
// against api::Backend (the host implements it).
#pragma once
#include <string>

#include "api/backend.h"
#include "api/sessions.h"
#include "http/message.h"
#include "http/router.h"

namespace berth::api {

// `sessions`: the dashboard's sign-ins (api/dashboard.cpp serves the page and signs in).
void register_routes(http::Router& router, Backend& b, Sessions& sessions);

struct Credentials {
  std::string token;
  std::string cluster_secret;  // empty: not in a cluster
  bool public_metrics = false;
  Sessions* sessions = nullptr;  // null: no dashboard sign-ins
};
// Every route but /healthz, the dashboard's page and assets, its sign-in (and /metrics when
// `public_metrics`) needs `Authorization: Bearer <token>` or a dashboard session's cookie; a
// state-changing request on a cookie must also carry the session's X-CSRF-Token (else 403
// `csrf_failed`: a cookie is sent by the browser on its own, the header only by our page). The
// node-to-node routes under /v1/cluster/ need the cluster secret instead. The verdict holds
// the refusal to send, or none to proceed; it is `trusted` when a credential was right.
http::Verdict authorize(const http::Request& req, const Credentials& creds);

}  // namespace berth::api
