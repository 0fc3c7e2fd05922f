// Deploys across the cluster (lesson 4): the origin announces an upload in one etcd txn
// (deploy/<id> with the nodes it expects, and comp/<name>), every other node converges to
// comp/<name> by fetching the payload from a holder and running the same pipeline, under the
// same deployment id when it was expected, and reports each phase in its own
// deploy/<id>/peer/<node> key; the origin folds those into its terminal write. One writer per
// key throughout. A destroy is a desired state too (comp/<name> says `destroyed`, a value and
// never a deletion): every node destroys the component and reports under the destroy's id.
// Every write of comp/<name> compares the revision this node last saw, so a deploy or destroy
// that did not see the one committed before it loses with `conflict`. Fed by cluster::Node
// (listed keys, watch events, nodes gone). Event loop.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/key_writer.h"
#include "cluster/local_components.h"
#include "cluster/schema.h"
#include "cluster/view.h"
#include "config/cluster_config.h"
#include "core/state_event.h"
#include "deploy/deployer.h"
#include "deploy/observer.h"
#include "deploy/replication.h"

namespace berth::cluster {

struct ReplicatorContext {
  boost::asio::any_io_executor ex;
  etcd::Client& etcd;
  KeyWriter& writer;
  const Keys& keys;
  const View& view;
  Deployer& deployer;
  const ClusterConfig& config;
  LocalComponents& local;
  http::TlsContext tls;            // for https peers
  std::function<int64_t()> lease;  // this node's lease now (0: none)
};

class Replicator final : public ReplicationHook, public DeploymentObserver {
 public:
  explicit Replicator(ReplicatorContext ctx);

  // A fresh list of every key (at start, after a lost lease, a cut or compacted watch):
  // results that arrived meanwhile count, and every component whose desired release this
  // node does not run converges.
  void on_listed(const etcd::RangeReply& all);
  // comp/<name> at `revision` (its mod revision); gone(): deleted, which berth never does.
  void on_comp(const std::string& name, const std::string& value, int64_t revision,
               bool from_watch);
  void on_comp_gone(const std::string& name) { comps_.erase(name); }
  // A component deployed here that the desired state (as last listed and watched) does not
  // name at all: it is kept and reported, never destroyed for being absent.
  bool orphan(const std::string& name) const { return listed_ && !comps_.contains(name); }
  void on_peer(const std::string& id, const std::string& node, const std::string& value);
  // A node's lease lapsed or it restarted: deploys waiting on it stop waiting for it.
  void on_node_gone(const std::string& node, const std::string& why);

  // `berth rm` in cluster mode, at the node it was sent to: comp/<name> becomes destroyed in
  // one txn that compares the revision last seen (`conflict` when a deploy or destroy
  // committed meanwhile; `cluster_unavailable` when etcd is away: nothing changes either
  // way), then this node destroys it and waits, up to peer_timeout, for every peer that was
  // up to say it did. `not_found` when neither the cluster nor this node knows the name.
  struct DestroyOutcome {
    bool already = false;  // destroyed before, here and in the desired state
    std::vector<PeerResult> peers;
  };
  boost::asio::awaitable<Result<DestroyOutcome>> destroy(std::string name);

  // Daemon shutdown: deploys waiting for their peers stop waiting (those not heard from are
  // `unreachable`) and no new converge starts.
  void stop();

  // ReplicationHook
  boost::asio::awaitable<Result<void>> announce(DeploymentRow& row) override;
  boost::asio::awaitable<void> settle(DeploymentRow& row) override;
  boost::asio::awaitable<Result<std::shared_ptr<void>>> rollout_slot(
      const DeploymentRow& row, const DeploySpec& spec, const std::atomic<bool>* cancel) override;
  boost::asio::awaitable<void> stop_rollout(const DeploymentRow& row, const Error& why) override;
  // A rollout slot was freed: deploys waiting for one try again.
  void on_slot_freed() {
    ++rollout_events_;
    changed_.notify_all();
  }
  // DeploymentObserver: a deploy run for an origin reports its phases and end.
  void on_phase(const DeploymentRow& row) override;
  void on_end(const DeploymentRow& row) override;

 private:
  struct Pending {  // an announced deploy or destroy, at its origin
    std::string component;
    // Of the txn that announced it; until its reply is read, none older can supersede it.
    int64_t revision = std::numeric_limits<int64_t>::max();
    std::vector<std::string> expected, down;
    std::map<std::string, PeerResult> results;
    std::map<std::string, std::shared_ptr<http::StreamHandle>> follows;  // peers' event streams
    int following = 0;                                                   // of those, still running
    bool done() const;
    // comp/<component> moved on to `by` before these peers said anything: a peer that lists
    // the desired state (after a lost watch) sees only the newer one and never answers for
    // this one, so each peer with no result yet ends here as superseded instead of being
    // waited for until peer_timeout. Returns those peers.
    std::vector<std::string> superseded_by(const Desired& by);
    // Every peer's result once waiting is over: an expected peer with none is `unreachable`
    // (`waited` is how long), a member down at the start `down` ("<node> was down<when_back>").
    std::vector<PeerResult> outcomes(Millis waited, const std::string& when_back) const;
  };
  // What the origin waits for, registered before the announcing txn is sent.
  Pending pending_for(const std::string& component, const std::vector<std::string>& expected) const;
  // Copies a peer's install lines into this deploy's log, prefixed with its node, until the
  // peer's deployment ends (its stored events replay first, so a late start misses nothing)
  // or `handle` is cancelled (the deploy settled).
  boost::asio::awaitable<void> follow_peer(std::string id, std::string node, http::Url url,
                                           std::shared_ptr<http::StreamHandle> handle);
  // Puts have/<digest>/<self> for the wanted payloads held here but not in `announced`.
  void announce_payloads(const std::set<std::string>& announced);
  // `deployment`: run under the origin's id (this node was expected), else as a converge.
  void converge(const std::string& name, const Desired& d, const std::string& deployment);
  boost::asio::awaitable<void> converge_one(std::string name, Desired d, std::string deployment);
  // A converge that could not start here (its payload's holders down or out of reach, etcd
  // away, the disk full, a deployment of the name in flight), or a run of the wanted release
  // (a converge, or this node's own deploy) that failed for a reason that passes (see
  // retry_failed_run): none of that is final, so it is tried again after a pause (1 s,
  // doubling to 60 s, back to 1 s once a run of the name succeeds) for as long as the cluster
  // wants that release. A run that failed on its own content (its install or its start
  // failed) is not: it would fail the same way again.
  boost::asio::awaitable<void> converge_again(std::string name, std::string release);
  // After a run of `row.release` here ended: tries it again (converge_again) when it failed
  // for a reason that passes (etcd or a peer away, a lock lost or timed out, the disk full or
  // failing, the store refusing, no free address) and the cluster still wants that release.
  void retry_failed_run(const DeploymentRow& row);
  // comp/<name> wants live release d here: go back (a stopped rollout), nothing (run already),
  // or converge to it.
  void reconcile_live(const std::string& name, const Desired& d, bool from_watch);
  // A peer's side of a destroy: destroys it here and, when expected, reports under `id`.
  boost::asio::awaitable<void> destroy_one(std::string name, std::string id, bool expected);
  // Until every expected peer of `id` ended, or peer_timeout, or stop().
  boost::asio::awaitable<void> wait_for_peers(const std::string& id);
  // Unless comp/<name> as last seen still wants `release` live, why not: component_destroyed,
  // or conflict naming the newer deploy (a converge that fetched for long must not bring back
  // what was destroyed or superseded meanwhile).
  std::optional<Error> superseded(const std::string& name, const std::string& release) const;
  void report(const std::string& id, const PeerResult& r);
  // comp/<name> is `d` at `revision` (this node's own write, its txn's reply just read), unless
  // the watch delivered a newer write meanwhile: that one stays, or the next write here would
  // compare a stale revision and superseded() would refuse a converge to the newer release.
  void wrote(const std::string& name, int64_t revision, const Desired& d);
  // cluster_unavailable unless this node reaches etcd now ("nothing was <done>").
  Result<void> reachable(const std::string& done) const;
  // A txn that compared comp/<name> at `seen` and failed, its otherwise-branch having read
  // comp/<name>: the `conflict` naming what was committed meanwhile (nullopt: it was not that
  // compare that failed).
  static std::optional<Error> conflict(const std::string& name, int64_t seen,
                                       const etcd::TxnReply& txn);
  // The same failed txn, when what its otherwise-branch read is our own write of
  // `deployment`: an earlier try of this txn was carried out and its reply lost (the endpoint
  // died after the commit), and the client's retry on the next endpoint failed its compare.
  // Turns `txn` into the success it was (the revision is that write's) and says so.
  static bool landed(etcd::TxnReply& txn, const std::string& deployment);
  void fold(DeploymentRow& row, Pending& p);
  // comp/<name> undoes a stopped rollout and this node runs the stopped release: back it goes.
  void go_back(const std::string& name, const Desired& d);
  // After a list: answers each destroy that expected this node and that it never answered,
  // with nothing of it here (its watch was cut before the event).
  void answer_listed_destroys(const std::set<std::string>& reported);

  ReplicatorContext ctx_;
  std::map<std::string, Pending> pending_;
  std::map<std::string, PeerResult> mine_;  // deploys this node runs for an origin, by id
  std::set<std::string> attempted_;         // releases this daemon has run or is running
  std::map<std::string, std::chrono::milliseconds> converge_pause_;  // per name, see converge_again
  std::set<std::string> running_deploys_;  // as listed: ids of deploy/ not yet ended
  struct Seen {
    int64_t revision = 0;  // comp/<name>'s mod revision: what the next write compares
    Desired desired;
  };
  std::map<std::string, Seen> comps_;  // comp/<name> as last listed, watched or written here
  bool listed_ = false;                // comps_ holds a whole list (orphan() can tell)
  StateEvent changed_;
  uint64_t rollout_events_ = 0;  // slots freed and comp/ changes, for rollout_slot's waits
  bool stopping_ = false;
};

}  // namespace berth::cluster
