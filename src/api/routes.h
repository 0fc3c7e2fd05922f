// berth's HTTP API: every resource's routes (api/resources.h) and bearer-token auth, written
// against api::Backend (the host implements it).
#pragma once
#include <string>

#include "api/backend.h"
#include "http/message.h"
#include "http/router.h"

namespace berth::api {

void register_routes(http::Router& router, Backend& b);
// Every route but /healthz (and /metrics when `public_metrics`) needs `Authorization: Bearer
// <token>`, and the node-to-node routes
// under /v1/cluster/ need the cluster secret instead (empty: there are none): the verdict
// holds the 401 to send, or none to proceed; it is `trusted` when the credential was right.
http::Verdict authorize(const http::Request& req, const std::string& token,
                        const std::string& cluster_secret, bool public_metrics = false);

}  // namespace berth::api
