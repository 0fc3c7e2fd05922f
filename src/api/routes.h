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
// Every route but /healthz needs `Authorization: Bearer <token>`; returns the 401 to send, or
// nullopt to proceed.
std::optional<http::Response> authorize(const http::Request& req, const std::string& token);
// Maps an Error's stable code to its HTTP status.
int status_for(const std::string& code);

}  // namespace berth::api
