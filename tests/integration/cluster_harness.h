// A real cluster for tests: a 3-member etcd on loopback and N berth daemons, each with its own
// home, joined under node names n1..nN with a shared secret and a short lease TTL. Skips
// (available() false, why() says) where etcd is not installed.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "etcd_cluster.h"
#include "harness.h"
#include "test_ca.h"

namespace berth::testing {

class TestCluster {
 public:
  // `config`: extra config.toml text for every node (after its [cluster] table's keys). With
  // `ca`, everything runs over TLS with certificates it signs: etcd's client URLs (which
  // require a client certificate), every node's API, and the nodes' calls to each other.
  explicit TestCluster(int nodes = 3, const std::string& cluster_keys = "", TestCa* ca = nullptr);

  bool available() const { return etcd.available(); }
  const std::string& why() const { return etcd.why(); }
  TestDaemon& node(int i) { return *daemons[i - 1]; }  // 1-based, as named
  int size() const { return static_cast<int>(daemons.size()); }
  std::string secret() const { return secret_; }

  // GET /v1/nodes on node i.
  json nodes(int i);
  // Until node i sees every node in `up` up and every other node down.
  void wait_view(int i, const std::vector<std::string>& up);
  // Starts node i again (after kill9), same home.
  void restart(int i);

  EtcdCluster etcd;
  std::vector<std::unique_ptr<TestDaemon>> daemons;

 private:
  TempDir dir_;
  std::string secret_;
};

// The peer_results entry of `node` in a deployment record (null when absent).
json peer_result(const json& deployment, const std::string& node);

}  // namespace berth::testing
