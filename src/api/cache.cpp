// /v1/cache: list, remove and prune the install cache's entries.
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "api/json_body.h"
#include "api/reply.h"
#include "api/resources.h"
#include "cache/install_cache.h"
#include "core/byte_size.h"
#include "core/offload.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;
using http::Request;
using http::Response;

namespace {

// A /v1/cache route. It is refused while the cache is off; its handler walks file trees, so it
// runs on a thread of its own (the request is not touched meanwhile) and builds the response
// there.
using CacheHandler = std::function<Response(InstallCache&, const Request&)>;

void add_cache_route(http::Router& router, Backend& b, const std::string& method,
                     const std::string& path, CacheHandler handler) {
  router.add(method, path, [&b, handler](Request& req) -> asio::awaitable<Response> {
    InstallCache* cache = b.cache();
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
  if (!key) return http::error_response(key.error());
  auto force = req.query.find("force");
  auto gone = cache.remove(*key, force != req.query.end() && force->second != "false");
  if (!gone) return http::error_response(gone.error());
  return ok(gone->to_json());
}

Response cache_prune(InstallCache& cache, const Request& req) {
  auto parsed_body = read_body(req.body, {{"max_size", Kind::kSize}, {"all", Kind::kBool}}, true);
  if (!parsed_body) return http::error_response(parsed_body.error());
  const json& body = *parsed_body;
  uint64_t max = cache.options().max_bytes;
  if (auto m = body.value("max_size", json()); m.is_number_unsigned()) {
    max = m.get<uint64_t>();
  } else if (m.is_string()) {
    auto parsed = parse_byte_size(m.get<std::string>());
    if (!parsed) return http::error_response(parsed.error());
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

}  // namespace

void add_cache_routes(http::Router& router, Backend& b) {
  add_cache_route(router, b, "GET", "/v1/cache", cache_list);
  add_cache_route(router, b, "DELETE", "/v1/cache/{key}", cache_remove);
  add_cache_route(router, b, "POST", "/v1/cache/prune", cache_prune);
}

}  // namespace berth::api
