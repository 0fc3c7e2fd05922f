// berth's HTTP API: the resources (components, logs, health, shutdown) and bearer-token auth.
#pragma once
#include <optional>
#include <string>

#include "http/message.h"
#include "http/router.h"

namespace berth {
class Host;
}

namespace berth::api {

void register_routes(http::Router& router, Host& host);
// Every route but /healthz needs `Authorization: Bearer <token>`: the verdict holds the 401 to
// send, or none to proceed; it is `trusted` when the request carried the right token.
http::Verdict authorize(const http::Request& req, const std::string& token);

}  // namespace berth::api
