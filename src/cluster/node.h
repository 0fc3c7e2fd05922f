// One daemon as a node of a cluster on etcd: it holds a lease (kept alive every TTL/3 on the
// event loop) bound to its nodes/<node> key, lists the cluster's keys and then watches them
// from the listed revision, and feeds both to the replicator. A lost lease joins again; a cut
// or compacted watch lists again; etcd away changes nothing here but `connected` (a node
// never stops what it runs because etcd is away). Owns the etcd client. Event-loop thread.
#pragma once
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cache_share.h"
#include "cluster/etcd_client.h"
#include "cluster/key_writer.h"
#include "cluster/replicator.h"
#include "cluster/schema.h"
#include "cluster/view.h"
#include "config/cluster_config.h"
#include "core/state_event.h"
#include "deploy/deployer.h"

namespace berth::cluster {

struct NodeContext {
  boost::asio::io_context& io;
  const ClusterConfig& config;
  Deployer& deployer;
  std::string version;
  std::function<std::vector<std::string>()> components;  // the names this node runs
  LocalComponents& local;
  http::TlsContext tls;  // verifies https etcd endpoints and peers (null: none are https)
  // After each join: the node holds a new lease, and none of the keys the last one carried.
  std::function<void()> joined;
};

class Node {
 public:
  explicit Node(NodeContext ctx);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Joins with `url` as the address peers use, and keeps at it until stop().
  void start(const std::string& url);
  // Revokes the lease (peers see this node down at once) and ends the loop.
  boost::asio::awaitable<void> stop();
  // The set of components changed: nodes/<node> is written again.
  void components_changed();

  const View& view() const { return view_; }
  const std::string& name() const { return view_.self; }
  const std::string& secret() const { return ctx_.config.secret; }
  uint64_t etcd_requests() const { return etcd_.requests(); }
  Replicator& replicator() { return *replicator_; }
  // What the install cache's etcd locks and entry share need of this node; `who` describes
  // this daemon to nodes waiting for its install. The node must outlive their use.
  std::shared_ptr<const CacheShareContext> cache_context(std::string who);

  // The blob route's admission: at most kMaxServing payloads at once, else the peer is told
  // to try another holder (503). The token ends the serving when it is dropped.
  static constexpr int kMaxServing = 4;
  std::shared_ptr<void> serving_slot();

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<Result<void>> join();
  boost::asio::awaitable<void> keep_alive(int64_t lease);
  // Lists everything, then watches from there until the watch ends.
  boost::asio::awaitable<Result<void>> sync(std::shared_ptr<http::StreamHandle> watch);
  void apply(const etcd::WatchEvent& e);
  void apply_node(const std::string& name, const etcd::KeyValue* kv, bool member);
  void set_connected(bool up, const std::string& why = "");
  NodeRecord record() const;
  boost::asio::awaitable<void> pause(std::chrono::milliseconds d);

  NodeContext ctx_;
  Keys keys_;
  etcd::Client etcd_;
  KeyWriter writer_;
  View view_;
  std::unique_ptr<Replicator> replicator_;
  std::string url_, boot_id_;
  int64_t started_at_ = 0;
  int64_t lease_ = 0;
  bool lease_lost_ = false, stopping_ = false, running_ = false;
  std::shared_ptr<http::StreamHandle> watch_;
  StateEvent wake_;
  std::shared_ptr<int> serving_ = std::make_shared<int>(0);
};

}  // namespace berth::cluster
