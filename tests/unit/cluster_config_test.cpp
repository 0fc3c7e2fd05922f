// The [api] and [cluster] tables: cluster mode from the file or BERTH_*, its defaults, and the
// refusals (no secret, a short secret, a non-loopback API without TLS, a wildcard listen with
// no advertised URL).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "config/daemon_config.h"
#include "support/temp_dir.h"

namespace berth {
namespace {

struct ClusterConfigTest : ::testing::Test {
  void SetUp() override {
    for (const char* v : {"BERTH_ETCD", "BERTH_NODE", "BERTH_CLUSTER_SECRET_FILE", "BERTH_LISTEN",
                          "BERTH_ADVERTISE"})
      ::unsetenv(v);
    std::ofstream(home.path / "secret") << "0123456789abcdef0123\n";
  }
  void TearDown() override { SetUp(); }
  Result<DaemonConfig> load(const std::string& toml) {
    std::ofstream(home.path / "config.toml") << toml;
    return load_daemon_config(home.path);
  }
  test::TempDir home;
};

TEST_F(ClusterConfigTest, WithoutEtcdNothingChanges) {
  auto c = load("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->cluster.enabled());
  EXPECT_EQ(c->api.listen, "127.0.0.1");
}

TEST_F(ClusterConfigTest, TheFileGivesClusterModeWithDefaults) {
  auto c = load(
      "[cluster]\netcd = [\"http://127.0.0.1:2379\", \"http://127.0.0.1:2381\"]\n"
      "secret_file = \"secret\"\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->cluster.enabled());
  EXPECT_EQ(c->cluster.etcd.size(), 2u);
  EXPECT_EQ(c->cluster.name, "default");
  EXPECT_FALSE(c->cluster.node.empty());  // the host name
  EXPECT_EQ(c->cluster.secret, "0123456789abcdef0123");
  EXPECT_EQ(c->cluster.lease_ttl, Millis(10'000));
  EXPECT_EQ(c->cluster.peer_timeout, Millis(600'000));
}

TEST_F(ClusterConfigTest, TheInstallLockIsEtcdInAClusterAndRefusedOutsideOne) {
  const std::string cluster =
      "[cluster]\netcd = [\"http://127.0.0.1:2379\"]\nsecret_file = \"secret\"\n";
  EXPECT_EQ(load(cluster)->cache.lock, "etcd");
  EXPECT_EQ(load(cluster + "[cache]\nlock = \"ofd\"\n")->cache.lock, "ofd");
  EXPECT_EQ(load("")->cache.lock, "ofd");
  auto c = load("[cache]\nlock = \"etcd\"\n");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kBadConfig);
  EXPECT_NE(c.error().message.find("needs a cluster"), std::string::npos) << c.error().message;
}

TEST_F(ClusterConfigTest, TheEnvironmentGivesItToo) {
  ::setenv("BERTH_ETCD", "http://127.0.0.1:1, http://127.0.0.1:2", 1);
  ::setenv("BERTH_NODE", "n7", 1);
  ::setenv("BERTH_CLUSTER_SECRET_FILE", (home.path / "secret").c_str(), 1);
  auto c = load("[cluster]\nlease_ttl = \"3s\"\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->cluster.etcd,
            (std::vector<std::string>{"http://127.0.0.1:1", "http://127.0.0.1:2"}));
  EXPECT_EQ(c->cluster.node, "n7");
  EXPECT_EQ(c->cluster.lease_ttl, Millis(3000));
}

TEST_F(ClusterConfigTest, RefusalsNameTheKey) {
  const std::string etcd = "[cluster]\netcd = [\"http://127.0.0.1:2379\"]\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {etcd, "secret_file"},
      {etcd + "secret_file = \"missing\"\n", "cannot read"},
      {etcd + "secret_file = \"secret\"\nnode = \"a b\"\n", "cluster.node"},
      {etcd + "secret_file = \"secret\"\nlease_ttl = \"1s\"\n", "cluster.lease_ttl"},
      {etcd + "secret_file = \"secret\"\nwho = 1\n", "unknown key"},
      {"[cluster]\netcd = [\"ftp://127.0.0.1:1\"]\nsecret_file = \"secret\"\n", "expected http"},
      {"[api]\ntls_cert = \"cert.pem\"\n", "go together"},
      {"[cluster]\netcd = [\"http://etcd.local:2379\"]\nsecret_file = \"secret\"\n", "IP address"},
      {"[api]\nlisten = \"0.0.0.0\"\n", "insecure_http"},
      {"[api]\nlisten = \"nonsense\"\n", "api.listen"},
      {"[api]\nlisten = \"0.0.0.0\"\ninsecure_http = true\n" + etcd + "secret_file = \"secret\"\n",
       "cluster.advertise"},
  };
  std::ofstream(home.path / "short") << "tooshort";
  for (auto& [toml, needle] : cases) {
    auto c = load(toml);
    ASSERT_FALSE(c) << toml;
    EXPECT_EQ(c.error().code, Code::kBadConfig);
    EXPECT_NE(c.error().message.find(needle), std::string::npos)
        << toml << " -> " << c.error().message;
  }
  // The short secret is refused for its length once it can be read.
  auto c = load(etcd + "secret_file = \"" + (home.path / "short").string() + "\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("fewer than 16"), std::string::npos) << c.error().message;
}

TEST_F(ClusterConfigTest, ANonLoopbackApiNeedsTheExplicitOptOut) {
  auto c = load("[api]\nlisten = \"0.0.0.0\"\ninsecure_http = true\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->api.listen, "0.0.0.0");
}

TEST_F(ClusterConfigTest, ANonLoopbackApiWithTlsNeedsNoOptOut) {
  auto c = load(
      "[api]\nlisten = \"0.0.0.0\"\ntls_cert = \"tls/cert.pem\"\ntls_key = \"/etc/k.pem\"\n"
      "[cluster]\netcd = [\"https://127.0.0.1:2379\"]\nsecret_file = \"secret\"\n"
      "advertise = \"https://10.0.0.5:7070\"\nca = \"ca.pem\"\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->api.tls());
  EXPECT_EQ(c->api.tls_cert, home.path / "tls/cert.pem");  // relative to the home
  EXPECT_EQ(c->api.tls_key, "/etc/k.pem");
  EXPECT_EQ(c->cluster.ca, home.path / "ca.pem");
}

}  // namespace
}  // namespace berth
