// GET /v1/nodes (every node of the cluster, up or down) and the node-to-node routes
// GET /v1/cluster/blobs/{digest} (a payload for a peer) and GET /v1/cluster/cache/{key} (an
// install cache entry's pack); api::authorize admits only the cluster secret on those.
#include <fcntl.h>
#include <sys/stat.h>

#include "api/json_views.h"
#include "api/reply.h"
#include "api/resources.h"
#include "cache/install_cache.h"
#include "cluster/node.h"

namespace berth::api {
namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

http::Response not_in_cluster() {
  return http::error_response(Code::kNotInCluster,
                              "this daemon is not in a cluster ([cluster] etcd is not set)");
}

bool is_digest(const std::string& d) {
  return d.size() == 64 && d.find_first_not_of("0123456789abcdef") == std::string::npos;
}

http::Response busy() {
  return http::error_response(Code::kBusy,
                              "this node serves too many payloads at once; try another holder");
}

// `fd` as the body; the serving slot goes when the server drops the file, after the last byte.
http::Response send_file(UniqueFd fd, std::shared_ptr<void> slot) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return http::error_response(Code::kIoError, errno_message("fstat", errno));
  http::Response r;
  r.content_type = "application/octet-stream";
  r.file =
      std::shared_ptr<UniqueFd>(new UniqueFd(std::move(fd)), [slot](UniqueFd* f) { delete f; });
  r.file_size = static_cast<uint64_t>(st.st_size);
  return r;
}

}  // namespace

void add_cluster_routes(http::Router& router, Backend& b) {
  router.add("GET", "/v1/nodes", [&b](http::Request&) -> asio::awaitable<http::Response> {
    auto* node = b.cluster();
    if (!node) co_return not_in_cluster();
    co_return ok(nodes_json(*node, b));
  });
  router.add("GET", "/v1/cluster/blobs/{digest}",
             [&b](http::Request& req) -> asio::awaitable<http::Response> {
               auto* node = b.cluster();
               if (!node) co_return not_in_cluster();
               const std::string digest = req.params["digest"];
               if (!is_digest(digest))
                 co_return http::error_response(Code::kBadRequest,
                                                "expected a sha256 digest in lowercase hex");
               auto slot = node->serving_slot();
               if (!slot) co_return busy();
               auto fd = b.deployer().blobs().open(digest);
               if (!fd) co_return http::error_response(fd.error());
               co_return send_file(std::move(*fd), std::move(slot));
             });
  router.add("GET", "/v1/cluster/cache/{key}",
             [&b](http::Request& req) -> asio::awaitable<http::Response> {
               auto* node = b.cluster();
               if (!node) co_return not_in_cluster();
               const std::string key = req.params["key"];
               if (!is_digest(key))
                 co_return http::error_response(Code::kBadRequest,
                                                "expected a cache key (64 lowercase hex digits)");
               auto* cache = b.cache();
               auto pack = cache ? cache->pack_of(key) : std::nullopt;
               if (!pack)
                 co_return http::error_response(Code::kCacheEntryNotFound,
                                                "this node holds no pack of cache entry " + key);
               auto slot = node->serving_slot();
               if (!slot) co_return busy();
               UniqueFd fd(::open(pack->c_str(), O_RDONLY | O_CLOEXEC));
               if (!fd)
                 co_return http::error_response(Code::kIoError,
                                                errno_message("open " + pack->string(), errno));
               co_return send_file(std::move(fd), std::move(slot));
             });
}

}  // namespace berth::api
