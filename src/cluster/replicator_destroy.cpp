// The replicator's destroys (lesson 2 at cluster size): a destroy is comp/<name> saying
// `destroyed`, written in a txn that compares the revision last seen, then carried out by
// every node, each reporting under the destroy's id as a deploy's peers do.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/replicator.h"
#include "core/duration.h"
#include "core/random_id.h"

namespace berth::cluster {
namespace asio = boost::asio;

std::optional<Error> Replicator::conflict(const std::string& name, int64_t seen,
                                          const etcd::TxnReply& txn) {
  if (txn.ranges.empty()) return std::nullopt;
  const auto& kvs = txn.ranges.front().kvs;
  const int64_t now = kvs.empty() ? 0 : kvs.front().mod_revision;
  if (now == seen) return std::nullopt;
  std::string what = "changed";
  if (!kvs.empty())
    if (auto d = decode_desired(kvs.front().value))
      what = fmt::format("{} by {} from {}", d->state == "destroyed" ? "destroyed" : "deployed",
                         d->deployment, d->origin);
  return Error{Code::kConflict,
               fmt::format("\"{}\" was {} since this node last saw it (revision {}, now {}); "
                           "nothing was changed: look at it and try again",
                           name, what, seen, now)};
}

bool Replicator::landed(etcd::TxnReply& txn, const std::string& deployment) {
  if (txn.succeeded || txn.ranges.empty() || txn.ranges.front().kvs.empty()) return false;
  const auto& kv = txn.ranges.front().kvs.front();
  auto d = decode_desired(kv.value);
  if (!d || d->deployment != deployment) return false;
  txn.succeeded = true;
  txn.revision = kv.mod_revision;
  return true;
}

std::optional<Error> Replicator::superseded(const std::string& name,
                                            const std::string& release) const {
  auto it = comps_.find(name);
  if (it == comps_.end() || it->second.desired.state != "live")
    return Error{Code::kComponentDestroyed,
                 "\"" + name + "\" was destroyed in the cluster meanwhile"};
  const auto& d = it->second.desired;
  if (d.release == release && d.reverts.empty()) return std::nullopt;
  if (d.reverts == release) return Error{Code::kRolloutStopped, "the rollout stopped: " + d.reason};
  if (d.release == release) return std::nullopt;
  return Error{Code::kConflict,
               fmt::format("superseded here by a newer deploy of \"{}\" ({} from {})", name,
                           d.deployment, d.origin)};
}

asio::awaitable<void> Replicator::wait_for_peers(const std::string& id) {
  const std::function<bool()> done = [this, id] {
    auto p = pending_.find(id);
    return stopping_ || p == pending_.end() || p->second.done();
  };
  co_await changed_.wait_until(done, StateEvent::Clock::now() + ctx_.config.peer_timeout);
}

asio::awaitable<Result<Replicator::DestroyOutcome>> Replicator::destroy(std::string name) {
  BERTH_CO_TRY(reachable("destroyed"));
  const auto& v = ctx_.view;
  auto seen = comps_.find(name);
  const bool here = ctx_.local.deployed_here(name);
  if (seen == comps_.end() && !here)
    co_return fail(Code::kNotFound, "no component named \"" + name + "\" in the cluster");
  DestroyOutcome out;
  if (seen != comps_.end() && seen->second.desired.state == "destroyed" && !here) {
    out.already = true;  // idempotent: the cluster says so already and nothing is left here
    co_return out;
  }
  Desired d;
  d.state = "destroyed";
  d.deployment = "rm-" + random_hex(6);
  d.origin = v.self;
  d.expected = v.up_peers();
  const int64_t rev = seen == comps_.end() ? 0 : seen->second.revision;
  using etcd::Compare, etcd::TxnOp;
  const std::vector<Compare> compare = {
      {ctx_.keys.comp(name), Compare::Target::kMod, Compare::Op::kEqual, rev, ""}};
  const std::vector<TxnOp> ops = {{TxnOp::Kind::kPut, ctx_.keys.comp(name), encode(d), "", 0}};
  const std::vector<TxnOp> otherwise = {{TxnOp::Kind::kRange, ctx_.keys.comp(name)}};
  // Before the txn, as a deploy's: peers may answer before its reply is read.
  pending_[d.deployment] = pending_for(name, d.expected);
  auto txn = co_await ctx_.etcd.txn(compare, ops, otherwise);
  if (!txn || (!txn->succeeded && !landed(*txn, d.deployment))) {
    pending_.erase(d.deployment);
    BERTH_CO_TRY(txn);
    auto lost = conflict(name, rev, *txn);
    co_return std::unexpected(lost.value_or(Error{Code::kConflict, "comp/" + name + " changed"}));
  }
  wrote(name, txn->revision, d);
  pending_[d.deployment].revision = txn->revision;
  spdlog::info("cluster: {} destroyed in the cluster ({}), waiting for {}", name, d.deployment,
               d.expected.empty() ? "no peer" : fmt::format("{}", fmt::join(d.expected, ", ")));
  auto local = co_await ctx_.local.destroy_here(name);
  if (!local) {
    // The desired state says destroyed: the other nodes go on, and a retry here finishes.
    pending_.erase(d.deployment);
    co_return std::unexpected(local.error());
  }
  co_await wait_for_peers(d.deployment);
  out.peers = pending_[d.deployment].outcomes(ctx_.config.peer_timeout,
                                              "; it destroys " + name + " when it is back");
  pending_.erase(d.deployment);
  co_return out;
}

asio::awaitable<void> Replicator::destroy_one(std::string name, std::string id, bool expected) {
  spdlog::info("cluster: {} was destroyed in the cluster; destroying it here", name);
  PeerResult r;
  r.node = ctx_.view.self;
  r.phase = "destroying";
  r.phases = {r.phase};
  r.started_at = now_ms();
  auto done = co_await ctx_.local.destroy_here(name);
  r.status = done ? "success" : "failed";
  if (!done) {
    r.error = done.error();
    spdlog::error("cluster: destroying {} here: {}", name, done.error().message);
  }
  r.ended_at = now_ms();
  if (expected) report(id, r);
}

}  // namespace berth::cluster
