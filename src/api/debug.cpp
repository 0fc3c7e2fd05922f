// /v1/debug/failpoints: arms and disarms the failpoints of a test build (core/failpoint.h);
// a build without them answers not_found. Token required, like every /v1 route.
#include "api/json_body.h"
#include "api/reply.h"
#include "api/resources.h"
#include "core/failpoint.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

json failpoints_json() {
  json armed = json::array();
  for (const auto& a : failpoint::armed()) {
    json j = {{"name", a.name}, {"error", failpoint::errno_name(a.error)}, {"failed", a.failed}};
    j["remaining"] = a.remaining ? json(*a.remaining) : json(nullptr);
    armed.push_back(j);
  }
  json names = json::array();
  for (auto n : failpoint::names()) names.push_back(n);
  return {{"compiled_in", failpoint::compiled_in()}, {"names", names}, {"armed", armed}};
}

http::Response refused(const Error& e) {
  return http::error_response(e.code, e.message);
}

}  // namespace

void add_debug_routes(http::Router& router, Backend&) {
  router.add("GET", "/v1/debug/failpoints", [](http::Request&) -> asio::awaitable<http::Response> {
    co_return ok(failpoints_json());
  });
  // Body {"error": "ENOSPC"} fails every hit; "EIO*2" the next two.
  router.add("PUT", "/v1/debug/failpoints/{name}",
             [](http::Request& req) -> asio::awaitable<http::Response> {
               auto body = read_body(req.body, {{"error", Kind::kString}}, false);
               if (!body) co_return refused(body.error());
               if (!body->contains("error"))
                 co_return http::error_response(Code::kBadRequest,
                                                "expected {\"error\": \"ENOSPC\"} (or \"EIO*2\")");
               auto a = failpoint::parse(req.params["name"], (*body)["error"].get<std::string>());
               if (!a) co_return refused(a.error());
               if (auto r = failpoint::arm(std::move(*a)); !r) co_return refused(r.error());
               co_return ok(failpoints_json());
             });
  router.add("DELETE", "/v1/debug/failpoints/{name}",
             [](http::Request& req) -> asio::awaitable<http::Response> {
               failpoint::disarm(req.params["name"]);
               co_return ok(failpoints_json());
             });
}

}  // namespace berth::api
