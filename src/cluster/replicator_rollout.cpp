// The replicator's rolling deploys: a node switches to a rolling deploy's release only while
// it holds one of its max_parallel slots (rollout/<id>/slot/<k>, on its lease: a node that
// dies frees its slot within the TTL), released once its new release is ready. The first node
// whose new release fails stops the rollout: comp/<name> goes back to the release the deploy
// replaced, in a txn comparing the deploy's own revision (a newer deploy is never undone);
// nodes still waiting keep their release, and nodes that had switched roll back locally.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "cluster/owned_key.h"
#include "cluster/replicator.h"

namespace berth::cluster {
namespace asio = boost::asio;
using etcd::Compare, etcd::TxnOp;

namespace {

// A held slot: dropping it deletes the key (if it is still ours).
struct SlotHold {
  std::function<void()> release;
  ~SlotHold() { release(); }
};

}  // namespace

asio::awaitable<Result<std::shared_ptr<void>>> Replicator::rollout_slot(
    const DeploymentRow& row, const DeploySpec& spec, const std::atomic<bool>* cancel) {
  const std::string name = row.component, id = row.id, release = row.release;
  // Only the cluster's current deploy rolls; a node catching up alone goes at once.
  if (auto it = comps_.find(name); it == comps_.end() || it->second.desired.deployment != id)
    co_return std::shared_ptr<void>{};
  bool told = false;
  for (;;) {
    if (stopping_ || (cancel && cancel->load())) co_return std::shared_ptr<void>{};
    if (auto why = superseded(name, release)) co_return std::unexpected(*why);
    const int64_t lease = ctx_.lease();
    bool away = lease == 0;
    for (int k = 0; k < spec.max_parallel && !away; ++k) {
      const auto key = ctx_.keys.slot(id, k);
      const std::vector<Compare> free = {
          {key, Compare::Target::kCreate, Compare::Op::kEqual, 0, ""}};
      const std::vector<TxnOp> take = {{TxnOp::Kind::kPut, key, ctx_.view.self, "", lease}};
      const std::vector<TxnOp> read = {{TxnOp::Kind::kRange, key}};
      auto r = co_await ctx_.etcd.txn(free, take, read);
      if (!r) {
        away = true;
        break;
      }
      int64_t token = r->revision;
      // Held by this node on this lease (a node takes one slot per deploy): an earlier try was
      // carried out and its reply lost, then the retry on the next endpoint found the slot
      // taken. Passing it by would leave it held until the lease ends, the rollout stalled.
      if (!r->succeeded) {
        const auto* kv =
            r->ranges.empty() || r->ranges[0].kvs.empty() ? nullptr : &r->ranges[0].kvs[0];
        if (!kv || kv->value != ctx_.view.self || kv->lease != lease) continue;
        token = kv->create_revision;
      }
      auto hold = std::make_shared<SlotHold>();
      hold->release = [this, key, token, lease] {
        asio::co_spawn(ctx_.ex, delete_owned(ctx_.etcd, key, token, ctx_.lease, lease),
                       asio::detached);
      };
      // Stopped while the txn was in flight: give the slot back and keep the old release.
      if (auto why = superseded(name, release)) co_return std::unexpected(*why);
      co_return std::shared_ptr<void>(hold);
    }
    if (!told)
      if (auto log = ctx_.deployer.live_log(id))
        log->append("info",
                    {{"message", spec.max_parallel == 1
                                     ? std::string("waiting for the rollout's slot")
                                     : fmt::format("waiting for one of the rollout's {} slots",
                                                   spec.max_parallel)}});
    told = true;
    // A slot freed, comp/<name> changed, or a cancel; etcd away: try again soon.
    const uint64_t seen = rollout_events_;
    const std::function<bool()> moved = [this, seen, cancel] {
      return stopping_ || rollout_events_ != seen || (cancel && cancel->load());
    };
    const auto until = StateEvent::Clock::now() + std::chrono::seconds(away ? 1 : 10);
    co_await changed_.wait_until(moved, until);
  }
}

asio::awaitable<void> Replicator::stop_rollout(const DeploymentRow& row, const Error& why) {
  const std::string name = row.component;
  auto it = comps_.find(name);
  if (it == comps_.end() || it->second.desired.release != row.release) co_return;  // superseded
  const auto seen = it->second.revision;
  const auto& now = it->second.desired;
  auto log = ctx_.deployer.live_log(row.id);
  // Nothing to go back to (a first release): the rollout stops, the release stays desired.
  Desired back = now;
  if (now.previous.is_object()) {
    back.release = now.previous.value("release", "");
    back.digest = now.previous.value("digest", "");
    back.size = now.previous.value("size", int64_t{0});
  } else if (log) {
    log->append("info", {{"message", "the rollout stops here; no earlier release to go back to"}});
  }
  back.state = "live";
  back.deployment = row.id;
  back.origin = ctx_.view.self;
  back.expected.clear();
  back.previous = nullptr;
  back.reverts = row.release;
  back.reason = ctx_.view.self + ": " + why.message;
  const std::vector<Compare> same = {
      {ctx_.keys.comp(name), Compare::Target::kMod, Compare::Op::kEqual, seen, ""}};
  const std::vector<TxnOp> put = {{TxnOp::Kind::kPut, ctx_.keys.comp(name), encode(back), "", 0}};
  auto r = co_await ctx_.etcd.txn(same, put);
  if (!r || !r->succeeded) {
    spdlog::warn("cluster: stopping the rollout of {}: {}", row.id,
                 r ? "a newer deploy of " + name + " came first" : r.error().message);
    co_return;
  }
  wrote(name, r->revision, back);
  ++rollout_events_;
  changed_.notify_all();
  if (log && back.release != row.release)
    log->append("info",
                {{"message", "rollout stopped; the cluster goes back to release " + back.release}});
}

void Replicator::go_back(const std::string& name, const Desired& d) {
  if (d.release == d.reverts) return;  // a first release: nothing to go back to
  spdlog::info("cluster: {}: the rollout of {} stopped ({}); back to release {}", name,
               d.deployment, d.reason, d.release);
  auto r = ctx_.deployer.rollback(name, d.release);
  if (auto log = ctx_.deployer.live_log(d.deployment))  // the origin's record, still settling
    log->append("info",
                {{"message", fmt::format("{}: back to release {} ({})", ctx_.view.self, d.release,
                                         r ? "rollback " + r->id : "fetching it")}});
  if (r) return;
  // The release was pruned here: fetch it and deploy it as any converge.
  attempted_.erase(d.release);
  converge(name, d, "");
}

}  // namespace berth::cluster
