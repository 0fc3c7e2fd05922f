// Deploys: the upload (PUT /v1/components/{name}), rollback, and /v1/deployments with each
// deployment's event stream.
#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/json_views.h"
#include "api/reply.h"
#include "api/resources.h"
#include "api/sse_follow.h"
#include "deploy/deployer.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;
using http::Request;
using http::Response;

namespace {

// Replays the stored events after `cursor`, then follows live ones until the deployment ends.
// Events capped away at rest show up as one `gap` event saying how many were dropped.
Response deployment_events(Deployer& deployer, std::string id, int64_t cursor) {
  Response r;
  r.sse = [&deployer, id, cursor](http::SseWriter& w) mutable -> asio::awaitable<void> {
    auto log = deployer.live_log(id);
    auto following = log ? log->follow() : nullptr;
    FollowSource src;
    src.next = [&] {
      std::vector<EventRow> batch;
      if (log) {
        batch = log->after(cursor, 512);
      } else if (auto rows = deployer.repo().events_after(id, cursor, 512)) {
        batch = std::move(*rows);
      }
      std::vector<SseEvent> out;
      for (auto& e : batch) {
        if (e.seq > cursor + 1 && cursor > 0)
          out.push_back({"", "gap", compact({{"type", "gap"}, {"dropped", e.seq - cursor - 1}})});
        out.push_back({std::to_string(e.seq), e.type, std::move(e.data)});
        cursor = e.seq;
      }
      return out;
    };
    src.ended = [&] { return !log || log->ended(); };
    if (log) {
      src.changed = &log->changed();
      src.news = [&] { return log->last_seq() > cursor || log->ended(); };
    }
    co_await follow(w, src);
  };
  return r;
}

}  // namespace

void add_deployment_routes(http::Router& router, Backend& b) {
  // ?env={"env": {...}, "unset_env": [...], "profile": "..."}: deploy --env/--profile (the body
  // is the payload, so the change travels in the query).
  router.add_upload("PUT", "/v1/components/{name}",
                    [&b](Request& req, http::BodyReader& body) -> asio::awaitable<Response> {
                      EnvChange env;
                      if (req.query.contains("env")) {
                        auto j = read_body(req.query["env"],
                                           {{"env", Kind::kStringMap},
                                            {"unset_env", Kind::kStringArray},
                                            {"profile", Kind::kString}},
                                           false);
                        if (!j) co_return http::error_response(j.error());
                        if (j->contains("env"))
                          env.set = (*j)["env"].get<std::map<std::string, std::string>>();
                        if (j->contains("unset_env"))
                          env.unset = (*j)["unset_env"].get<std::vector<std::string>>();
                        if (j->contains("profile"))
                          env.profile = (*j)["profile"].get<std::string>();
                      }
                      auto row = co_await b.deployer().receive(req.params["name"], body, env);
                      if (!row) co_return http::error_response(row.error());
                      co_return ok(deployment_json(*row), 202);
                    });

  router.add("POST", "/v1/components/{name}/rollback",
             [&b](Request& req) -> asio::awaitable<Response> {
               auto body = read_body(req.body, {{"to", Kind::kString}}, true);
               if (!body) co_return http::error_response(body.error());
               if (b.tombstoned(req.params["name"])) co_return missing(b, req.params["name"]);
               auto row = b.deployer().rollback(req.params["name"], body->value("to", ""));
               if (!row) co_return http::error_response(row.error());
               co_return ok(deployment_json(*row), 202);
             });

  router.add("GET", "/v1/deployments", [&b](Request& req) -> asio::awaitable<Response> {
    auto limit = query_number(req, "limit", 50);
    if (!limit || *limit == 0)
      co_return http::error_response(Code::kBadRequest, "limit must be a positive integer");
    if (!req.query["component"].empty() && b.tombstoned(req.query["component"]))
      co_return missing(b, req.query["component"]);
    auto rows = b.deployer().repo().list(req.query["component"], *limit);
    if (!rows) co_return http::error_response(rows.error());
    co_return ok(deployments_body(*rows));
  });

  // The deployment and its event stream answer alike for an unknown or destroyed one.
  auto find = [&b](const std::string& id) -> Result<DeploymentRow> {
    auto row = b.deployer().repo().get(id);
    BERTH_TRY(row);
    if (!*row) return fail(Code::kNotFound, "no deployment " + id);
    if (b.tombstoned((*row)->component))
      return fail(Code::kComponentDestroyed,
                  "component \"" + (*row)->component + "\" was destroyed");
    return **row;
  };

  router.add("GET", "/v1/deployments/{id}", [find](Request& req) -> asio::awaitable<Response> {
    auto row = find(req.params["id"]);
    if (!row) co_return http::error_response(row.error());
    co_return ok(deployment_json(*row));
  });

  http::Handler events = [&b, find](Request& req) -> asio::awaitable<Response> {
    auto row = find(req.params["id"]);
    if (!row) co_return http::error_response(row.error());
    auto resume = resume_after(req, INT64_MAX);
    if (!resume) co_return bad_event_id();
    co_return deployment_events(b.deployer(), req.params["id"], static_cast<int64_t>(*resume));
  };
  router.add("GET", "/v1/deployments/{id}/events", events);
  // The same stream for an origin following its peers (the cluster secret's route).
  router.add("GET", "/v1/cluster/deployments/{id}/events", events);
}

}  // namespace berth::api
