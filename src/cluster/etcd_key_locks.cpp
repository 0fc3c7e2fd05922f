// KeyLocks on etcd (cluster/cache_share.h): a take is one txn, "create cache/<key>/lock on my
// lease if it does not exist, else read it"; a wait watches the key from the revision that
// read it, so its deletion (a release, or the holder's lease lapsing) cannot be missed.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "cluster/cache_share.h"
#include "cluster/owned_key.h"
#include "core/block_on.h"
#include "core/random_id.h"

namespace berth::cluster {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using etcd::Compare;
using etcd::TxnOp;

namespace {

// A waiter takes the key again this often even if no deletion was seen (a watch stuck on a
// silent endpoint), and checks its deadline and cancel flag at the finer step.
constexpr auto kRecheck = std::chrono::seconds(10);
constexpr auto kStep = std::chrono::milliseconds(100);

struct Attempt {
  int64_t token = 0;     // the lock key's create revision when we took it; 0: someone holds it
  int64_t revision = 0;  // the store's revision when it answered
  std::string holder;
};

using Ctx = std::shared_ptr<const CacheShareContext>;

// The lock key's value: who holds it, then " #" and a nonce of this take alone.
std::string holder_of(const std::string& value) {
  return value.substr(0, value.rfind(" #"));
}

asio::awaitable<Result<Attempt>> take(Ctx ctx, std::string key) {
  const int64_t lease = ctx->lease();
  if (lease == 0) co_return fail(Code::kClusterUnavailable, "this node has not joined etcd yet");
  // The nonce tells this take's own key from any other: when the endpoint dies after the
  // commit, the client sends the txn again to the next one, whose read then finds our key
  // (taken as someone else's, we would wait on ourselves until the lock's deadline). An
  // earlier key of ours, its delete still under way, has another nonce.
  const std::string mine = ctx->self + ": " + ctx->who + " #" + random_hex(6);
  const std::vector<Compare> absent = {{key, Compare::Target::kCreate, Compare::Op::kEqual, 0, ""}};
  const std::vector<TxnOp> create = {{TxnOp::Kind::kPut, key, mine, "", lease}};
  const std::vector<TxnOp> read = {{TxnOp::Kind::kRange, key}};
  auto r = co_await ctx->etcd.txn(absent, create, read);
  BERTH_CO_TRY(r);
  Attempt a;
  a.revision = r->revision;
  if (r->succeeded) {
    a.token =
        r->revision;  // a key created by this txn has the txn's revision as its create revision
  } else if (!r->ranges.empty() && !r->ranges[0].kvs.empty()) {
    const auto& kv = r->ranges[0].kvs[0];
    if (kv.value == mine)
      a.token = kv.create_revision;  // ours: an earlier try was carried out, its reply lost
    else
      a.holder = holder_of(kv.value);
  }
  co_return a;
}

// Until the key is deleted, the wait is over, or kRecheck passed. Every outcome sends the
// caller back to take(), which decides.
asio::awaitable<Result<void>> until_deleted(Ctx ctx, std::string key, int64_t from, LockWait wait) {
  auto handle = std::make_shared<http::StreamHandle>();
  auto ended = std::make_shared<bool>(false);
  const auto recheck = Clock::now() + kRecheck;
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(
      ex,
      [handle, ended, wait, recheck]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (;;) {
          t.expires_after(kStep);
          co_await t.async_wait(asio::use_awaitable);
          if (*ended) co_return;
          const auto now = Clock::now();
          if ((wait.cancel && wait.cancel->load()) || now >= wait.deadline || now >= recheck) {
            handle->cancel();
            co_return;
          }
        }
      },
      asio::detached);
  const std::function<void(etcd::WatchMessage&)> on_message = [&](etcd::WatchMessage& m) {
    if (m.canceled) handle->cancel();
    for (auto& e : m.events)
      if (e.deleted && e.kv.key == key) handle->cancel();
  };
  (void)co_await ctx->etcd.watch(key, from, on_message, handle);
  *ended = true;
  co_return Result<void>{};
}

asio::awaitable<Result<etcd::RangeReply>> read(Ctx ctx, std::string key) {
  co_return co_await ctx->etcd.get(key);
}

asio::awaitable<Result<bool>> still_held(Ctx ctx, std::string key, int64_t token) {
  auto r = co_await ctx->etcd.get(key);
  BERTH_CO_TRY(r);
  co_return !r->kvs.empty() && r->kvs[0].create_revision == token;
}

class EtcdHeld : public HeldLock {
 public:
  EtcdHeld(Ctx ctx, std::string key, int64_t token, int64_t lease)
      : ctx_(std::move(ctx)), key_(std::move(key)), token_(token), lease_(lease) {}
  // Returns at once: the delete runs on the loop (and retries there while etcd is away).
  ~EtcdHeld() override {
    asio::post(ctx_->io, [ctx = ctx_, key = key_, token = token_, lease = lease_] {
      asio::co_spawn(ctx->io, delete_owned(ctx->etcd, key, token, ctx->lease, lease),
                     asio::detached);
    });
  }
  bool lost() const override {
    std::function<asio::awaitable<Result<bool>>()> ask = [ctx = ctx_, key = key_, token = token_] {
      return still_held(ctx, key, token);
    };
    auto still = block_on<bool>(ctx_->io, std::move(ask));
    return !still || !*still;
  }

 private:
  Ctx ctx_;
  std::string key_;
  int64_t token_, lease_;
};

class EtcdKeyLocks : public KeyLocks {
 public:
  explicit EtcdKeyLocks(Ctx ctx) : ctx_(std::move(ctx)) {}

  Result<std::unique_ptr<HeldLock>> acquire(const std::string& cache_key,
                                            const LockWait& wait) override {
    const auto key = ctx_->keys.cache_lock(cache_key);
    bool told = false;
    auto delay = std::chrono::milliseconds(200);
    for (;;) {
      if (wait.cancel && wait.cancel->load())
        return fail(Code::kCancelled, "stopped waiting for the install lock " + key);
      if (Clock::now() >= wait.deadline)
        return fail(Code::kLockTimeout, "timed out waiting for the install lock " + key);
      auto tried = attempt(key);
      if (!tried) {
        if (tried.error().code == Code::kInterrupted) return std::unexpected(tried.error());
        // etcd away (or not joined yet): nobody can be sure who installs, so wait for it.
        std::this_thread::sleep_for(std::min<Clock::duration>(
            delay,
            std::max<Clock::duration>(Clock::duration::zero(), wait.deadline - Clock::now())));
        delay = std::min(delay * 2, std::chrono::milliseconds(2000));
        continue;
      }
      if (tried->token) return std::make_unique<EtcdHeld>(ctx_, key, tried->token, ctx_->lease());
      if (!told && wait.on_wait) wait.on_wait(tried->holder);
      told = true;
      std::function<asio::awaitable<Result<void>>()> wait_for = [ctx = ctx_, key,
                                                                 from = tried->revision + 1, wait] {
        return until_deleted(ctx, key, from, wait);
      };
      if (auto r = block_on<void>(ctx_->io, std::move(wait_for));
          !r && r.error().code == Code::kInterrupted)
        return std::unexpected(r.error());
    }
  }

  Result<std::unique_ptr<HeldLock>> try_acquire(const std::string& cache_key) override {
    const auto key = ctx_->keys.cache_lock(cache_key);
    auto tried = attempt(key);
    if (!tried)
      return fail(Code::kLockFailed,
                  "cannot take the install lock " + key + ": " + tried.error().message);
    if (!tried->token) return nullptr;
    return std::make_unique<EtcdHeld>(ctx_, key, tried->token, ctx_->lease());
  }

  bool busy(const std::string& cache_key) override {
    std::function<asio::awaitable<Result<etcd::RangeReply>>()> get =
        [ctx = ctx_, key = ctx_->keys.cache_lock(cache_key)] { return read(ctx, key); };
    auto r = block_on<etcd::RangeReply>(ctx_->io, std::move(get));
    return r && !r->kvs.empty();
  }

  std::string name() const override { return "etcd"; }

 private:
  Result<Attempt> attempt(const std::string& key) {
    std::function<asio::awaitable<Result<Attempt>>()> f = [ctx = ctx_, key] {
      return take(ctx, key);
    };
    return block_on<Attempt>(ctx_->io, std::move(f));
  }

  Ctx ctx_;
};

}  // namespace

std::unique_ptr<KeyLocks> make_etcd_locks(std::shared_ptr<const CacheShareContext> ctx) {
  return std::make_unique<EtcdKeyLocks>(std::move(ctx));
}

}  // namespace berth::cluster
