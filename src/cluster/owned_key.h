// Keys a node creates on its own lease and deletes when done (an install lock, a rollout
// slot): the delete compares the key's create revision, so it never removes a key someone
// else created since, and while etcd is away it is retried for as long as the lease it was
// created on lives (once that lease is gone, etcd has dropped the key itself). Event loop.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "cluster/etcd_client.h"

namespace berth::cluster {

// `lease_now`: the node's lease at each retry.
boost::asio::awaitable<void> delete_owned(etcd::Client& etcd, std::string key, int64_t token,
                                          std::function<int64_t()> lease_now, int64_t lease);

}  // namespace berth::cluster
