#include "cluster/node.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <set>

#include "core/duration.h"
#include "core/failpoint.h"
#include "core/random_id.h"

namespace berth::cluster {
namespace asio = boost::asio;
using Kind = Keys::Parsed::Kind;

namespace {

etcd::Options etcd_options(const ClusterConfig& c, http::TlsContext tls) {
  etcd::Options o;
  for (auto& e : c.etcd)
    if (auto u = http::Url::parse(e)) o.endpoints.push_back(*u);  // the config refused bad ones
  o.user = c.etcd_user;
  o.password = c.etcd_password;
  o.tls = std::move(tls);
  // A call must give up well inside the lease: a keepalive that waits longer than the TTL
  // would let the lease lapse while a live endpoint was there to try.
  o.timeout = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(5000), c.lease_ttl / 3);
  return o;
}

}  // namespace

Node::Node(NodeContext ctx)
    : ctx_(std::move(ctx)),
      keys_(ctx_.config.name),
      etcd_(ctx_.io.get_executor(), etcd_options(ctx_.config, ctx_.tls)),
      writer_(ctx_.io.get_executor(), etcd_),
      boot_id_(random_hex(8)),
      wake_(ctx_.io.get_executor()) {
  view_.self = ctx_.config.node;
  view_.disconnected_since = now_ms();
  view_.last_error = "not connected yet";
  replicator_ = std::make_unique<Replicator>(
      ReplicatorContext{ctx_.io.get_executor(), etcd_, writer_, keys_, view_, ctx_.deployer,
                        ctx_.config, ctx_.local, ctx_.tls, [this] { return lease_; }});
}

Node::~Node() = default;

void Node::start(const std::string& url) {
  url_ = url;
  started_at_ = now_ms();
  running_ = true;
  asio::co_spawn(ctx_.io, run(), asio::detached);
}

std::shared_ptr<const CacheShareContext> Node::cache_context(std::string who) {
  return std::make_shared<const CacheShareContext>(CacheShareContext{
      ctx_.io, etcd_, keys_, view_.self, ctx_.config.secret, std::move(who), ctx_.tls,
      [this] { return lease_; }, [this](const std::string& n) { return view_.url_of(n); }});
}

NodeRecord Node::record() const {
  return NodeRecord{url_, ctx_.version, boot_id_, started_at_, ctx_.components()};
}

void Node::components_changed() {
  if (lease_ != 0 && !stopping_) writer_.put(keys_.node(view_.self), encode(record()), lease_);
}

std::shared_ptr<void> Node::serving_slot() {
  if (*serving_ >= kMaxServing) return nullptr;
  ++*serving_;
  return std::shared_ptr<void>(serving_.get(), [count = serving_](void*) { --*count; });
}

void Node::set_connected(bool up, const std::string& why) {
  if (up && !view_.connected)
    spdlog::info("cluster: connected to etcd at {}", etcd_.endpoint().str());
  if (!up && view_.connected) {
    view_.disconnected_since = now_ms();
    spdlog::warn("cluster: lost etcd: {}", why);
  }
  view_.connected = up;
  if (!up) view_.last_error = why;
}

asio::awaitable<void> Node::pause(std::chrono::milliseconds d) {
  const std::function<bool()> stopping = [this] { return stopping_; };
  co_await wake_.wait_until(stopping, StateEvent::Clock::now() + d);
}

asio::awaitable<Result<void>> Node::join() {
  const int64_t ttl = std::max<int64_t>(
      2, std::chrono::duration_cast<std::chrono::seconds>(ctx_.config.lease_ttl).count());
  auto lease = co_await etcd_.grant(ttl);
  BERTH_CO_TRY(lease);
  lease_ = lease->id;
  lease_lost_ = false;
  auto rec = record();
  NodeRecord member = rec;
  member.components.clear();
  using etcd::TxnOp;
  const std::vector<TxnOp> ops = {
      {TxnOp::Kind::kPut, keys_.member(view_.self), encode(member), "", 0},
      {TxnOp::Kind::kPut, keys_.node(view_.self), encode(rec), "", lease_}};
  const std::vector<etcd::Compare> always;
  auto txn = co_await etcd_.txn(always, ops);
  BERTH_CO_TRY(txn);
  spdlog::info("cluster: joined \"{}\" as {} ({}, lease {:x}, TTL {}s)", ctx_.config.name,
               view_.self, url_, lease_, lease->ttl);
  co_return Result<void>{};
}

asio::awaitable<void> Node::keep_alive(int64_t lease) {
  const auto every = ctx_.config.lease_ttl / 3;
  while (!stopping_ && lease_ == lease) {
    co_await pause(every);
    if (stopping_ || lease_ != lease) break;
    auto ttl = co_await etcd_.keepalive(lease);
    if (!ttl) {
      set_connected(false, ttl.error().message);
      // The watch may hang on the same silent endpoint: cut it so it lists again elsewhere.
      if (watch_) watch_->cancel();
      continue;
    }
    if (*ttl == 0) {
      spdlog::warn("cluster: lease {:x} lapsed; joining again", lease);
      lease_lost_ = true;
      if (watch_) watch_->cancel();
      break;
    }
    set_connected(true);
  }
}

asio::awaitable<void> Node::run() {
  auto delay = std::chrono::milliseconds(200);
  auto backoff = [&]() { delay = std::min(delay * 2, std::chrono::milliseconds(5000)); };
  while (!stopping_) {
    auto joined = co_await join();
    if (!joined) {
      set_connected(false, joined.error().message);
      co_await pause(delay);
      backoff();
      continue;
    }
    delay = std::chrono::milliseconds(200);
    asio::co_spawn(ctx_.io, keep_alive(lease_), asio::detached);
    if (ctx_.joined) ctx_.joined();
    while (!stopping_ && !lease_lost_) {
      watch_ = std::make_shared<http::StreamHandle>();
      auto synced = co_await sync(watch_);
      if (stopping_ || lease_lost_) break;
      if (!synced && synced.error().code == Code::kCancelled) continue;  // list again now
      set_connected(false, synced ? "the watch ended" : synced.error().message);
      co_await pause(delay);
      backoff();
    }
  }
  running_ = false;
  wake_.notify_all();
}

asio::awaitable<Result<void>> Node::sync(std::shared_ptr<http::StreamHandle> watch) {
  const auto began = std::chrono::steady_clock::now();
  auto listed = co_await etcd_.list(keys_.root());
  BERTH_CO_TRY(listed);
  set_connected(true);
  std::set<std::string> up;
  for (auto& kv : listed->kvs) {
    auto k = keys_.parse(kv.key);
    if (k.kind == Kind::kMember) apply_node(k.name, &kv, true);
    if (k.kind == Kind::kNode) {
      apply_node(k.name, &kv, false);
      up.insert(k.name);
    }
  }
  for (auto& [n, s] : view_.nodes)
    if (s.up && !up.contains(n)) apply_node(n, nullptr, false);
  replicator_->on_listed(*listed);
  view_.last_list = {
      listed->kvs.size(),
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count(),
      now_ms()};
  const std::function<void(etcd::WatchMessage&)> on_message = [this,
                                                               &watch](etcd::WatchMessage& m) {
    if (m.canceled) {
      spdlog::info("cluster: watch cancelled ({}); listing again",
                   m.compact_revision ? "compacted at " + std::to_string(m.compact_revision)
                                      : m.cancel_reason);
      watch->cancel();
      return;
    }
    // Failpoint etcd.watch: the stream cut as a comp/ event arrives, before it is handled
    // (the member died): the node lists again and must learn from the list what it missed.
    const bool desired = std::ranges::any_of(m.events, [this](const etcd::WatchEvent& e) {
      return keys_.parse(e.kv.key).kind == Kind::kComp;
    });
    if (desired && BERTH_FAIL("etcd.watch")) {
      spdlog::info("cluster: watch cut before a change of the desired state (failpoint)");
      watch->cancel();
      return;
    }
    for (auto& e : m.events) apply(e);
  };
  co_return co_await etcd_.watch(keys_.root(), listed->revision + 1, on_message, watch);
}

void Node::apply_node(const std::string& name, const etcd::KeyValue* kv, bool member) {
  auto& s = view_.nodes[name];
  if (!kv) {  // its lease lapsed (or it left)
    if (s.up && name != view_.self)
      replicator_->on_node_gone(name, "left the cluster (its lease lapsed)");
    s.up = false;
    return;
  }
  auto rec = decode_node(kv->value);
  if (!rec) return;
  if (member) {
    if (!s.up) s.record = *rec;
    return;
  }
  if (s.up && s.record.boot_id != rec->boot_id && name != view_.self)
    replicator_->on_node_gone(name, "restarted");
  s.record = *rec;
  s.up = true;
}

void Node::apply(const etcd::WatchEvent& e) {
  auto k = keys_.parse(e.kv.key);
  switch (k.kind) {
    case Kind::kNode:
      apply_node(k.name, e.deleted ? nullptr : &e.kv, false);
      break;
    case Kind::kMember:
      if (!e.deleted) apply_node(k.name, &e.kv, true);
      break;
    case Kind::kComp:
      if (e.deleted)
        replicator_->on_comp_gone(k.name);
      else
        replicator_->on_comp(k.name, e.kv.value, e.kv.mod_revision, true);
      break;
    case Kind::kPeer:
      if (!e.deleted) replicator_->on_peer(k.id, k.node, e.kv.value);
      break;
    case Kind::kSlot:
      if (e.deleted) replicator_->on_slot_freed();
      break;
    default:
      break;
  }
}

asio::awaitable<void> Node::stop() {
  if (!running_) co_return;
  stopping_ = true;
  if (watch_) watch_->cancel();
  wake_.notify_all();
  const std::function<bool()> ended = [this] { return !running_; };
  co_await wake_.wait_until(ended, StateEvent::Clock::time_point::max());
  co_await writer_.stop();
  if (lease_ != 0) {
    if (auto r = co_await etcd_.revoke(lease_); !r)
      spdlog::warn("cluster: could not revoke lease {:x}: {}", lease_, r.error().message);
    lease_ = 0;
  }
}

}  // namespace berth::cluster
