#include "cluster_harness.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

namespace berth::testing {

namespace {

EtcdTls etcd_tls(TestCa* ca) {
  if (!ca) return {};
  auto issued = ca->issue("etcd");
  return {issued.cert, issued.key, ca->ca()};
}

}  // namespace

TestCluster::TestCluster(int nodes, const std::string& cluster_keys, TestCa* ca)
    : etcd(3, etcd_tls(ca)) {
  if (!etcd.available()) return;
  secret_ = "s3cret-for-the-test-cluster-0123456789";
  const auto secret_file = dir_.path / "secret";
  std::ofstream(secret_file) << secret_ << "\n";
  for (int i = 1; i <= nodes; ++i) {
    auto d = std::make_unique<TestDaemon>(
        std::map<std::string, std::string>{{"BERTH_ETCD", etcd.endpoint_list()},
                                           {"BERTH_NODE", "n" + std::to_string(i)},
                                           {"BERTH_CLUSTER_SECRET_FILE", secret_file.string()}},
        TestDaemon::Start::kLater);
    std::string api, tls_keys;
    if (ca) {
      auto issued = ca->issue("n" + std::to_string(i));
      api = fmt::format("[api]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n", issued.cert.string(),
                        issued.key.string());
      tls_keys = fmt::format("ca = \"{}\"\n", ca->ca().string());
    }
    d->write_config(api + "[cluster]\nlease_ttl = \"3s\"\npeer_timeout = \"60s\"\n" + tls_keys +
                    cluster_keys);
    d->start();
    daemons.push_back(std::move(d));
  }
  std::vector<std::string> all;
  for (int i = 1; i <= nodes; ++i) all.push_back("n" + std::to_string(i));
  for (int i = 1; i <= nodes; ++i) wait_view(i, all);
}

json TestCluster::nodes(int i) {
  return node(i).api("GET", "/v1/nodes").body;
}

void TestCluster::wait_view(int i, const std::vector<std::string>& up) {
  json last;
  bool ok = poll_until([&] {
    last = nodes(i);
    if (!last.is_object() || !last.value("connected", false)) return false;
    size_t seen_up = 0;
    for (auto& n : last["nodes"]) {
      const bool want = std::find(up.begin(), up.end(), n.value("name", "")) != up.end();
      if (want != (n.value("state", "") == "up")) return false;
      seen_up += want;
    }
    return seen_up == up.size();
  });
  EXPECT_TRUE(ok) << "n" << i << " sees: " << last.dump();
}

void TestCluster::restart(int i) {
  node(i).start();
}

json peer_result(const json& deployment, const std::string& node) {
  for (auto& p : deployment.value("peer_results", json::array()))
    if (p.value("node", "") == node) return p;
  return nullptr;
}

}  // namespace berth::testing
