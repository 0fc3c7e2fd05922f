#include "cluster/payload_fetch.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/failpoint.h"
#include "core/random_id.h"

namespace berth::cluster {
namespace asio = boost::asio;

asio::awaitable<Result<void>> fetch_body(asio::any_io_executor ex, const http::Url& url,
                                         std::string target, const std::string& secret,
                                         const http::TlsContext& tls,
                                         std::function<Result<void>(std::string_view)> sink) {
  http::Call call;
  call.method = "GET";
  call.target = std::move(target);
  call.headers.emplace_back("Authorization", "Bearer " + secret);
  call.tls = tls;
  std::optional<Error> write_error;
  // Named: GCC 12 destroys a std::function temporary of a co_await expression twice.
  const std::function<bool(std::string_view)> on_data = [&](std::string_view bytes) {
    if (auto w = sink(bytes); !w) {
      write_error = w.error();
      return false;
    }
    return true;
  };
  auto handle = std::make_shared<http::StreamHandle>();
  auto reply = co_await http::stream(ex, url, call, on_data, handle);
  if (write_error) co_return std::unexpected(*write_error);
  BERTH_CO_TRY(reply);
  if (reply->status == 503)
    co_return fail(Code::kBusy, url.str() + " is busy serving other payloads");
  if (reply->status != 200)
    co_return fail(Code::kUnreachable,
                   fmt::format("{} answered {}: {}", url.str(), reply->status, reply->body));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> fetch_from(asio::any_io_executor ex, const BlobStore& blobs,
                                         const http::Url& url, const std::string& secret,
                                         const std::string& digest, const http::TlsContext& tls) {
  auto writer = BlobWriter::open(blobs, "fetch-" + random_hex(8));
  BERTH_CO_TRY(writer);
  std::function<Result<void>(std::string_view)> sink = [&](std::string_view bytes) {
    return writer->write(bytes);
  };
  auto got =
      co_await fetch_body(ex, url, "/v1/cluster/blobs/" + digest, secret, tls, std::move(sink));
  BERTH_CO_TRY(got);
  auto blob = writer->commit(digest);
  BERTH_CO_TRY(blob);
  co_return Result<void>{};
}

asio::awaitable<Result<void>> fetch_payload(FetchContext ctx, std::string digest) {
  Error last{Code::kUnreachable, "no node says it holds sha256:" + digest};
  if (BERTH_FAIL("cluster.fetch"))
    co_return fail(Code::kUnreachable,
                   "no node served sha256:" + digest.substr(0, 12) + " (failpoint cluster.fetch)");
  auto delay = std::chrono::milliseconds(200);
  for (int round = 0; round < ctx.rounds; ++round) {
    if (ctx.blobs.has(digest)) co_return Result<void>{};
    auto holders = co_await ctx.etcd.list(ctx.keys.have(digest));
    if (!holders) {
      last = holders.error();
    } else {
      for (auto& kv : holders->kvs) {
        auto parsed = ctx.keys.parse(kv.key);
        if (parsed.node == ctx.self) continue;
        auto url_text = ctx.url_of(parsed.node);
        if (!url_text) continue;
        auto url = http::Url::parse(*url_text);
        if (!url) continue;
        auto got = co_await fetch_from(ctx.ex, ctx.blobs, *url, ctx.secret, digest, ctx.tls);
        if (got) co_return got;
        spdlog::warn("cluster: fetching sha256:{} from {}: {}", digest.substr(0, 12), parsed.node,
                     got.error().message);
        last = got.error();
        if (got.error().code == Code::kIoError) co_return got;  // our disk: no holder helps
      }
    }
    asio::steady_timer t(ctx.ex, delay);
    co_await t.async_wait(asio::use_awaitable);
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
  co_return fail(Code::kUnreachable,
                 "no node served sha256:" + digest.substr(0, 12) + " (last: " + last.message + ")");
}

}  // namespace berth::cluster
