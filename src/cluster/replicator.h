// Deploys across the cluster (lesson 4): the origin announces an upload in one etcd txn
// (deploy/<id> with the nodes it expects, and comp/<name>), every other node converges to
// comp/<name> by fetching the payload from a holder and running the same pipeline, under the
// same deployment id when it was expected, and reports each phase in its own
// deploy/<id>/peer/<node> key; the origin folds those into its terminal write. One writer per
// key throughout. Fed by cluster::Node (listed keys, watch events, nodes gone). Event loop.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/key_writer.h"
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
  void on_comp(const std::string& name, const std::string& value, bool from_watch);
  void on_peer(const std::string& id, const std::string& node, const std::string& value);
  // A node's lease lapsed or it restarted: deploys waiting on it stop waiting for it.
  void on_node_gone(const std::string& node, const std::string& why);

  // Daemon shutdown: deploys waiting for their peers stop waiting (those not heard from are
  // `unreachable`) and no new converge starts.
  void stop();

  // ReplicationHook
  boost::asio::awaitable<Result<void>> announce(DeploymentRow& row) override;
  boost::asio::awaitable<void> settle(DeploymentRow& row) override;
  // DeploymentObserver: a deploy run for an origin reports its phases and end.
  void on_phase(const DeploymentRow& row) override;
  void on_end(const DeploymentRow& row) override;

 private:
  struct Pending {  // an announced deploy, at its origin
    std::vector<std::string> expected, down;
    std::map<std::string, PeerResult> results;
    std::map<std::string, std::shared_ptr<http::StreamHandle>> follows;  // peers' event streams
    int following = 0;                                                   // of those, still running
    bool done() const;
  };
  // Copies a peer's install lines into this deploy's log, prefixed with its node, until the
  // peer's deployment ends (its stored events replay first, so a late start misses nothing)
  // or `handle` is cancelled (the deploy settled).
  boost::asio::awaitable<void> follow_peer(std::string id, std::string node, http::Url url,
                                           std::shared_ptr<http::StreamHandle> handle);
  // `deployment`: run under the origin's id (this node was expected), else as a converge.
  void converge(const std::string& name, const Desired& d, const std::string& deployment);
  boost::asio::awaitable<void> converge_one(std::string name, Desired d, std::string deployment);
  void report(const std::string& id, const PeerResult& r);
  void fold(DeploymentRow& row, Pending& p);

  ReplicatorContext ctx_;
  std::map<std::string, Pending> pending_;
  std::map<std::string, PeerResult> mine_;  // deploys this node runs for an origin, by id
  std::set<std::string> attempted_;         // releases this daemon has run or is running
  std::set<std::string> running_deploys_;   // as listed: ids of deploy/ not yet ended
  StateEvent changed_;
  bool stopping_ = false;
};

}  // namespace berth::cluster
