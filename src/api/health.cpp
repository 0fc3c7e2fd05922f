// GET /healthz (no token needed) and POST /v1/shutdown.
#include <unistd.h>

#include "api/json_views.h"
#include "api/reply.h"
#include "api/resources.h"

namespace berth::api {
namespace asio = boost::asio;

void add_health_routes(http::Router& router, Backend& b) {
  router.add("GET", "/healthz", [&b](http::Request&) -> asio::awaitable<http::Response> {
    co_return ok(health_json(b.health()));
  });
  router.add("POST", "/v1/shutdown", [&b](http::Request&) -> asio::awaitable<http::Response> {
    b.request_shutdown();
    co_return ok({{"ok", true}, {"pid", ::getpid()}});
  });
}

}  // namespace berth::api
