// The install cache across a cluster whose nodes keep separate cache directories: the install
// lock of a key is cache/<key>/lock in etcd, on the holder node's lease (a holder that dies
// frees it when its lease lapses; the fencing token is the key's create revision), and a node
// that filed an entry says so under cache/<key>/have/<node>; the others fetch its pack over
// GET /v1/cluster/cache/<key> instead of installing. The objects live on the install cache's
// protocol thread and reach etcd by running coroutines on the event loop (core/block_on.h).
#pragma once
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cache/entry_share.h"
#include "cache/key_locks.h"
#include "cluster/etcd_client.h"
#include "cluster/schema.h"

namespace berth::cluster {

struct CacheShareContext {
  boost::asio::io_context& io;
  etcd::Client& etcd;
  const Keys& keys;
  std::string self, secret, who;  // who: how a holder describes itself to waiters
  http::TlsContext tls;
  std::function<int64_t()> lease;  // the node's lease; 0 while it has none
  // The URL of a node that is up now; nullopt when it is not. Event-loop thread.
  std::function<std::optional<std::string>(const std::string& node)> url_of;
};

// KeyLocks "etcd". acquire() waits by watching the lock key for its deletion; while etcd is
// away it keeps trying until the wait's deadline. lost() asks etcd whether the key still has
// the create revision it was taken at (etcd away counts as lost: nothing is filed unsure).
std::unique_ptr<KeyLocks> make_etcd_locks(std::shared_ptr<const CacheShareContext> ctx);

// The EntryShare over the cluster's peers.
std::shared_ptr<EntryShare> make_cache_share(std::shared_ptr<const CacheShareContext> ctx);

}  // namespace berth::cluster
