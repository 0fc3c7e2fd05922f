#include "api/routes.h"

#include <boost/asio/this_coro.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "api/json_body.h"
#include "core/byte_size.h"
#include "core/offload.h"
#include "host/host.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;
using http::Request;
using http::Response;

namespace {

// Process output is arbitrary bytes: invalid UTF-8 becomes U+FFFD instead of an exception.
std::string compact(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}
std::string dump(const json& j) {
  return compact(j) + "\n";
}
const std::string kLineEvent = "line";

Response ok(const json& j, int status = 200) {
  return Response{status, dump(j)};
}

Response from_error(const Error& e) {
  return http::error_response(e);
}

// 410 for a destroyed name (it has no side effect and never brings anything back), else 404.
Response missing(const Host& host, const std::string& name) {
  if (host.tombstoned(name))
    return http::error_response(
        Code::kComponentDestroyed,
        "component \"" + name + "\" was destroyed; deploy or run it again to bring it back");
  return http::error_response(Code::kNotFound, "no component named \"" + name + "\"");
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// A non-negative integer query parameter; `fallback` when absent, nullopt when malformed.
std::optional<uint64_t> query_number(const Request& req, const std::string& key,
                                     uint64_t fallback) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return fallback;
  try {
    size_t used = 0;
    uint64_t v = std::stoull(it->second, &used);
    if (used == it->second.size() && !it->second.starts_with('-')) return v;
  } catch (...) {
  }
  return std::nullopt;
}

// Where an event stream resumes: after the Last-Event-ID the client sent, else from the start;
// nullopt when it is not a non-negative integer that fits (a negative one used to skip the
// backlog and an overflowing one to replay everything).
std::optional<uint64_t> resume_after(const Request& req) {
  const std::string& s = req.last_event_id;
  if (s.empty()) return 0;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Response bad_event_id() {
  return http::error_response(Code::kBadRequest, "Last-Event-ID must be a non-negative integer");
}

json line_json(const LogLine& l) {
  return {{"seq", l.seq}, {"ts", l.ts_ms}, {"stream", to_string(l.stream)}, {"text", l.text}};
}

Response logs_stream(std::shared_ptr<Component> c, size_t n, uint64_t resume) {
  Response r;
  r.sse = [c, n, resume](http::SseWriter& w) -> asio::awaitable<void> {
    auto& sink = c->logs();
    uint64_t cursor = resume;
    if (!cursor) {
      auto tail = sink.tail(n);
      for (auto& l : tail) {
        const std::string id = std::to_string(l.seq), data = compact(line_json(l));
        if (!co_await w.event(id, kLineEvent, data)) co_return;
      }
      cursor = tail.empty() ? sink.last_seq() : tail.back().seq;
    }
    const std::function<bool()> news = [&] { return sink.last_seq() > cursor || sink.closed(); };
    for (;;) {
      auto lines = sink.since(cursor);
      for (auto& l : lines) {
        const std::string id = std::to_string(l.seq), data = compact(line_json(l));
        if (!co_await w.event(id, kLineEvent, data)) co_return;
        cursor = l.seq;
      }
      if (sink.closed()) co_return;
      if (!co_await w.flush()) co_return;
      bool more = co_await sink.changed().wait_until(
          news, std::chrono::steady_clock::now() + std::chrono::seconds(15));
      static const std::string kPing = "ping";
      if (!more && !co_await w.comment(kPing)) co_return;
    }
  };
  return r;
}

json deployment_json(const DeploymentRow& r) {
  json j = {{"id", r.id},
            {"component", r.component},
            {"kind", r.kind},
            {"release", r.release},
            {"previous", r.previous ? json(*r.previous) : json()},
            {"digest", r.digest ? json("sha256:" + *r.digest) : json()},
            {"size", r.size},
            {"status", r.status},
            {"phase", r.phase},
            {"created_at", r.created_at},
            {"updated_at", r.updated_at},
            {"ended_at", r.ended_at ? json(*r.ended_at) : json()},
            {"error", json()},
            {"peer_results", json::parse(r.peer_results, nullptr, false)},
            {"install", r.install.empty() ? json() : json::parse(r.install, nullptr, false)}};
  if (r.error)
    j["error"] = {{"code", r.error->code}, {"message", r.error->message}, {"phase", r.error_phase}};
  return j;
}

// Replays the stored events after `cursor`, then follows live ones until the deployment ends.
// Events capped away at rest show up as one `gap` event saying how many were dropped.
Response deployment_events(Deployer& deployer, std::string id, int64_t cursor) {
  Response r;
  r.sse = [&deployer, id, cursor](http::SseWriter& w) mutable -> asio::awaitable<void> {
    auto log = deployer.live_log(id);
    auto following = log ? log->follow() : nullptr;
    const std::function<bool()> news = [&] { return log->last_seq() > cursor || log->ended(); };
    for (;;) {
      std::vector<EventRow> batch;
      if (log) {
        batch = log->after(cursor, 512);
      } else if (auto rows = deployer.repo().events_after(id, cursor, 512)) {
        batch = std::move(*rows);
      }
      for (auto& e : batch) {
        if (e.seq > cursor + 1 && cursor > 0) {
          const std::string gap = compact({{"type", "gap"}, {"dropped", e.seq - cursor - 1}});
          static const std::string kGap = "gap";
          static const std::string kNoId;
          if (!co_await w.event(kNoId, kGap, gap)) co_return;
        }
        const std::string sid = std::to_string(e.seq);
        if (!co_await w.event(sid, e.type, e.data)) co_return;
        cursor = e.seq;
      }
      if (!batch.empty()) continue;
      if (!log || log->ended()) co_return;
      if (!co_await w.flush()) co_return;
      bool more = co_await log->changed().wait_until(
          news, std::chrono::steady_clock::now() + std::chrono::seconds(15));
      static const std::string kPing = "ping";
      if (!more && !co_await w.comment(kPing)) co_return;
    }
  };
  return r;
}

}  // namespace

http::Verdict authorize(const Request& req, const std::string& token) {
  const std::string prefix = "Bearer ";
  const bool right = req.authorization.starts_with(prefix) &&
                     constant_time_equal(req.authorization.substr(prefix.size()), token);
  if (right || req.path == "/healthz") return {std::nullopt, right};
  if (req.authorization.empty())
    return {http::error_response(
        Code::kUnauthorized,
        "missing Authorization: Bearer <token> (the token is in $BERTH_HOME/token)")};
  return {http::error_response(Code::kUnauthorized, "wrong bearer token")};
}

namespace {

// A /v1/cache route. It is refused while the cache is off; its handler walks file trees, so it
// runs on a thread of its own (the request is not touched meanwhile) and builds the response
// there.
using CacheHandler = std::function<Response(InstallCache&, const Request&)>;

void add_cache_route(http::Router& router, Host& host, const std::string& method,
                     const std::string& path, CacheHandler handler) {
  router.add(method, path, [&host, handler](Request& req) -> asio::awaitable<Response> {
    InstallCache* cache = host.cache();
    if (!cache)
      co_return http::error_response(Code::kCacheOff,
                                     "the install cache is off (see [cache] in config.toml and "
                                     "the daemon log)");
    asio::thread_pool worker(1);
    auto work = [cache, &req, &handler] { return handler(*cache, req); };
    co_return co_await offload(worker, std::move(work));
  });
}

Response cache_list(InstallCache& cache, const Request&) {
  json out = json::array();
  uint64_t bytes = 0;
  for (auto& e : cache.list()) {
    bytes += e.bytes;
    out.push_back(e.to_json());
  }
  return ok({{"dir", cache.options().dir.string()},
             {"lock", cache.locks().name()},
             {"max_bytes", cache.options().max_bytes},
             {"bytes", bytes},
             {"entries", out}});
}

Response cache_remove(InstallCache& cache, const Request& req) {
  auto key = cache.resolve(req.params.at("key"));
  if (!key) return from_error(key.error());
  auto force = req.query.find("force");
  auto gone = cache.remove(*key, force != req.query.end() && force->second != "false");
  if (!gone) return from_error(gone.error());
  return ok(gone->to_json());
}

Response cache_prune(InstallCache& cache, const Request& req) {
  auto parsed_body = read_body(req.body, {{"max_size", Kind::kSize}, {"all", Kind::kBool}}, true);
  if (!parsed_body) return from_error(parsed_body.error());
  const json& body = *parsed_body;
  uint64_t max = cache.options().max_bytes;
  if (auto m = body.value("max_size", json()); m.is_number_unsigned()) {
    max = m.get<uint64_t>();
  } else if (m.is_string()) {
    auto parsed = parse_byte_size(m.get<std::string>());
    if (!parsed) return from_error(parsed.error());
    max = *parsed;
  } else if (!m.is_null()) {
    return http::error_response(Code::kBadSize, "max_size: expected a size like \"2GiB\"");
  }
  auto r = cache.prune(max, body.value("all", false));
  return ok({{"removed", r.removed},
             {"kept_in_use", r.kept_in_use},
             {"freed_bytes", r.freed_bytes},
             {"remaining_bytes", r.remaining_bytes},
             {"partials_swept", r.partials_swept}});
}

void register_cache_routes(http::Router& router, Host& host) {
  add_cache_route(router, host, "GET", "/v1/cache", cache_list);
  add_cache_route(router, host, "DELETE", "/v1/cache/{key}", cache_remove);
  add_cache_route(router, host, "POST", "/v1/cache/prune", cache_prune);
}

}  // namespace

void register_routes(http::Router& router, Host& host) {
  router.add("GET", "/healthz",
             [&host](Request&) -> asio::awaitable<Response> { co_return ok(host.health()); });

  router.add("GET", "/v1/components", [&host](Request&) -> asio::awaitable<Response> {
    json list = json::array();
    for (auto& [name, c] : host.components()) list.push_back(c->status());
    co_return ok({{"components", list}});
  });

  router.add("POST", "/v1/components", [&host](Request& req) -> asio::awaitable<Response> {
    auto body = read_body(
        req.body, {{"dir", Kind::kString}, {"name", Kind::kString}, {"watch", Kind::kBool}}, false);
    if (!body) co_return from_error(body.error());
    if (!body->contains("dir"))
      co_return http::error_response(Code::kBadRequest, "\"dir\" (an absolute path) is required");
    auto c = host.run_component((*body)["dir"].get<std::string>(), body->value("name", ""),
                                body->value("watch", false));
    if (!c) co_return from_error(c.error());
    co_return ok((*c)->status(), 201);
  });

  router.add("GET", "/v1/components/{name}", [&host](Request& req) -> asio::awaitable<Response> {
    auto c = host.find(req.params["name"]);
    if (!c) co_return missing(host, req.params["name"]);
    co_return ok(c->status());
  });

  // start, stop and restart share one shape; each persists the desired state so the next
  // daemon brings back what was running. Stop records "stopped" first, so a daemon killed
  // mid-stop does not resurrect it; start and restart record "running" once they succeed.
  for (const std::string verb : {"start", "stop", "restart"}) {
    router.add("POST", "/v1/components/{name}/" + verb,
               [&host, verb](Request& req) -> asio::awaitable<Response> {
                 auto c = host.find(req.params["name"]);
                 if (!c) co_return missing(host, req.params["name"]);
                 const bool up = verb != "stop";
                 if (up && host.shutting_down())
                   co_return http::error_response(Code::kShuttingDown,
                                                  "the daemon is shutting down");
                 if (verb == "restart" && host.deployer().in_flight(c->name()))
                   co_return http::error_response(
                       Code::kDeployInProgress,
                       "a deploy of \"" + c->name() +
                           "\" is in flight; it restarts the component itself when it ends");
                 if (!up) (void)host.set_desired(c->name(), false);
                 Result<void> r;
                 if (verb == "start")
                   r = co_await c->start();
                 else if (verb == "stop")
                   r = co_await c->stop();
                 else
                   r = co_await c->restart();
                 if (!r) co_return from_error(r.error());
                 if (up) (void)host.set_desired(c->name(), true);
                 co_return ok(c->status());
               });
  }

  router.add(
      "GET", "/v1/components/{name}/logs", [&host](Request& req) -> asio::awaitable<Response> {
        auto c = host.find(req.params["name"]);
        if (!c) co_return missing(host, req.params["name"]);
        auto n = query_number(req, "n", 100);
        if (!n)
          co_return http::error_response(Code::kBadRequest, "n must be a non-negative integer");
        if (req.query.contains("follow") && req.query["follow"] != "0") {
          auto resume = resume_after(req);
          if (!resume) co_return bad_event_id();
          co_return logs_stream(c, *n, *resume);
        }
        json lines = json::array();
        for (auto& l : c->logs().tail(*n)) lines.push_back(line_json(l));
        co_return ok({{"name", c->name()}, {"lines", lines}});
      });

  router.add_upload("PUT", "/v1/components/{name}",
                    [&host](Request& req, http::BodyReader& body) -> asio::awaitable<Response> {
                      auto row = co_await host.deployer().receive(req.params["name"], body);
                      if (!row) co_return from_error(row.error());
                      co_return ok(deployment_json(*row), 202);
                    });

  router.add("POST", "/v1/components/{name}/rollback",
             [&host](Request& req) -> asio::awaitable<Response> {
               auto body = read_body(req.body, {{"to", Kind::kString}}, true);
               if (!body) co_return from_error(body.error());
               const std::string to = body->value("to", "");
               if (host.tombstoned(req.params["name"])) co_return missing(host, req.params["name"]);
               auto row = host.deployer().rollback(req.params["name"], to);
               if (!row) co_return from_error(row.error());
               co_return ok(deployment_json(*row), 202);
             });

  router.add("GET", "/v1/deployments", [&host](Request& req) -> asio::awaitable<Response> {
    auto limit = query_number(req, "limit", 50);
    if (!limit || *limit == 0)
      co_return http::error_response(Code::kBadRequest, "limit must be a positive integer");
    if (!req.query["component"].empty() && host.tombstoned(req.query["component"]))
      co_return missing(host, req.query["component"]);
    auto rows = host.deployer().repo().list(req.query["component"], *limit);
    if (!rows) co_return from_error(rows.error());
    json list = json::array();
    for (auto& r : *rows) list.push_back(deployment_json(r));
    co_return ok({{"deployments", list}});
  });

  router.add("GET", "/v1/deployments/{id}", [&host](Request& req) -> asio::awaitable<Response> {
    auto row = host.deployer().repo().get(req.params["id"]);
    if (!row) co_return from_error(row.error());
    if (!*row) co_return http::error_response(Code::kNotFound, "no deployment " + req.params["id"]);
    if (host.tombstoned((*row)->component)) co_return missing(host, (*row)->component);
    co_return ok(deployment_json(**row));
  });

  router.add(
      "GET", "/v1/deployments/{id}/events", [&host](Request& req) -> asio::awaitable<Response> {
        auto row = host.deployer().repo().get(req.params["id"]);
        if (!row) co_return from_error(row.error());
        if (!*row)
          co_return http::error_response(Code::kNotFound, "no deployment " + req.params["id"]);
        if (host.tombstoned((*row)->component)) co_return missing(host, (*row)->component);
        auto resume = resume_after(req);
        if (!resume || *resume > static_cast<uint64_t>(INT64_MAX)) co_return bad_event_id();
        co_return deployment_events(host.deployer(), req.params["id"],
                                    static_cast<int64_t>(*resume));
      });

  router.add("DELETE", "/v1/components/{name}", [&host](Request& req) -> asio::awaitable<Response> {
    auto r = co_await host.destroy(req.params["name"]);
    if (!r) co_return from_error(r.error());
    co_return ok({{"name", req.params["name"]}, {"destroyed", true}, {"already", r->already}});
  });

  router.add("POST", "/v1/reconcile", [&host](Request& req) -> asio::awaitable<Response> {
    auto body = read_body(req.body, {{"live", Kind::kStringArray}}, false);
    if (!body) co_return from_error(body.error());
    if (!body->contains("live"))
      co_return http::error_response(Code::kBadRequest, "expected {\"live\": [\"name\", ...]}");
    std::set<std::string> live;
    for (auto& n : (*body)["live"]) live.insert(n.get<std::string>());
    auto r = co_await host.reconcile(live);
    json kept = json::array(), failed = json::array();
    for (auto& [n, why] : r.kept) kept.push_back({{"name", n}, {"why", why}});
    for (auto& [n, why] : r.failed) failed.push_back({{"name", n}, {"error", why}});
    co_return ok(
        {{"dropped", r.dropped}, {"kept", kept}, {"healed", r.healed}, {"failed", failed}});
  });

  register_cache_routes(router, host);

  router.add("POST", "/v1/shutdown", [&host](Request&) -> asio::awaitable<Response> {
    host.request_shutdown();
    co_return ok({{"ok", true}, {"pid", ::getpid()}});
  });
}

}  // namespace berth::api
