// /v1/components: list, run in place, status, start/stop/restart, logs (and their follow),
// destroy.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/json_views.h"
#include "api/reply.h"
#include "api/resources.h"
#include "api/sse_follow.h"
#include "cluster/node.h"
#include "core/signals.h"
#include "deploy/deployer.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;
using http::Request;
using http::Response;

namespace {

// The last `n` lines (or those after `resume`), then every new one until the log closes.
Response logs_stream(std::shared_ptr<ComponentApi> c, size_t n, uint64_t resume) {
  Response r;
  r.sse = [c, n, resume](http::SseWriter& w) -> asio::awaitable<void> {
    auto& sink = c->logs();
    uint64_t cursor = resume;
    std::vector<LogLine> first;
    if (!cursor) {
      first = sink.tail(n);
      cursor = first.empty() ? sink.last_seq() : first.front().seq - 1;
    }
    FollowSource src;
    src.next = [&] {
      std::vector<SseEvent> out;
      auto lines = first.empty() ? sink.since(cursor) : std::exchange(first, {});
      for (auto& l : lines) {
        out.push_back({std::to_string(l.seq), "line", compact(line_json(l))});
        cursor = l.seq;
      }
      return out;
    };
    src.ended = [&] { return sink.closed(); };
    src.changed = &sink.changed();
    src.news = [&] { return sink.last_seq() > cursor || sink.closed(); };
    co_await follow(w, src);
  };
  return r;
}

// The keys a run, start or restart body may carry to change the component's environment.
const std::map<std::string, Kind> kEnvFields = {
    {"env", Kind::kStringMap}, {"unset_env", Kind::kStringArray}, {"profile", Kind::kString}};

// `since` and `until` (ms since the epoch) of a logs query; the whole ring when absent.
Result<std::pair<int64_t, int64_t>> log_window(Request& req) {
  std::pair<int64_t, int64_t> w{0, std::numeric_limits<int64_t>::max()};
  for (auto [key, slot] : {std::pair{"since", &w.first}, std::pair{"until", &w.second}}) {
    if (!req.query.contains(key)) continue;
    const std::string& v = req.query[key];
    auto r = std::from_chars(v.data(), v.data() + v.size(), *slot);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || *slot < 0)
      return fail(Code::kBadRequest, fmt::format("{} must be milliseconds since the epoch", key));
  }
  return w;
}

EnvChange env_change(const json& body) {
  EnvChange c;
  if (body.contains("env")) c.set = body["env"].get<std::map<std::string, std::string>>();
  if (body.contains("unset_env")) c.unset = body["unset_env"].get<std::vector<std::string>>();
  if (body.contains("profile")) c.profile = body["profile"].get<std::string>();
  return c;
}

}  // namespace

void add_component_routes(http::Router& router, Backend& b) {
  router.add("GET", "/v1/components",
             [&b](Request&) -> asio::awaitable<Response> { co_return ok(components_body(b)); });

  router.add("POST", "/v1/components", [&b](Request& req) -> asio::awaitable<Response> {
    auto fields = kEnvFields;
    fields.insert({{"dir", Kind::kString},
                   {"name", Kind::kString},
                   {"watch", Kind::kBool},
                   {"command", Kind::kStringArray},
                   {"procfile", Kind::kString}});
    auto body = read_body(req.body, fields, false);
    if (!body) co_return http::error_response(body.error());
    if (!body->contains("dir"))
      co_return http::error_response(Code::kBadRequest, "\"dir\" (an absolute path) is required");
    const auto change = env_change(*body);
    RunSource source;
    if (body->contains("command")) {
      source.argv = (*body)["command"].get<std::vector<std::string>>();
      if (source.argv.empty() || source.argv[0].empty())
        co_return http::error_response(Code::kBadRequest, "\"command\" must not be empty");
    }
    source.procfile = body->value("procfile", "");
    auto c = b.run((*body)["dir"].get<std::string>(), body->value("name", ""),
                   body->value("watch", false), change, source);
    if (!c) co_return http::error_response(c.error());
    if (c->restart)
      if (auto r = co_await c->component->restart(); !r) co_return http::error_response(r.error());
    co_return ok(component_json(status_of(b, *c->component)), 201);
  });

  router.add("GET", "/v1/components/{name}", [&b](Request& req) -> asio::awaitable<Response> {
    auto c = b.find(req.params["name"]);
    if (!c) co_return missing(b, req.params["name"]);
    co_return ok(component_json(status_of(b, *c)));
  });

  // start, stop and restart share one shape; each persists the desired state so the next
  // daemon brings back what was running. Stop records "stopped" first, so a daemon killed
  // mid-stop does not resurrect it; start and restart record "running" once they succeed.
  for (const std::string verb : {"start", "stop", "restart"}) {
    router.add(
        "POST", "/v1/components/{name}/" + verb,
        [&b, verb](Request& req) -> asio::awaitable<Response> {
          auto c = b.find(req.params["name"]);
          if (!c) co_return missing(b, req.params["name"]);
          const bool up = verb != "stop";
          auto body = read_body(req.body, up ? kEnvFields : std::map<std::string, Kind>{}, true);
          if (!body) co_return http::error_response(body.error());
          if (up && b.shutting_down())
            co_return http::error_response(Code::kShuttingDown, "the daemon is shutting down");
          if (verb == "restart" && b.deployer().in_flight(c->name()))
            co_return http::error_response(
                Code::kDeployInProgress,
                "a deploy of \"" + c->name() +
                    "\" is in flight; it restarts the component itself when it ends");
          if (!up) (void)b.set_desired(c->name(), false);
          // Checked (and kept) before anything stops: a restart into a broken .env or an
          // unknown profile answers its error and leaves the running tree alone.
          const EnvChange change = env_change(*body);
          if (up)
            if (auto r = c->change_env(change); !r) co_return http::error_response(r.error());
          // A start with a new environment for a running component is a restart.
          const bool again = verb == "start" && !change.empty() && c->status().pid.has_value();
          Result<void> r;
          if (verb == "start" && !again)
            r = co_await c->start();
          else if (verb == "stop")
            r = co_await c->stop();
          else
            r = co_await c->restart();
          if (!r) co_return http::error_response(r.error());
          if (up) (void)b.set_desired(c->name(), true);
          co_return ok(component_json(status_of(b, *c)));
        });
  }

  // `berth signal`: {"signal": "HUP"} (a name, with or without SIG, or a number), and
  // "leader": true for the tree's first process alone.
  router.add(
      "POST", "/v1/components/{name}/signal", [&b](Request& req) -> asio::awaitable<Response> {
        auto c = b.find(req.params["name"]);
        if (!c) co_return missing(b, req.params["name"]);
        auto body =
            read_body(req.body, {{"signal", Kind::kString}, {"leader", Kind::kBool}}, false);
        if (!body) co_return http::error_response(body.error());
        const auto name = body->value("signal", std::string());
        const auto sig = parse_signal(name);
        if (!sig)
          co_return http::error_response(
              Code::kBadRequest,
              fmt::format("\"{}\" is not a signal; give a name like HUP, USR1 or TERM", name));
        if (auto r = c->signal(*sig, body->value("leader", false)); !r)
          co_return http::error_response(r.error());
        co_return ok(component_json(status_of(b, *c)));
      });

  // `berth scale`: {"instances": N} runs N from now on; {"reset": true} goes back to
  // berth.toml's [run] instances. Answers once the new ones are ready (or the extra ones gone).
  router.add(
      "POST", "/v1/components/{name}/scale", [&b](Request& req) -> asio::awaitable<Response> {
        auto c = b.find(req.params["name"]);
        if (!c) co_return missing(b, req.params["name"]);
        auto body =
            read_body(req.body, {{"instances", Kind::kSize}, {"reset", Kind::kBool}}, false);
        if (!body) co_return http::error_response(body.error());
        const bool reset = body->value("reset", false);
        if (reset == body->contains("instances") || (!reset && !(*body)["instances"].is_number()))
          co_return http::error_response(Code::kBadRequest,
                                         "give either \"instances\": N or \"reset\": true");
        if (b.deployer().in_flight(c->name()))
          co_return http::error_response(
              Code::kDeployInProgress,
              "a deploy of \"" + c->name() + "\" is in flight; scale it once it ended");
        std::optional<int> n;
        if (!reset) {
          const auto want = (*body)["instances"].get<uint64_t>();
          n = static_cast<int>(std::min<uint64_t>(want, 1u << 20));
        }
        if (auto r = co_await c->scale(n); !r) co_return http::error_response(r.error());
        co_return ok(component_json(status_of(b, *c)));
      });

  router.add("GET", "/v1/components/{name}/logs", [&b](Request& req) -> asio::awaitable<Response> {
    auto c = b.find(req.params["name"]);
    if (!c) co_return missing(b, req.params["name"]);
    auto n = query_number(req, "n", 100);
    if (!n) co_return http::error_response(Code::kBadRequest, "n must be a non-negative integer");
    if (req.query.contains("follow") && req.query["follow"] != "0") {
      auto resume = resume_after(req);
      if (!resume) co_return bad_event_id();
      co_return logs_stream(c, *n, *resume);
    }
    auto window = log_window(req);
    if (!window) co_return http::error_response(window.error());
    json lines = json::array();
    for (auto& l : c->logs().tail(*n, window->first, window->second)) lines.push_back(line_json(l));
    co_return ok({{"name", c->name()}, {"lines", lines}});
  });

  // Every component's recent lines in one list, oldest first, each naming its component.
  router.add("GET", "/v1/logs", [&b](Request& req) -> asio::awaitable<Response> {
    auto n = query_number(req, "n", 100);
    if (!n) co_return http::error_response(Code::kBadRequest, "n must be a non-negative integer");
    auto window = log_window(req);
    if (!window) co_return http::error_response(window.error());
    std::vector<std::pair<std::string, LogLine>> all;
    for (auto& c : b.components())
      for (auto& l : c->logs().tail(*n, window->first, window->second))
        all.emplace_back(c->name(), l);
    std::stable_sort(all.begin(), all.end(),
                     [](auto& a, auto& b) { return a.second.ts_ms < b.second.ts_ms; });
    if (all.size() > *n) all.erase(all.begin(), all.end() - static_cast<long>(*n));
    json lines = json::array();
    for (auto& [name, l] : all) {
      auto j = line_json(l);
      j["component"] = name;
      lines.push_back(j);
    }
    co_return ok({{"lines", lines}});
  });

  router.add("DELETE", "/v1/components/{name}", [&b](Request& req) -> asio::awaitable<Response> {
    auto r = co_await b.destroy(req.params["name"]);
    if (!r) co_return http::error_response(r.error());
    json out = {{"name", req.params["name"]}, {"destroyed", true}, {"already", r->already}};
    if (b.cluster()) out["nodes"] = json::parse(cluster::peer_results_json(r->peers));
    co_return ok(out);
  });
}

}  // namespace berth::api
