// etcd over its JSON gateway, spoken from the event loop (there is no etcd C++ client in
// Debian; APISIX's lua-resty-etcd does the same). Every call goes to the endpoint that
// answered last and moves on to the next when one cannot be reached; with a user it
// authenticates and does so again when the token expires. Watches are streams that run until
// cancelled. Event-loop thread only.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/etcd_codec.h"
#include "core/error.h"
#include "http/async_client.h"

namespace berth::etcd {

struct Options {
  std::vector<http::Url> endpoints;
  std::string user, password;  // empty: no auth
  std::chrono::milliseconds timeout{5000};
  http::TlsContext tls;  // for https endpoints
};

class Client {
 public:
  Client(boost::asio::any_io_executor ex, Options opts);

  // Every failure that is not etcd's own answer is `cluster_unavailable` (no endpoint
  // answered); etcd's refusals are `bad_etcd_reply`.
  boost::asio::awaitable<Result<RangeReply>> get(const std::string& key);
  boost::asio::awaitable<Result<RangeReply>> list(const std::string& prefix);
  boost::asio::awaitable<Result<int64_t>> put(const std::string& key, const std::string& value,
                                              int64_t lease = 0);
  boost::asio::awaitable<Result<int64_t>> remove(const std::string& key);
  boost::asio::awaitable<Result<TxnReply>> txn(const std::vector<Compare>& compare,
                                               const std::vector<TxnOp>& success,
                                               const std::vector<TxnOp>& failure = {});
  boost::asio::awaitable<Result<LeaseGrant>> grant(int64_t ttl_seconds);
  // The lease's remaining TTL, 0 when it no longer exists.
  boost::asio::awaitable<Result<int64_t>> keepalive(int64_t lease);
  boost::asio::awaitable<Result<void>> revoke(int64_t lease);
  boost::asio::awaitable<Result<void>> compact(int64_t revision);

  // Watches every key under `prefix` from `start_revision` (0: from now), calling `on_message`
  // for each message, until the stream ends (an error: the caller lists again and watches
  // anew) or `handle` is cancelled (then `cancelled`).
  boost::asio::awaitable<Result<void>> watch(const std::string& prefix, int64_t start_revision,
                                             std::function<void(WatchMessage&)> on_message,
                                             std::shared_ptr<http::StreamHandle> handle);

  uint64_t requests() const { return requests_; }  // calls sent, for the benchmarks
  const http::Url& endpoint() const { return opts_.endpoints[current_]; }

 private:
  boost::asio::awaitable<Result<std::string>> call(const std::string& target,
                                                   const nlohmann::json& body);
  boost::asio::awaitable<Result<void>> authenticate(const http::Url& url);
  http::Call make_call(const std::string& target, const nlohmann::json& body) const;

  boost::asio::any_io_executor ex_;
  Options opts_;
  size_t current_ = 0;
  std::string token_;
  uint64_t requests_ = 0;
};

}  // namespace berth::etcd
