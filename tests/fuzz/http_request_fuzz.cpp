// A request head from anyone who can reach the port: Beast parses it under the server's own
// limits, berth turns it into a Request, authorizes it and routes it through the real route
// table. Never a crash; a route found has every {param} filled; a refusal is 401 or 403 from
// the gate, 404 or 405 from the router.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>

#include "api/routes.h"
#include "fuzz_input.h"
#include "http/request_head.h"
#include "http/server.h"

namespace {

namespace bhttp = boost::beast::http;

// Routing never calls the backend: registering the routes only captures it.
struct NoBackend final : berth::api::Backend {
  std::vector<std::shared_ptr<berth::api::ComponentApi>> components() const override { return {}; }
  std::shared_ptr<berth::api::ComponentApi> find(const std::string&) const override {
    return nullptr;
  }
  bool tombstoned(const std::string&) const override { return false; }
  berth::Result<RunOutcome> run(const std::string&, const std::string&, bool,
                                const berth::EnvChange&, const berth::RunSource&) override {
    std::abort();
  }
  berth::Result<void> set_desired(const std::string&, bool) override { std::abort(); }
  boost::asio::awaitable<berth::Result<berth::api::DestroyReport>> destroy(
      const std::string&) override {
    std::abort();
  }
  boost::asio::awaitable<berth::api::ReconcileReport> reconcile(
      const std::set<std::string>&) override {
    std::abort();
  }
  berth::Deployer& deployer() override { std::abort(); }
  berth::InstallCache* cache() override { return nullptr; }
  berth::cluster::Node* cluster() override { return nullptr; }
  berth::api::Health health() const override { return {}; }
  void request_shutdown() override {}
  bool shutting_down() const override { return false; }
};

// One signed-in session, so that the cookie and CSRF paths of the gate are reached too.
berth::api::Sessions& sessions() {
  static berth::api::Sessions s("token", false);
  static const bool opened = (s.open(berth::api::Sessions::Clock::now()), true);
  (void)opened;
  return s;
}

const berth::http::Router& routes() {
  static NoBackend backend;
  static const berth::http::Router router = [] {
    berth::http::Router r;
    berth::api::register_routes(r, backend, sessions());
    return r;
  }();
  return router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const berth::http::ServerLimits limits;
  bhttp::request_parser<bhttp::empty_body> head;
  head.header_limit(limits.header_limit);
  head.body_limit(std::max(limits.body_limit, limits.upload_limit));
  boost::beast::error_code ec;
  boost::asio::const_buffer rest(data, size);
  while (rest.size() > 0 && !head.is_header_done() && !ec) {
    const size_t used = head.put(rest, ec);
    if (used == 0 && !ec) break;  // needs more bytes than there are
    rest += used;
  }
  if (ec || !head.is_header_done()) return 0;
  berth::http::Request req = berth::http::to_request(head.get());
  auto verdict = berth::api::authorize(req, {"token", "secret", false, &sessions()});
  if (verdict.refusal) FUZZ_CHECK(verdict.refusal->status == 401 || verdict.refusal->status == 403);
  berth::http::Response refusal;
  if (const auto* route = routes().find(req, refusal)) {
    FUZZ_CHECK(route->method == req.method);
    for (const auto& [name, value] : req.params) FUZZ_CHECK(!value.empty());
  } else {
    FUZZ_CHECK(refusal.status == 404 || refusal.status == 405);
  }
  return 0;
}
