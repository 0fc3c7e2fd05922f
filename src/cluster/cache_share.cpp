// The EntryShare of cluster/cache_share.h: packs on the installing node, cache/<key>/have/<node>
// on its lease, and fetches that stream the pack to disk, hash it on the way and unpack it
// only when it matches the digest its holder announced.
#include "cluster/cache_share.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "archive/extract.h"
#include "archive/pack.h"
#include "cluster/payload_fetch.h"
#include "core/block_on.h"
#include "core/sha256.h"
#include "core/unique_fd.h"

namespace berth::cluster {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using Ctx = std::shared_ptr<const CacheShareContext>;

// A pack comes from a node holding the cluster's secret, but is still unpacked under the
// extractor's rules; its limits are those of a large node_modules rather than an upload's.
ExtractLimits pack_limits() {
  ExtractLimits l;
  l.max_bytes = 64ULL << 30;
  l.max_entries = 5'000'000;
  return l;
}

Result<PackedEntry> hash_file(const fs::path& p) {
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(Code::kIoError, errno_message("open " + p.string(), errno));
  Sha256 h;
  PackedEntry out;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Code::kIoError, errno_message("read " + p.string(), errno));
    if (n == 0) break;
    h.update({buf.data(), static_cast<size_t>(n)});
    out.size += static_cast<uint64_t>(n);
  }
  out.digest = h.hex();
  return out;
}

// One holder's pack into `part`, verified; an error says why this holder failed.
asio::awaitable<Result<void>> fetch_one(Ctx ctx, http::Url url, std::string key, PackedEntry want,
                                        fs::path part) {
  UniqueFd fd(::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) co_return fail(Code::kIoError, errno_message("create " + part.string(), errno));
  auto hash = std::make_shared<Sha256>();
  uint64_t size = 0;
  std::function<Result<void>(std::string_view)> sink = [&](std::string_view bytes) -> Result<void> {
    if (size + bytes.size() > want.size)
      return fail(Code::kDigestMismatch, "the pack is larger than announced");
    for (size_t off = 0; off < bytes.size();) {
      ssize_t n = ::write(fd.get(), bytes.data() + off, bytes.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(Code::kIoError, errno_message("write " + part.string(), errno));
      off += static_cast<size_t>(n);
    }
    hash->update(bytes);
    size += bytes.size();
    return {};
  };
  auto ex = co_await asio::this_coro::executor;
  auto got = co_await fetch_body(ex, url, "/v1/cluster/cache/" + key, ctx->secret, ctx->tls,
                                 std::move(sink));
  BERTH_CO_TRY(got);
  if (size != want.size || hash->hex() != want.digest)
    co_return fail(Code::kDigestMismatch,
                   "the pack from " + url.str() + " does not hash to sha256:" + want.digest);
  if (::fsync(fd.get()) != 0)
    co_return fail(Code::kIoError, errno_message("fsync " + part.string(), errno));
  co_return Result<void>{};
}

// The first holder that serves a verified pack, into `part`; nullopt when none did.
asio::awaitable<Result<std::optional<PackedEntry>>> fetch_any(Ctx ctx, std::string key,
                                                              fs::path part) {
  const auto prefix = ctx->keys.cache_have(key);
  auto holders = co_await ctx->etcd.list(prefix);
  if (!holders) {
    spdlog::warn("install cache: who holds {}: {}", key.substr(0, 12), holders.error().message);
    co_return std::optional<PackedEntry>{};
  }
  for (auto& kv : holders->kvs) {
    const auto node = kv.key.substr(prefix.size());
    if (node == ctx->self) continue;
    auto url_text = ctx->url_of(node);
    if (!url_text) continue;  // down: its pack cannot be served
    auto url = http::Url::parse(*url_text);
    auto v = json::parse(kv.value, nullptr, false);
    if (!url || !v.is_object()) continue;
    PackedEntry want{v.value("digest", ""), v.value("size", uint64_t{0})};
    auto got = co_await fetch_one(ctx, *url, key, want, part);
    if (got) co_return std::optional<PackedEntry>{want};
    spdlog::warn("install cache: fetching {} from {}: {}", key.substr(0, 12), node,
                 got.error().message);
    if (got.error().code == Code::kIoError) co_return std::unexpected(got.error());
  }
  co_return std::optional<PackedEntry>{};
}

asio::awaitable<Result<void>> say_held(Ctx ctx, std::string key, std::string value) {
  const int64_t lease = ctx->lease();
  if (lease == 0) co_return fail(Code::kClusterUnavailable, "this node has no lease");
  auto r = co_await ctx->etcd.put(ctx->keys.cache_have(key, ctx->self), value, lease);
  BERTH_CO_TRY(r);
  co_return Result<void>{};
}

class CacheShare : public EntryShare {
 public:
  explicit CacheShare(Ctx ctx) : ctx_(std::move(ctx)) {}

  Result<std::optional<PackedEntry>> fetch(const std::string& key, const fs::path& into) override {
    auto part = into.parent_path() / (into.filename().string() + ".pack");
    std::function<asio::awaitable<Result<std::optional<PackedEntry>>>()> f =
        [ctx = ctx_, key, part] { return fetch_any(ctx, key, part); };
    auto got = block_on<std::optional<PackedEntry>>(ctx_->io, std::move(f));
    std::error_code ec;
    if (!got || !*got) {
      fs::remove(part, ec);
      return got;
    }
    const auto pack = pack_path(into);
    if (::rename(part.c_str(), pack.c_str()) != 0) {
      int err = errno;
      fs::remove(part, ec);
      return fail(Code::kIoError, errno_message("rename " + part.string(), err));
    }
    if (auto x = extract_archive(pack, into, pack_limits()); !x) {
      spdlog::warn("install cache: the pack of {} does not unpack: {}", key.substr(0, 12),
                   x.error().message);
      return std::optional<PackedEntry>{};
    }
    return got;
  }

  Result<PackedEntry> pack(const fs::path& dir) override {
    auto tmp = dir.parent_path() / (dir.filename().string() + ".pack");
    std::error_code ec;
    auto packed = pack_tree(dir, tmp);
    auto hashed = packed ? hash_file(tmp) : Result<PackedEntry>(std::unexpected(packed.error()));
    if (hashed && ::rename(tmp.c_str(), pack_path(dir).c_str()) != 0)
      hashed = fail(Code::kIoError, errno_message("rename " + tmp.string(), errno));
    fs::remove(tmp, ec);
    return hashed;
  }

  Result<PackedEntry> describe(const fs::path& pack) override { return hash_file(pack); }

  Result<void> announce(const std::string& key, const PackedEntry& packed) override {
    std::function<asio::awaitable<Result<void>>()> f =
        [ctx = ctx_, key, value = json{{"digest", packed.digest}, {"size", packed.size}}.dump()] {
          return say_held(ctx, key, value);
        };
    auto r = block_on<void>(ctx_->io, std::move(f));
    if (!r) spdlog::warn("install cache: announcing {}: {}", key.substr(0, 12), r.error().message);
    return r;
  }

 private:
  Ctx ctx_;
};

}  // namespace

std::shared_ptr<EntryShare> make_cache_share(std::shared_ptr<const CacheShareContext> ctx) {
  return std::make_shared<CacheShare>(std::move(ctx));
}

}  // namespace berth::cluster
