#include "cluster/owned_key.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace berth::cluster {
namespace asio = boost::asio;

asio::awaitable<void> delete_owned(etcd::Client& etcd, std::string key, int64_t token,
                                   std::function<int64_t()> lease_now, int64_t lease) {
  using etcd::Compare, etcd::TxnOp;
  auto delay = std::chrono::milliseconds(200);
  for (;;) {
    const std::vector<Compare> ours = {
        {key, Compare::Target::kCreate, Compare::Op::kEqual, token, ""}};
    const std::vector<TxnOp> drop = {{TxnOp::Kind::kDelete, key}};
    auto r = co_await etcd.txn(ours, drop);
    if (r || lease_now() != lease) co_return;
    spdlog::warn("cluster: deleting {}: {}", key, r.error().message);
    asio::steady_timer t(co_await asio::this_coro::executor, delay);
    co_await t.async_wait(asio::use_awaitable);
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace berth::cluster
