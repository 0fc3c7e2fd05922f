// One install per cluster: with separate cache directories the install lock of a key is an
// etcd key on the holder node's lease and the other nodes fetch the entry the holder packed;
// a holder killed mid-install frees the lock when its lease lapses; with one shared directory
// the others link the entry as on one machine. The install command appends the node's name
// to RUNS, so the count of lines is the count of installs, cluster-wide.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "cluster/etcd_codec.h"
#include "core/fs_util.h"
#include "cluster_harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

// `hold`: shell run before the install proper (it may stop there).
std::string cached_app(const fs::path& runs, const std::string& hold = "") {
  return "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n[install]\ncommand = \"echo $BERTH_NODE >> " + runs.string() +
         "; " + hold + "mkdir -p vendor && cp deps.txt vendor/lib.txt\"\n" +
         "inputs = [\"deps.txt\"]\noutputs = [\"vendor\"]\n";
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

fs::path app_dir(TestCluster& c, const std::string& toml) {
  auto dir = c.node(1).component("app", toml);
  std::ofstream(dir / "deps.txt") << "left-pad 1.3.0\n";
  return dir;
}

// The install record of deployment `id` on each of `nodes`, by how it was satisfied; each of
// them must run its release (the origin's record may still be `partial` for a dead peer).
struct Installs {
  int misses = 0, fetched = 0, linked = 0;
};
Installs installs_of(TestCluster& c, const std::string& id, const std::vector<int>& nodes) {
  Installs n;
  for (int i : nodes) {
    auto d = wait_ended(c.node(i), id);
    EXPECT_EQ(c.node(i).wait_state("app", "ready")["release"], d["release"]) << "n" << i;
    auto info = d["install"];
    if (info["cache"] == "miss") ++n.misses;
    if (info["cache"] == "hit") ++(info.value("fetched", false) ? n.fetched : n.linked);
  }
  return n;
}

// A deploy of "app" from n1 that `runs` says ran one install, cluster-wide: n1's record is
// `success` and the other two nodes fetched the entry. Returns the deployment's id.
std::string expect_one_install_fetched_by_the_others(TestCluster& c, const fs::path& runs) {
  EXPECT_EQ(lines_of(runs).size(), 1u);
  const std::string id =
      c.node(1).api("GET", "/v1/deployments?component=app").body["deployments"][0]["id"];
  EXPECT_EQ(deployment(c.node(1), id)["status"], "success");
  auto n = installs_of(c, id, {1, 2, 3});
  EXPECT_EQ(n.misses, 1);
  EXPECT_EQ(n.fetched, 2);
  return id;
}

std::string release_file(TestCluster& c, int i) {
  std::ifstream in(c.node(i).home() / "components" / "app" / "vendor" / "lib.txt");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ClusterCache, ThreeNodesWithSeparateCachesRunOneInstallAndTheOthersFetchIt) {
  TestCluster cluster;
  if (!cluster.available()) GTEST_SKIP() << cluster.why();
  TempDir scratch;
  const auto runs = scratch.path / "runs";
  auto r =
      cluster.node(1).cli({"deploy", app_dir(cluster, cached_app(runs)).string(), "--name", "app"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  expect_one_install_fetched_by_the_others(cluster, runs);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(release_file(cluster, i), "left-pad 1.3.0\n") << "n" << i;
    // Filed in each node's own cache, so that node serves it too and its next deploy hits.
    auto entries = cluster.node(i).api("GET", "/v1/cache").body;
    EXPECT_EQ(entries["lock"], "etcd");
    EXPECT_EQ(entries["entries"].size(), 1u) << "n" << i << ": " << entries.dump();
    // The log names the locks it uses, not the local ones it had before the cluster was set.
    const std::string log = read_tail(cluster.node(i).home() / "daemon.log", 1 << 20);
    EXPECT_NE(log.find("(etcd locks)"), std::string::npos) << log;
    EXPECT_EQ(log.find("(ofd locks)"), std::string::npos) << log;
  }
}

// The install lock's take carried out, its reply lost (failpoint etcd.txn_reply, on every
// node for its first lock take and on n1 for its announce before that): the retry on the next
// endpoint finds the key the node just created. Taken for another holder's, the node that won
// would wait on itself until the lock's deadline (the install's timeout), then every node
// would install on its own; it is told by the take's nonce and installs at once.
TEST(ClusterCache, AnInstallLockWhoseTakeReplyIsLostIsHeldByItsTaker) {
  TestCluster cluster;
  if (!cluster.available()) GTEST_SKIP() << cluster.why();
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(cluster.node(i).arm("etcd.txn_reply", i == 1 ? "ECONNRESET*2" : "ECONNRESET*1"));
  TempDir scratch;
  const auto runs = scratch.path / "runs";
  auto r =
      cluster.node(1).cli({"deploy", app_dir(cluster, cached_app(runs)).string(), "--name", "app"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  expect_one_install_fetched_by_the_others(cluster, runs);
  // The node that installed took the lock, and its first take was the one cut.
  const auto installer = lines_of(runs).at(0);
  const int armed = installer == "n1" ? 2 : 1;
  EXPECT_EQ(cluster.node(installer.back() - '0').failpoint_hits("etcd.txn_reply"), armed)
      << installer << ": the failpoint must have cut its lock take";
}

TEST(ClusterCache, AHolderKilledMidInstallFreesTheLockWhenItsLeaseLapsesAndAnotherInstalls) {
  TestCluster cluster;
  if (!cluster.available()) GTEST_SKIP() << cluster.why();
  TempDir scratch;
  const auto runs = scratch.path / "runs", pidfile = scratch.path / "pid";
  // The first install anywhere records its pid and hangs; any later one goes through.
  const std::string hold = "if mkdir " + (scratch.path / "first").string() +
                           " 2>/dev/null; then echo $$ > " + pidfile.string() +
                           "; exec sleep 600; fi; ";
  auto id = deploy_no_follow(cluster.node(1), app_dir(cluster, cached_app(runs, hold)), "app");
  ASSERT_TRUE(poll_until([&] { return read_pidfile(pidfile) > 0; }));
  const auto holder = lines_of(runs).at(0);
  const int dead = holder.back() - '0';
  cluster.node(dead).kill9();
  ::kill(read_pidfile(pidfile), SIGKILL);  // its installer, orphaned by the kill

  std::vector<int> alive;
  for (int i = 1; i <= 3; ++i)
    if (i != dead) alive.push_back(i);
  auto n = installs_of(cluster, id, alive);
  EXPECT_EQ(n.misses, 1);
  EXPECT_EQ(n.fetched, 1);
  auto ran = lines_of(runs);
  ASSERT_EQ(ran.size(), 2u);
  EXPECT_NE(ran[1], holder);
  for (int i : alive) EXPECT_EQ(release_file(cluster, i), "left-pad 1.3.0\n") << "n" << i;
}

// Whether etcd says `node` holds cache entry `key` (cache/<key>/have/<node>, on its lease).
bool says_held(TestCluster& c, const std::string& key, const std::string& node) {
  auto r = c.etcd.client().request(
      "POST", "/v3/kv/range",
      json{{"key", etcd::base64("/berth/v1/default/cache/" + key + "/have/" + node)}}.dump());
  EXPECT_TRUE(r && r->status == 200);
  return r && !json::parse(r->body).value("kvs", json::array()).empty();
}

// The have/ keys live on the node's lease: a node back with a new lease says again what it
// holds, or the next node that misses installs what is already in the cluster.
TEST(ClusterCache, ANodeBackWithANewLeaseAnnouncesTheEntriesItHoldsAgain) {
  TestCluster cluster(2);
  if (!cluster.available()) GTEST_SKIP() << cluster.why();
  TempDir scratch;
  auto id =
      deploy_no_follow(cluster.node(1), app_dir(cluster, cached_app(scratch.path / "runs")), "app");
  installs_of(cluster, id, {1, 2});
  auto entries = cluster.node(1).api("GET", "/v1/cache").body["entries"];
  ASSERT_EQ(entries.size(), 1u) << entries.dump();
  const std::string key = entries[0]["key"];
  ASSERT_TRUE(poll_until([&] { return says_held(cluster, key, "n1"); }));

  cluster.node(1).kill9();
  ASSERT_TRUE(poll_until([&] { return !says_held(cluster, key, "n1"); }))
      << "the lease of the killed node did not lapse";
  cluster.restart(1);
  EXPECT_TRUE(poll_until([&] { return says_held(cluster, key, "n1"); }))
      << "n1 holds the entry but the cluster is not told";
  EXPECT_TRUE(says_held(cluster, key, "n2"));
}

TEST(ClusterCache, WithOneSharedCacheDirectoryTheOtherNodesLinkTheEntry) {
  TempDir shared;
  TestCluster cluster(3, "\n[cache]\ndir = \"" + shared.path.string() + "\"\n");
  if (!cluster.available()) GTEST_SKIP() << cluster.why();
  TempDir scratch;
  const auto runs = scratch.path / "runs";
  auto id = deploy_no_follow(cluster.node(1), app_dir(cluster, cached_app(runs)), "app");
  auto n = installs_of(cluster, id, {1, 2, 3});
  EXPECT_EQ(deployment(cluster.node(1), id)["status"], "success");
  EXPECT_EQ(n.misses, 1);
  EXPECT_EQ(n.linked, 2);
  EXPECT_EQ(lines_of(runs).size(), 1u);
}

}  // namespace
}  // namespace berth::testing
