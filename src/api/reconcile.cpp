// POST /v1/reconcile: converge on a live set (lesson 2; the cluster calls the same on every
// reconnect).
#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/reply.h"
#include "api/resources.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;

void add_reconcile_routes(http::Router& router, Backend& b) {
  router.add("POST", "/v1/reconcile", [&b](http::Request& req) -> asio::awaitable<http::Response> {
    auto body = read_body(req.body, {{"live", Kind::kStringArray}}, false);
    if (!body) co_return http::error_response(body.error());
    if (!body->contains("live"))
      co_return http::error_response(Code::kBadRequest, "expected {\"live\": [\"name\", ...]}");
    std::set<std::string> live;
    for (auto& n : (*body)["live"]) live.insert(n.get<std::string>());
    auto r = co_await b.reconcile(live);
    json kept = json::array(), failed = json::array();
    for (auto& [n, why] : r.kept) kept.push_back({{"name", n}, {"why", why}});
    for (auto& [n, why] : r.failed) failed.push_back({{"name", n}, {"error", why}});
    co_return ok(
        {{"dropped", r.dropped}, {"kept", kept}, {"healed", r.healed}, {"failed", failed}});
  });
}

}  // namespace berth::api
