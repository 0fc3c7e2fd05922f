#include "cluster/etcd_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "core/failpoint.h"

namespace berth::etcd {
namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

// Failpoint etcd.txn_hold: until the test disarms it.
asio::awaitable<void> held_while_armed(std::string_view name) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto armed = [name] {
    auto all = failpoint::armed();
    return std::any_of(all.begin(), all.end(), [name](auto& a) { return a.name == name; });
  };
  while (armed()) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

}  // namespace

Client::Client(asio::any_io_executor ex, Options opts)
    : ex_(std::move(ex)), opts_(std::move(opts)) {}

http::Call Client::make_call(const std::string& target, const json& body) const {
  http::Call c;
  c.target = target;
  c.body = body.dump();
  c.timeout = opts_.timeout;
  c.tls = opts_.tls;
  if (!token_.empty()) c.headers.emplace_back("Authorization", token_);  // raw, no "Bearer"
  return c;
}

asio::awaitable<Result<void>> Client::authenticate(const http::Url& url) {
  ++requests_;
  http::Call c =
      make_call("/v3/auth/authenticate", {{"name", opts_.user}, {"password", opts_.password}});
  c.headers.clear();
  auto reply = co_await http::send(ex_, url, c);
  BERTH_CO_TRY(reply);
  auto j = json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || !j.is_object() || !j.value("token", json()).is_string())
    co_return fail(Code::kBadEtcdReply,
                   "etcd refused the credentials of user \"" + opts_.user + "\": " + reply->body);
  token_ = j["token"].get<std::string>();
  co_return Result<void>{};
}

asio::awaitable<Result<std::string>> Client::call(const std::string& target, const json& body) {
  std::string last = "no etcd endpoint configured";
  for (size_t tried = 0; tried < opts_.endpoints.size(); ++tried) {
    const auto& url = opts_.endpoints[current_];
    if (!opts_.user.empty() && token_.empty())
      if (auto a = co_await authenticate(url); !a) {
        last = a.error().message;
        if (a.error().code != Code::kUnreachable) co_return std::unexpected(a.error());
        current_ = (current_ + 1) % opts_.endpoints.size();
        continue;
      }
    if (BERTH_FAIL("etcd.request")) {  // this endpoint is down: the next is tried
      last = errno_message(url.host + ":" + std::to_string(url.port), errno);
      current_ = (current_ + 1) % opts_.endpoints.size();
      continue;
    }
    ++requests_;
    auto c = make_call(target, body);
    auto reply = co_await http::send(ex_, url, c);
    if (reply && reply->status == 401 && !opts_.user.empty()) {  // the token expired (300 s)
      token_.clear();
      if (auto a = co_await authenticate(url); !a) co_return std::unexpected(a.error());
      ++requests_;
      auto again = make_call(target, body);
      reply = co_await http::send(ex_, url, again);
    }
    // A txn etcd carried out whose reply was lost (the member died after the commit): the
    // next endpoint gets the same txn, and the caller tells its own write by what the retry's
    // otherwise-branch reads. Failpoint etcd.txn_reply cuts a call's first endpoint only (the
    // member that died), so `*2` cuts two calls.
    if (reply && tried == 0 && target == "/v3/kv/txn" && BERTH_FAIL("etcd.txn_reply")) {
      last = errno_message(url.host + ":" + std::to_string(url.port) + ", before its reply", errno);
      current_ = (current_ + 1) % opts_.endpoints.size();
      continue;
    }
    // Failpoint etcd.txn_hold: a txn's reply, read, is held until the test disarms the
    // failpoint, so the watch can deliver a newer write before the reply is handled.
    if (reply && target == "/v3/kv/txn" && BERTH_FAIL("etcd.txn_hold"))
      co_await held_while_armed("etcd.txn_hold");
    if (reply) co_return std::move(reply->body);  // etcd's answer, error or not: decoded later
    last = reply.error().message;
    current_ = (current_ + 1) % opts_.endpoints.size();
  }
  co_return fail(Code::kClusterUnavailable, "no etcd endpoint answers (last: " + last + ")");
}

asio::awaitable<Result<RangeReply>> Client::get(const std::string& key) {
  const json req = range_request(key);
  auto body = co_await call("/v3/kv/range", req);
  BERTH_CO_TRY(body);
  co_return parse_range(*body);
}

asio::awaitable<Result<RangeReply>> Client::list(const std::string& prefix) {
  const json req = range_request(prefix, prefix_end(prefix));
  auto body = co_await call("/v3/kv/range", req);
  BERTH_CO_TRY(body);
  co_return parse_range(*body);
}

asio::awaitable<Result<int64_t>> Client::put(const std::string& key, const std::string& value,
                                             int64_t lease) {
  const json req = put_request(key, value, lease);
  auto body = co_await call("/v3/kv/put", req);
  BERTH_CO_TRY(body);
  co_return parse_revision(*body);
}

asio::awaitable<Result<int64_t>> Client::remove(const std::string& key) {
  const json req = delete_request(key);
  auto body = co_await call("/v3/kv/deleterange", req);
  BERTH_CO_TRY(body);
  co_return parse_revision(*body);
}

asio::awaitable<Result<TxnReply>> Client::txn(const std::vector<Compare>& compare,
                                              const std::vector<TxnOp>& success,
                                              const std::vector<TxnOp>& failure) {
  const json req = txn_request(compare, success, failure);
  auto body = co_await call("/v3/kv/txn", req);
  BERTH_CO_TRY(body);
  co_return parse_txn(*body);
}

asio::awaitable<Result<LeaseGrant>> Client::grant(int64_t ttl_seconds) {
  const json req = {{"TTL", ttl_seconds}};
  auto body = co_await call("/v3/lease/grant", req);
  BERTH_CO_TRY(body);
  co_return parse_grant(*body);
}

asio::awaitable<Result<int64_t>> Client::keepalive(int64_t lease) {
  // A streaming endpoint that ignores all but the first request in a body: one POST each.
  const json req = {{"ID", std::to_string(lease)}};
  auto body = co_await call("/v3/lease/keepalive", req);
  BERTH_CO_TRY(body);
  co_return parse_keepalive(*body);
}

asio::awaitable<Result<void>> Client::revoke(int64_t lease) {
  const json req = {{"ID", std::to_string(lease)}};
  auto body = co_await call("/v3/lease/revoke", req);
  BERTH_CO_TRY(body);
  BERTH_CO_TRY(parse_revision(*body));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Client::compact(int64_t revision) {
  const json req = {{"revision", std::to_string(revision)}};
  auto body = co_await call("/v3/kv/compaction", req);
  BERTH_CO_TRY(body);
  BERTH_CO_TRY(parse_revision(*body));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Client::watch(const std::string& prefix, int64_t start_revision,
                                            std::function<void(WatchMessage&)> on_message,
                                            std::shared_ptr<http::StreamHandle> handle) {
  if (!opts_.user.empty() && token_.empty())
    BERTH_CO_TRY(co_await authenticate(opts_.endpoints[current_]));
  ++requests_;
  auto c = make_call("/v3/watch", watch_request(prefix, prefix_end(prefix), start_revision));
  WatchDecoder decoder;
  std::optional<Error> bad;
  const std::function<bool(std::string_view)> on_data = [&](std::string_view chunk) {
    auto messages = decoder.feed(chunk);
    if (!messages) {
      bad = messages.error();
      return false;
    }
    for (auto& m : *messages) on_message(m);
    return true;
  };
  const auto url = opts_.endpoints[current_];
  auto reply = co_await http::stream(ex_, url, c, on_data, handle);
  if (handle->cancelled()) co_return fail(Code::kCancelled, "the watch was cancelled");
  if (!reply) {
    current_ = (current_ + 1) % opts_.endpoints.size();
    co_return fail(Code::kClusterUnavailable, reply.error().message);
  }
  if (bad) co_return std::unexpected(*bad);
  if (reply->status == 401) token_.clear();
  if (reply->status / 100 != 2)
    co_return fail(Code::kBadEtcdReply,
                   fmt::format("watch refused ({}): {}", reply->status, reply->body));
  co_return fail(Code::kClusterUnavailable, "the watch stream of " + url.str() + " ended");
}

}  // namespace berth::etcd
