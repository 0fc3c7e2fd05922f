// berth's HTTP API: every resource's routes (api/resources.h) and bearer-token auth, written
// against api::Backend (the host implements it).
#pragma once
#include <string>

#include "api/backend.h"
#include "http/message.h"
#include "http/router.h"

namespace berth::api {

void register_routes(http::Router& router, Backend& b);
// Every route but /healthz needs `Authorization: Bearer <token>`: the verdict holds the 401 to
// send, or none to proceed; it is `trusted` when the request carried the right token.
http::Verdict authorize(const http::Request& req, const std::string& token);

}  // namespace berth::api
