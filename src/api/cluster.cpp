// GET /v1/nodes (every node of the cluster, up or down) and the node-to-node routes
// GET /v1/cluster/blobs/{digest} (a payload for a peer) and GET /v1/cluster/cache/{key} (an
// install cache entry's pack); api::authorize admits only the cluster secret on those.
#include <fcntl.h>
#include <sys/stat.h>

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

json nodes_json(cluster::Node& node, Backend& b) {
  const auto& v = node.view();
  json nodes = json::array();
  for (auto& [name, s] : v.nodes) {
    const bool self = name == v.self;
    json components = json::array(), orphans = json::array();
    if (self) {
      for (auto& c : b.components()) {
        components.push_back(c->name());
        if (b.deployer().releases().current(c->name()) && node.replicator().orphan(c->name()))
          orphans.push_back(c->name());
      }
    } else {
      for (auto& c : s.record.components) components.push_back(c);
    }
    nodes.push_back({{"name", name},
                     {"url", s.record.url},
                     {"version", s.record.version},
                     {"state", self || s.up ? "up" : "down"},
                     {"started_at", s.record.started_at},
                     {"components", components},
                     {"self", self}});
    if (self) nodes.back()["orphans"] = orphans;
  }
  json out{{"self", v.self},
           {"connected", v.connected},
           {"nodes", nodes},
           {"etcd_requests", node.etcd_requests()}};
  out["disconnected_since"] = v.connected ? json() : json(v.disconnected_since);
  out["last_list"] = {{"keys", v.last_list.keys}, {"ms", v.last_list.ms}, {"at", v.last_list.at}};
  if (!v.connected) out["error"] = v.last_error;
  return out;
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
