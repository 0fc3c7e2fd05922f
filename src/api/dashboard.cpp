// The dashboard: its page and assets (compiled in, api/dashboard_assets.h), signing in with the
// token (/v1/session: an HttpOnly, SameSite=Strict cookie and a CSRF token) and the live
// stream the page draws from (/v1/events).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "api/dashboard_assets.h"
#include "api/json_body.h"
#include "api/json_views.h"
#include "api/reply.h"
#include "api/resources.h"
#include "deploy/deployer.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;
using http::Request;
using http::Response;

namespace {

// No inline script or style, nothing from elsewhere, never framed: what the page needs and no
// more, so an injected <script> or a stray third-party tag cannot run.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

Response asset(const Asset& a) {
  Response r{200, std::string(a.body), std::string(a.content_type)};
  r.headers = {{"Content-Security-Policy", kPolicy},
               {"X-Content-Type-Options", "nosniff"},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-cache"}};
  return r;
}

// How often the live stream looks for changes, and the longest quiet before a `: ping`.
constexpr auto kTick = std::chrono::seconds(1);
constexpr auto kPing = std::chrono::seconds(15);
constexpr size_t kRecentDeployments = 20;

// `components` (as GET /v1/components), `deployments` (the newest 20, as GET
// /v1/deployments) and in a cluster `nodes` (as GET /v1/nodes) events, each sent at once and
// then whenever it changed, looked at every second, until the client goes away or the daemon
// stops.
Response live_events(Backend& b) {
  Response r;
  r.sse = [&b](http::SseWriter& w) -> asio::awaitable<void> {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    // Each feed with what it sent last (a named array: GCC 12 mishandles a braced list's
    // temporaries held across co_await).
    struct Feed {
      const char* type;
      std::string sent;
    };
    Feed feeds[] = {{"components", ""}, {"deployments", ""}, {"nodes", ""}};
    auto quiet_since = std::chrono::steady_clock::now();
    while (!b.shutting_down()) {
      auto rows = b.deployer().repo().list("", kRecentDeployments);
      std::string now[] = {compact(components_body(b)),
                           rows ? compact(deployments_body(*rows)) : feeds[1].sent,
                           b.cluster() ? compact(nodes_json(*b.cluster(), b)) : ""};
      bool sent = false;
      for (size_t i = 0; i < std::size(feeds); ++i) {
        if (now[i] == feeds[i].sent) continue;
        if (!co_await w.event("", feeds[i].type, now[i])) co_return;
        feeds[i].sent = std::move(now[i]);
        sent = true;
      }
      if (sent) {
        if (!co_await w.flush()) co_return;
        quiet_since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - quiet_since >= kPing) {
        if (!co_await w.comment("ping")) co_return;  // finds a client that went away
        quiet_since = std::chrono::steady_clock::now();
      }
      tick.expires_after(kTick);
      co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  };
  return r;
}

Response signed_in(Sessions& sessions, const Sessions::Opened& s) {
  Response r = ok({{"csrf", s.csrf}});
  r.headers = {{"Set-Cookie", sessions.set_cookie(s.id)}, {"Cache-Control", "no-store"}};
  return r;
}

}  // namespace

void add_dashboard_routes(http::Router& router, Backend& b, Sessions& sessions) {
  router.add("GET", "/", [](Request&) -> asio::awaitable<Response> {
    co_return asset(*find_asset("index.html"));
  });
  router.add("GET", "/favicon.ico", [](Request&) -> asio::awaitable<Response> {
    co_return asset(*find_asset("icon.svg"));
  });
  router.add("GET", "/assets/{file}", [](Request& req) -> asio::awaitable<Response> {
    const Asset* a = find_asset(req.params["file"]);
    if (!a || a->name == "index.html")
      co_return http::error_response(Code::kNotFound, "no asset " + req.params["file"]);
    co_return asset(*a);
  });

  // Sign in: {"token": "..."} answers {"csrf"} and sets the session cookie. Wrong tokens are
  // counted per address; past a few the address waits, doubling each time (429, Retry-After).
  router.add("POST", "/v1/session", [&sessions](Request& req) -> asio::awaitable<Response> {
    const auto now = Sessions::Clock::now();
    if (auto wait = sessions.wait_before_attempt(req.remote, now); wait.count() > 0) {
      Response r = http::error_response(
          Code::kRateLimited, "too many wrong tokens from " + req.remote + "; try again in " +
                                  std::to_string(wait.count()) + " s");
      r.headers = {{"Retry-After", std::to_string(wait.count())}};
      co_return r;
    }
    if (!req.content_type.starts_with("application/json"))
      co_return http::error_response(Code::kBadRequest,
                                     "sign in with a JSON body {\"token\": \"...\"}");
    auto body = read_body(req.body, {{"token", Kind::kString}}, false);
    if (!body) co_return http::error_response(body.error());
    if (!sessions.right_token(body->value("token", ""))) {
      sessions.attempt_failed(req.remote, now);
      co_return http::error_response(
          Code::kUnauthorized, "wrong token (it is in $BERTH_HOME/token on the daemon's host)");
    }
    sessions.attempt_succeeded(req.remote);
    co_return signed_in(sessions, sessions.open(now));
  });
  // The session's CSRF token again (a reloaded page has the cookie, not the token).
  router.add("GET", "/v1/session", [&sessions](Request& req) -> asio::awaitable<Response> {
    auto csrf = sessions.csrf_of(req.cookie, Sessions::Clock::now());
    if (!csrf) co_return http::error_response(Code::kUnauthorized, "no dashboard session");
    Response r = ok({{"csrf", *csrf}});
    r.headers = {{"Cache-Control", "no-store"}};
    co_return r;
  });
  router.add("DELETE", "/v1/session", [&sessions](Request& req) -> asio::awaitable<Response> {
    sessions.close(req.cookie);
    Response r = ok({{"signed_out", true}});
    r.headers = {{"Set-Cookie", sessions.clear_cookie()}};
    co_return r;
  });

  router.add("GET", "/v1/events",
             [&b](Request&) -> asio::awaitable<Response> { co_return live_events(b); });
}

}  // namespace berth::api
