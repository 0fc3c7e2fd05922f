// Fetching a payload by digest from the nodes that say they hold it (have/<digest>/<node>),
// over the node-to-node route GET /v1/cluster/blobs/<digest> with the cluster secret. The
// bytes stream into the blob store and are filed only when they hash to the digest asked for.
// A holder that is busy (503), unreachable or wrong is passed over for the next; when none
// served it, the round is tried again, backing off. Event-loop thread.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>

#include "cluster/etcd_client.h"
#include "cluster/schema.h"
#include "deploy/blob_store.h"
#include "http/async_client.h"

namespace berth::cluster {

struct FetchContext {
  boost::asio::any_io_executor ex;
  etcd::Client& etcd;
  const Keys& keys;
  const BlobStore& blobs;
  std::string self, secret;
  http::TlsContext tls;  // for https peers
  // The URL of a node that is up now; nullopt when it is not.
  std::function<std::optional<std::string>(const std::string& node)> url_of;
  int rounds = 8;
};

// Ok once blobs.has(digest). Failures: `unreachable` when no holder served it in any round
// (the last holder's error quoted), `digest_mismatch` never escapes (that holder is skipped).
boost::asio::awaitable<Result<void>> fetch_payload(FetchContext ctx, std::string digest);

// GET `target` from a peer with the cluster secret, the body handed to `sink` as it arrives
// (a sink error ends it and is returned). `busy` on 503, `unreachable` on any other non-200
// or when the peer cannot be reached.
boost::asio::awaitable<Result<void>> fetch_body(boost::asio::any_io_executor ex,
                                                const http::Url& url, std::string target,
                                                const std::string& secret,
                                                const http::TlsContext& tls,
                                                std::function<Result<void>(std::string_view)> sink);

// One holder: the payload from `url`, verified and filed. `busy` when it answered 503.
boost::asio::awaitable<Result<void>> fetch_from(boost::asio::any_io_executor ex,
                                                const BlobStore& blobs, const http::Url& url,
                                                const std::string& secret,
                                                const std::string& digest,
                                                const http::TlsContext& tls = nullptr);

}  // namespace berth::cluster
