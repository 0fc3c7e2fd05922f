// berth as a cluster: a real 3-member etcd and three daemons (n1..n3). A deploy to any node
// runs on every node under one deployment id, with each peer's result folded into the
// origin's record; a failing or vanished peer makes it `partial`, never a silent success; a
// node that comes back converges; etcd away refuses deploys and touches nothing.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cluster/etcd_codec.h"
#include "cluster/payload_fetch.h"
#include "cluster_harness.h"
#include "core/fs_util.h"
#include "core/sha256.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

// A component that prints its version and "up", then runs until stopped; its install prints a
// line (shown per node in the deploy output) and fails on the node named in `fail_on`.
std::string app_toml(const std::string& version, const std::string& fail_on = "") {
  std::string install = "echo installing " + version + " on $BERTH_NODE";
  if (!fail_on.empty())
    install += "; if [ \\\"$BERTH_NODE\\\" = " + fail_on +
               " ]; then echo no space left on $BERTH_NODE >&2; exit 3; fi";
  return "[run]\ncommand = " + fixture_command({"print:" + version, "print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n[install]\ncommand = \"" + install + "\"\n";
}

// A component whose install, on `node` only, touches STARTED and then waits for GATE: a
// deploy held in that node's install phase exactly as long as the test wants.
std::string gated_on(const std::string& node, const fs::path& started, const fs::path& gate) {
  return "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n[install]\ncommand = \"if [ $BERTH_NODE = " + node +
         " ]; then touch " + started.string() + "; while [ ! -e " + gate.string() +
         " ]; do sleep 0.01; done; fi\"\n";
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.available()) GTEST_SKIP() << cluster.why();
  }

  // `berth deploy` on node `i`, followed to its end: the CLI's result.
  CmdResult deploy(int i, const std::string& name, const std::string& toml) {
    auto dir = cluster.node(i).component(name, toml);
    return cluster.node(i).cli({"deploy", dir.string(), "--name", name});
  }

  // A deploy of "app" from n1 whose install, on `node` only, waits until the test opens
  // open_gate(): returns its id once that install has started.
  std::string deploy_held_on(const std::string& node) {
    const auto started = gates.path / "started";
    auto dir = cluster.node(1).component("app", gated_on(node, started, gate()));
    auto id = deploy_no_follow(cluster.node(1), dir, "app");
    EXPECT_TRUE(poll_until([&] { return fs::exists(started); }));
    return id;
  }
  fs::path gate() const { return gates.path / "go"; }
  void open_gate() const { std::ofstream(gate().string()) << ""; }

  json last_deployment(int i, const std::string& name) {
    auto list = cluster.node(i).api("GET", "/v1/deployments?component=" + name).body;
    return list["deployments"].empty() ? json() : list["deployments"][0];
  }

  void destroyed_while_installing(int held);

  std::string daemon_log(int i) {
    return read_tail(cluster.node(i).home() / "daemon.log", 1 << 20);
  }

  // n3's `failpoint` fails once (`spec`) during a deploy of "app" from n1: the deploy is
  // partial with n3 failed, and then n3 tries the release again and runs it. Returns the
  // release and n3's daemon.log.
  std::pair<std::string, std::string> n3_fails_once_then_runs_the_release(
      const std::string& failpoint, const std::string& spec) {
    EXPECT_TRUE(cluster.node(3).arm(failpoint, spec));
    auto r = deploy(1, "app", app_toml("v1"));
    EXPECT_EQ(r.code, 1) << r.out << r.err;  // partial: n3 did not succeed
    EXPECT_NE(r.out.find("n3: failed"), std::string::npos) << r.out;
    EXPECT_EQ(cluster.node(3).failpoint_hits(failpoint), 1);
    const std::string release = last_deployment(1, "app")["release"];
    EXPECT_EQ(cluster.node(3).wait_state("app", "ready")["release"], release);
    std::string log = daemon_log(3);
    EXPECT_NE(log.find("app: trying release " + release + " again"), std::string::npos) << log;
    return {release, log};
  }

  TestCluster cluster;
  TempDir gates;
};

TEST_F(ClusterTest, EveryNodeIsListedUpWithItsUrlAndWhichIsThisOne) {
  auto view = cluster.nodes(2);
  ASSERT_EQ(view["nodes"].size(), 3u);
  for (auto& n : view["nodes"]) {
    EXPECT_EQ(n["state"], "up");
    EXPECT_TRUE(n["url"].get<std::string>().starts_with("http://127.0.0.1:"));
    EXPECT_EQ(n["self"], n["name"] == "n2");
  }
  // Its reconcile listed at least the three nodes' keys.
  EXPECT_GE(view["last_list"]["keys"].get<int>(), 3) << view.dump();
  EXPECT_GT(view["last_list"]["at"].get<int64_t>(), 0);
  auto r = cluster.node(2).cli({"nodes"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("n2 (this)"), std::string::npos) << r.out;
}

TEST_F(ClusterTest, ADeployFromAnyNodeRunsOnEveryNodeWithPeerResults) {
  auto r = deploy(1, "app", app_toml("v1"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("cluster: deploying to n2, n3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n2: installing"), std::string::npos) << r.out;
  // Peers' install lines, prefixed with their node.
  EXPECT_NE(r.out.find("│ n2: installing v1 on n2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("│ n3: installing v1 on n3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n3: success"), std::string::npos) << r.out;
  auto d = last_deployment(1, "app");
  EXPECT_EQ(d["status"], "success");
  ASSERT_EQ(d["peer_results"].size(), 2u) << d.dump();
  for (const char* n : {"n2", "n3"}) {
    auto p = peer_result(d, n);
    EXPECT_EQ(p["status"], "success") << d.dump();
    EXPECT_GT(p["ended_at"].get<int64_t>(), 0);
  }
  const std::string release = d["release"];
  for (int i = 1; i <= 3; ++i) {
    auto s = cluster.node(i).wait_state("app", "ready");
    EXPECT_EQ(s["release"], release) << "n" << i;
    // The same deployment id on every node.
    EXPECT_EQ(deployment(cluster.node(i), d["id"])["status"], "success") << "n" << i;
  }

  // And from another node, which also replaces the release everywhere.
  auto r2 = deploy(2, "app", app_toml("v2"));
  ASSERT_EQ(r2.code, 0) << r2.out << r2.err;
  auto d2 = last_deployment(2, "app");
  EXPECT_EQ(d2["status"], "success");
  EXPECT_EQ(peer_result(d2, "n1")["status"], "success");
  EXPECT_EQ(peer_result(d2, "n3")["status"], "success");
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(cluster.node(i).wait_state("app", "ready")["release"], d2["release"]);
}

TEST_F(ClusterTest, APeerWhoseInstallFailsMakesItPartialAndKeepsItsOldRelease) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  const std::string v1 = last_deployment(1, "app")["release"];
  auto r = deploy(1, "app", app_toml("v2", "n3"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("n3: failed"), std::string::npos) << r.out;
  auto d = last_deployment(1, "app");
  EXPECT_EQ(d["status"], "partial");
  EXPECT_EQ(d["error"]["code"], "peer_failed");
  EXPECT_EQ(peer_result(d, "n2")["status"], "success");
  auto n3 = peer_result(d, "n3");
  EXPECT_EQ(n3["status"], "failed");
  EXPECT_EQ(n3["error"]["code"], "install_failed") << n3.dump();
  EXPECT_EQ(cluster.node(3).wait_state("app", "ready")["release"], v1);
  EXPECT_EQ(cluster.node(2).wait_state("app", "ready")["release"], d["release"]);
}

TEST_F(ClusterTest, ANodeKilledMidDeployIsDownTheDeployEndsWithoutItAndItConvergesLater) {
  // n3's installer waits for a gate the test opens only after n3 is dead: n3 dies inside it.
  auto id = deploy_held_on("n3");
  cluster.node(3).kill9();
  cluster.wait_view(1, {"n1", "n2"});
  EXPECT_EQ(cluster.nodes(1)["nodes"][2]["state"], "down");
  auto d = wait_ended(cluster.node(1), id);
  EXPECT_EQ(d["status"], "partial") << d.dump();
  EXPECT_EQ(peer_result(d, "n2")["status"], "success");
  EXPECT_EQ(peer_result(d, "n3")["status"], "down");

  open_gate();  // n3's next install goes straight through
  cluster.restart(3);
  auto s = cluster.node(3).wait_for("app", [&](const json& c) {
    return c.value("state", "") == "ready" && c["release"] == d["release"];
  });
  EXPECT_EQ(s["release"], d["release"]);
  auto caught_up = last_deployment(3, "app");
  EXPECT_EQ(caught_up["kind"], "converge");
  EXPECT_EQ(caught_up["origin"], "n1");
  EXPECT_EQ(caught_up["status"], "success");
}

TEST_F(ClusterTest, NodeRoutesTakeTheClusterSecretAndNotTheUserToken) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  const std::string digest = last_deployment(1, "app")["digest"].get<std::string>().substr(7);
  const std::string target = "/v1/cluster/blobs/" + digest;
  auto& n1 = cluster.node(1);
  http::Client with_token("127.0.0.1", n1.port(), n1.token());
  auto r = with_token.request("GET", target);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  http::Client anonymous("127.0.0.1", n1.port(), "");
  EXPECT_EQ(anonymous.request("GET", target)->status, 401);
  http::Client with_secret("127.0.0.1", n1.port(), cluster.secret());
  auto ok = with_secret.request("GET", target);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(Sha256::of(ok->body), digest);
  // The peers' event route likewise; and the secret opens nothing else.
  const std::string id = last_deployment(1, "app")["id"];
  EXPECT_EQ(with_token.request("GET", "/v1/cluster/deployments/" + id + "/events")->status, 401);
  EXPECT_EQ(with_secret.request("GET", "/v1/components")->status, 401);
}

TEST_F(ClusterTest, APayloadThatDoesNotHashToItsDigestIsRefusedAndNotKept) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  const std::string digest = last_deployment(1, "app")["digest"].get<std::string>().substr(7);
  // n1's copy goes bad on disk (same size, one byte flipped).
  auto path = cluster.node(1).home() / "blobs" / "sha256" / digest;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(10);
    const char c = static_cast<char>(f.get());
    f.seekp(10);
    f.put(static_cast<char>(c ^ 0xff));
  }
  TempDir store;
  BlobStore blobs(store.path);
  boost::asio::io_context io;
  std::optional<Result<void>> got;
  auto url = *http::Url::parse("http://127.0.0.1:" + std::to_string(cluster.node(1).port()));
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        got = co_await cluster::fetch_from(io.get_executor(), blobs, url, cluster.secret(), digest);
      },
      boost::asio::detached);
  while (!got) io.run_one();
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error().code, Code::kDigestMismatch) << got->error().message;
  EXPECT_FALSE(blobs.has(digest));
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(store.path)) files += e.is_regular_file();
  EXPECT_EQ(files, 0u) << "nothing partial stays behind";
}

TEST_F(ClusterTest, WithEtcdAwayADeployFailsClusterUnavailableAndNothingChanges) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  const std::string v1 = last_deployment(1, "app")["release"];
  const int pid_before = cluster.node(1).wait_state("app", "ready")["pid"];
  for (int i = 0; i < cluster.etcd.size(); ++i) cluster.etcd.kill(i);
  ASSERT_TRUE(poll_until([&] { return !cluster.nodes(1).value("connected", true); }));
  auto view = cluster.nodes(1);
  EXPECT_GT(view["disconnected_since"].get<int64_t>(), 0);
  auto r = deploy(1, "app", app_toml("v2"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cluster_unavailable"), std::string::npos) << r.err;
  auto d = last_deployment(1, "app");
  EXPECT_EQ(d["status"], "failed");
  EXPECT_EQ(d["error"]["code"], "cluster_unavailable");
  auto s = cluster.node(1).wait_state("app", "ready");
  EXPECT_EQ(s["release"], v1);
  EXPECT_EQ(s["pid"], pid_before) << "a node never stops what it runs because etcd is away";
  auto n = cluster.node(1).cli({"nodes"});
  EXPECT_NE(n.out.find("cannot reach etcd since"), std::string::npos) << n.out;
}

// An etcd endpoint refusing requests mid-deploy (failpoint etcd.request, on the origin): each
// refused request goes to the next endpoint, and the deploy ends as if nothing happened.
TEST_F(ClusterTest, RequestsAnEndpointRefusesGoToTheNextAndTheDeploySucceeds) {
  ASSERT_TRUE(cluster.node(1).arm("etcd.request", "ECONNREFUSED*2"));
  auto r = deploy(1, "app", app_toml("v1"));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  auto d = last_deployment(1, "app");
  EXPECT_EQ(d["status"], "success");
  for (int i = 1; i <= cluster.size(); ++i)
    EXPECT_EQ(cluster.node(i).wait_state("app", "ready")["release"], d["release"]) << "n" << i;
  EXPECT_EQ(cluster.node(1).failpoint_hits("etcd.request"), 2);
}

TEST_F(ClusterTest, ANodeStoppedAcrossACompactionConvergesWhenItComesBack) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  EXPECT_EQ(cluster.node(3).terminate(), 0);
  cluster.wait_view(1, {"n1", "n2"});
  // Deploys while n3 is away are partial, and say so: n3 is down.
  auto r = deploy(1, "app", app_toml("v2"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("(down: n3)"), std::string::npos) << r.out;
  auto d = last_deployment(1, "app");
  EXPECT_EQ(d["status"], "partial");
  EXPECT_EQ(peer_result(d, "n3")["status"], "down");
  // Every revision n3 saw is compacted away.
  auto etcd = cluster.etcd.client();
  auto status = etcd.request("POST", "/v3/kv/range", R"({"key":"AA=="})");
  ASSERT_TRUE(status);
  const std::string rev = json::parse(status->body)["header"]["revision"];
  auto compacted = etcd.request("POST", "/v3/kv/compaction", R"({"revision":")" + rev + R"("})");
  ASSERT_TRUE(compacted);
  ASSERT_EQ(compacted->status, 200) << compacted->body;

  cluster.restart(3);
  auto s = cluster.node(3).wait_for("app", [&](const json& c) {
    return c.value("state", "") == "ready" && c["release"] == d["release"];
  });
  EXPECT_EQ(s["release"], d["release"]);
  EXPECT_EQ(last_deployment(3, "app")["kind"], "converge");
}

TEST_F(ClusterTest, TheEtcdLeaderKilledMidDeployChangesNothingButTheEndpoint) {
  auto id = deploy_held_on("n2");
  const int leader = cluster.etcd.leader();
  ASSERT_GE(leader, 0);
  cluster.etcd.kill(leader);
  open_gate();
  auto d = wait_ended(cluster.node(1), id);
  EXPECT_EQ(d["status"], "success") << d.dump();
  EXPECT_EQ(peer_result(d, "n2")["status"], "success");
  EXPECT_EQ(peer_result(d, "n3")["status"], "success");
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(cluster.node(i).wait_state("app", "ready")["release"], d["release"]) << "n" << i;
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

// Two origins deploying one component at the same instant, round after round: each deploy
// succeeds, loses with `conflict` (its txn compared comp/<name> at a revision another deploy
// had moved on), or ends `partial` where a newer one superseded it on a peer; and however the
// races fell, every node ends on the release comp/<name> names. Without the compare (or with a
// superseded converge allowed to finish), an origin that had not yet seen the other's commit
// converges to it afterwards and the nodes disagree.
TEST_F(ClusterTest, ConcurrentDeploysFromTwoOriginsEndOnOneReleaseEverywhere) {
  auto desired_release = [&] {
    auto etcd = cluster.etcd.client();
    auto r = etcd.request("POST", "/v3/kv/range",
                          json{{"key", etcd::base64("/berth/v1/default/comp/app")}}.dump());
    EXPECT_TRUE(r && r->status == 200);
    auto kvs = json::parse(r->body).value("kvs", json::array());
    if (kvs.empty()) return std::string();
    return json::parse(etcd::unbase64(kvs[0]["value"].get<std::string>()).value())
        .value("release", "");
  };
  int conflicts = 0;
  for (int round = 0; round < 6; ++round) {
    CmdResult a, b;
    const auto v = std::to_string(round);
    std::thread t([&] { a = deploy(1, "app", app_toml("a" + v)); });
    b = deploy(2, "app", app_toml("b" + v));
    t.join();
    for (auto* r : {&a, &b}) {
      if (r->code == 0) continue;
      const bool lost = r->out.find("conflict") != std::string::npos ||
                        r->err.find("conflict") != std::string::npos;
      EXPECT_TRUE(lost) << r->out << r->err;
      conflicts += r->out.find("superseded") == std::string::npos;
    }
    const std::string want = desired_release();
    ASSERT_FALSE(want.empty());
    for (int i = 1; i <= 3; ++i) {
      auto s = cluster.node(i).wait_for("app", [&](const json& c) {
        return c.value("state", "") == "ready" && c.value("release", "") == want;
      });
      EXPECT_EQ(s["release"], want) << "n" << i << " round " << round;
    }
  }
  std::cout << "rounds 6, deploys lost to conflict: " << conflicts << "\n";
}

// Cut off, not down: n3 talks to one etcd member only, and that member is paused (SIGSTOP: it
// stops answering without closing anything). n3 keeps every component running and changes
// nothing on its own while the others deploy and destroy; once the member answers again n3
// joins again, lists, and converges: the new release deployed, the destroyed one destroyed.
TEST_F(ClusterTest, ANodeCutOffFromEtcdKeepsRunningThenConvergesWhenItIsBack) {
  ASSERT_EQ(cluster.node(3).terminate(), 0);
  cluster.node(3).set_env("BERTH_ETCD", cluster.etcd.endpoints()[2]);
  cluster.restart(3);
  cluster.wait_view(1, {"n1", "n2", "n3"});
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  ASSERT_EQ(deploy(1, "gone", app_toml("v1")).code, 0);
  const pid_t app = cluster.node(3).wait_state("app", "ready")["pid"];
  const pid_t gone = cluster.node(3).wait_state("gone", "ready")["pid"];

  cluster.etcd.pause(2);
  cluster.wait_view(1, {"n1", "n2"});  // n3's lease lapsed
  EXPECT_TRUE(poll_until([&] { return !cluster.nodes(3).value("connected", true); }));
  auto v2 = deploy(1, "app", app_toml("v2"));
  EXPECT_EQ(v2.code, 1) << v2.out;  // partial: n3 is down
  const std::string release = last_deployment(1, "app")["release"];
  auto rm = cluster.node(2).cli({"rm", "gone"});
  EXPECT_EQ(rm.code, 0) << rm.out << rm.err;
  EXPECT_NE(rm.out.find("n3: down"), std::string::npos) << rm.out;
  // Meanwhile n3 runs what it ran, untouched.
  EXPECT_EQ(cluster.node(3).api("GET", "/v1/components/app").body["pid"], app);
  EXPECT_EQ(cluster.node(3).api("GET", "/v1/components/gone").body["pid"], gone);

  cluster.etcd.resume(2);
  cluster.wait_view(1, {"n1", "n2", "n3"});
  auto s = cluster.node(3).wait_for("app", [&](const json& c) {
    return c.value("state", "") == "ready" && c.value("release", "") == release;
  });
  EXPECT_EQ(s["release"], release);
  EXPECT_TRUE(
      poll_until([&] { return cluster.node(3).api("GET", "/v1/components/gone").status == 410; }));
  EXPECT_TRUE(poll_until([&] { return !pid_alive(gone); }));
}

// have/<digest>/<node> keys live on their node's lease. When every holder's lease lapses (an
// etcd leader election outlasting the TTL does that to all nodes at once), they must announce
// their payloads again on re-joining, or a node catching up afterwards finds no holder.
TEST_F(ClusterTest, HoldersWhoseLeasesLapsedAnnounceTheirPayloadsAgain) {
  ASSERT_EQ(cluster.node(3).terminate(), 0);
  deploy(1, "app", app_toml("v2"));  // partial: n3 is down
  const json d = last_deployment(1, "app");
  const std::string digest = d["digest"].get<std::string>().substr(7);
  auto etcd = cluster.etcd.client();
  auto range = [&](const std::string& prefix) {
    std::string end = prefix;
    end.back() = static_cast<char>(end.back() + 1);
    auto r =
        etcd.request("POST", "/v3/kv/range",
                     json{{"key", etcd::base64(prefix)}, {"range_end", etcd::base64(end)}}.dump());
    EXPECT_TRUE(r && r->status == 200);
    return r ? json::parse(r->body).value("kvs", json::array()) : json::array();
  };
  const std::string have = "/berth/v1/default/have/" + digest + "/";
  ASSERT_TRUE(poll_until([&] { return range(have).size() == 2; }));  // n1 and n2 hold it
  for (const auto& kv : range("/berth/v1/default/nodes/")) {
    auto revoked = etcd.request("POST", "/v3/lease/revoke",
                                json{{"ID", kv["lease"].get<std::string>()}}.dump());
    ASSERT_TRUE(revoked && revoked->status == 200);
  }
  EXPECT_TRUE(poll_until([&] { return range(have).size() == 2; })) << "not announced again";

  cluster.restart(3);
  auto s = cluster.node(3).wait_for("app", [&](const json& c) {
    return c.value("state", "") == "ready" && c["release"] == d["release"];
  });
  EXPECT_EQ(s["release"], d["release"]);
}

// An etcd emptied of desired state (wiped, or restored from an old backup) must not empty the
// cluster: every node keeps what it runs and reports it as an orphan, through the watch and
// after a restart's fresh list alike; a new deploy adopts it again.
TEST_F(ClusterTest, AnEmptiedDesiredStateEmptiesNoNodeItsComponentsAreOrphans) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  std::vector<pid_t> pids;
  for (int i = 1; i <= 3; ++i) pids.push_back(cluster.node(i).wait_state("app", "ready")["pid"]);
  auto etcd = cluster.etcd.client();
  auto wiped = etcd.request("POST", "/v3/kv/deleterange",
                            json{{"key", etcd::base64("/berth/v1/default/comp/")},
                                 {"range_end", etcd::base64("/berth/v1/default/comp0")}}
                                .dump());
  ASSERT_TRUE(wiped && wiped->status == 200) << (wiped ? wiped->body : wiped.error().message);
  for (int i = 1; i <= 3; ++i) {
    auto s =
        cluster.node(i).wait_for("app", [](const json& c) { return c.value("orphan", false); });
    EXPECT_EQ(s["state"], "ready") << "n" << i;
    EXPECT_EQ(s["pid"], pids[i - 1]) << "n" << i;
  }
  auto listed = cluster.node(2).cli({"nodes"});
  EXPECT_NE(listed.out.find("app (orphan)"), std::string::npos) << listed.out;
  // A restart lists afresh: still kept, still an orphan.
  ASSERT_EQ(cluster.node(1).terminate(), 0);
  cluster.restart(1);
  auto s = cluster.node(1).wait_for("app", [](const json& c) {
    return c.value("state", "") == "ready" && c.value("orphan", false);
  });
  EXPECT_TRUE(s.value("orphan", false)) << s.dump();
  ASSERT_EQ(deploy(2, "app", app_toml("v2")).code, 0);
  for (int i = 1; i <= 3; ++i)
    EXPECT_FALSE(cluster.node(i).wait_state("app", "ready").value("orphan", false)) << "n" << i;
}

// --- destroy (issue 14: nothing destroyed comes back, on any node) ---

// Gone from node `i`: 410 component_destroyed, no releases, the process dead.
void expect_destroyed_on(TestDaemon& d, pid_t pid, const std::string& where) {
  auto r = d.api("GET", "/v1/components/app");
  EXPECT_EQ(r.status, 410) << where << ": " << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "component_destroyed") << where;
  EXPECT_FALSE(fs::exists(d.home() / "releases" / "app")) << where;
  EXPECT_TRUE(poll_until([&] { return !pid_alive(pid); })) << where << ": pid " << pid;
}

// etcd unavailable mid-transaction (failpoint etcd.txn_reply, on the origin): the deploy's
// txn is carried out, its reply lost, and the client sends it again to the next endpoint,
// whose compare then fails on the deploy's own write. The origin must tell that write for the
// success it was: a `conflict` here would report a failure while every node deploys it.
TEST_F(ClusterTest, ADeployOrDestroyWhoseCommitReplyIsLostSucceedsAsCommitted) {
  auto& n1 = cluster.node(1);
  ASSERT_TRUE(n1.arm("etcd.txn_reply", "ECONNRESET*1"));
  auto r = deploy(1, "app", app_toml("v1"));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(n1.failpoint_hits("etcd.txn_reply"), 1)
      << "the failpoint must have cut the deploy's txn";
  auto d = last_deployment(1, "app");
  EXPECT_EQ(d["status"], "success") << d.dump();
  std::vector<pid_t> pids;
  for (int i = 1; i <= cluster.size(); ++i) {
    auto s = cluster.node(i).wait_state("app", "ready");
    EXPECT_EQ(s["release"], d["release"]) << "n" << i;
    pids.push_back(s["pid"]);
  }
  ASSERT_TRUE(n1.arm("etcd.txn_reply", "ECONNRESET*1"));
  auto rm = n1.cli({"rm", "app"});
  EXPECT_EQ(rm.code, 0) << rm.out << rm.err;
  EXPECT_EQ(n1.failpoint_hits("etcd.txn_reply"), 1)
      << "the failpoint must have cut the destroy's txn";
  EXPECT_NE(rm.out.find("app: destroyed"), std::string::npos) << rm.out;
  for (int i = 1; i <= cluster.size(); ++i)
    expect_destroyed_on(cluster.node(i), pids[i - 1], "n" + std::to_string(i));
}

TEST_F(ClusterTest, ADestroyFromAnyNodeIsCarriedOutOnEveryNodeAndIsIdempotent) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  std::vector<pid_t> pids;
  for (int i = 1; i <= 3; ++i) pids.push_back(cluster.node(i).wait_state("app", "ready")["pid"]);
  auto r = cluster.node(2).cli({"rm", "app"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("app: destroyed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n1: destroyed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n3: destroyed"), std::string::npos) << r.out;
  // The CLI waited for every node: each is done when it returns, no polling needed.
  for (int i = 1; i <= 3; ++i)
    expect_destroyed_on(cluster.node(i), pids[i - 1], "n" + std::to_string(i));
  auto again = cluster.node(3).cli({"rm", "app"});
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("already destroyed"), std::string::npos) << again.out;
}

// n3 never got the component (its first install failed), and its watch is cut as the destroy
// arrives (failpoint etcd.watch): it lists again and finds comp/app destroyed with nothing of
// it here. It still answers, at once; before, the origin waited peer_timeout for it (found by
// the cluster chaos run: a `berth rm` that hung for the client's whole 60 s).
TEST_F(ClusterTest, APeerThatListsADestroyItMissedAnswersItWithNothingHere) {
  auto r = deploy(1, "app", app_toml("v1", "n3"));
  ASSERT_EQ(r.code, 1) << r.out << r.err;
  auto on_n3 = cluster.node(3).api("GET", "/v1/components/app");
  ASSERT_EQ(on_n3.status, 404) << on_n3.body.dump();
  ASSERT_TRUE(cluster.node(3).arm("etcd.watch", "ECONNRESET*1"));
  const pid_t on_n2 = cluster.node(2).wait_state("app", "ready")["pid"];
  auto rm = cluster.node(1).cli({"rm", "app"});
  EXPECT_EQ(rm.code, 0) << rm.out << rm.err;
  EXPECT_NE(rm.out.find("n2: destroyed"), std::string::npos) << rm.out;
  EXPECT_NE(rm.out.find("n3: destroyed"), std::string::npos) << rm.out;
  EXPECT_EQ(cluster.node(3).failpoint_hits("etcd.watch"), 1)
      << "the failpoint must have cut n3's watch";
  expect_destroyed_on(cluster.node(2), on_n2, "n2");
}

// A peer whose fetch of the payload failed (its holders down or out of reach: in the cluster
// chaos run, the origin killed as the peers fetched) tries the release again once it can: it
// once stayed on nothing until the next deploy.
TEST_F(ClusterTest, APeerWhoseFetchFailedConvergesWhenItCanFetch) {
  n3_fails_once_then_runs_the_release("cluster.fetch", "ECONNREFUSED*1");
}

// n1's deploy of v2 commits, and before n1 reads its txn's reply (failpoint etcd.txn_hold),
// n2 deploys v3 over it and n1's watch delivers that. The reply read late must not take n1
// back to v2 in its view of the desired state: n1 would then refuse its converge to v3 as
// superseded, staying on v2, and its next deploy would compare a stale revision (conflict).
TEST_F(ClusterTest, AnAnnounceWhoseReplyIsReadAfterANewerDeployKeepsTheNewerOne) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  const std::string v1 = last_deployment(1, "app")["release"];
  ASSERT_TRUE(cluster.node(1).arm("etcd.txn_hold", "EAGAIN*1"));
  // The upload is answered once its announce is: the CLI waits, on its own thread.
  std::thread held([&] { deploy(1, "app", app_toml("v2")); });
  ASSERT_TRUE(poll_until([&] { return cluster.node(1).failpoint_hits("etcd.txn_hold") == 1; }));
  // n2 runs v2 (it saw n1's write), then deploys v3 over it.
  const std::string v2 = cluster.node(2).wait_for("app", [&](const json& s) {
    return s.value("state", "") == "ready" && s.value("release", "") != v1;
  })["release"];
  deploy_no_follow(cluster.node(2), cluster.node(2).component("app", app_toml("v3")), "app");
  const std::string v3 = last_deployment(2, "app")["release"];
  ASSERT_NE(v3, v2);
  // n1's watch delivered v3 (it converges to it) while its own announce is still held.
  EXPECT_TRUE(poll_until(
      [&] { return daemon_log(1).find("app converges to release " + v3) != std::string::npos; }));
  EXPECT_EQ(cluster.node(1).api("DELETE", "/v1/debug/failpoints/etcd.txn_hold").status, 200);
  held.join();
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(cluster.node(i).wait_for("app",
                                       [&](const json& s) {
                                         return s.value("state", "") == "ready" &&
                                                s.value("release", "") == v3;
                                       })["release"],
              v3)
        << "n" << i;
  auto r = deploy(1, "app", app_toml("v4"));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

// A run that started and failed for a reason that passes (here the disk full once, while it
// extracts) is tried again: without that, n3 stays on nothing until the next deploy.
TEST_F(ClusterTest, APeerWhoseRunFailedOnAFullDiskRunsTheReleaseOnceThereIsRoom) {
  auto [release, log] = n3_fails_once_then_runs_the_release("archive.write", "ENOSPC*1");
  EXPECT_NE(log.find("app: release " + release + " failed here (disk_full"), std::string::npos)
      << log;
}

TEST_F(ClusterTest, ANodeDownDuringADestroyDropsTheComponentWhenItComesBack) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  const pid_t on_n3 = cluster.node(3).wait_state("app", "ready")["pid"];
  cluster.node(3).kill9();  // its component keeps running, orphaned, until n3 is back
  cluster.wait_view(1, {"n1", "n2"});
  auto r = cluster.node(1).cli({"rm", "app"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("n2: destroyed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n3: down"), std::string::npos) << r.out;
  cluster.restart(3);
  // n3 lists the desired state when it joins and destroys what it says is destroyed.
  EXPECT_TRUE(
      poll_until([&] { return cluster.node(3).api("GET", "/v1/components/app").status == 410; }));
  expect_destroyed_on(cluster.node(3), on_n3, "n3");
}

TEST_F(ClusterTest, ADeployAfterADestroyBringsTheNameBackOnEveryNode) {
  ASSERT_EQ(deploy(1, "app", app_toml("v1")).code, 0);
  ASSERT_EQ(cluster.node(1).cli({"rm", "app"}).code, 0);
  auto r = deploy(3, "app", app_toml("v2"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string release = last_deployment(3, "app")["release"];
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(cluster.node(i).wait_state("app", "ready")["release"], release) << "n" << i;
}

// A destroy that lands while node `held` is still installing the name's first release there
// cancels that install: the node never activates it, so nothing comes back after the destroy.
// n3 (never held) destroys it once it runs the release itself.
void ClusterTest::destroyed_while_installing(int held) {
  const std::string node = "n" + std::to_string(held);
  const auto id = deploy_held_on(node);
  cluster.node(3).wait_state("app", "ready");
  auto r = cluster.node(3).cli({"rm", "app"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(node + ": destroyed"), std::string::npos) << r.out;
  open_gate();
  auto& d = cluster.node(held);
  const auto ended = wait_ended(d, id);
  EXPECT_NE(ended.value("status", ""), "success") << ended.dump();
  EXPECT_EQ(d.api("GET", "/v1/components/app").status, 410) << node;
  EXPECT_FALSE(fs::exists(d.home() / "releases" / "app")) << node;
  EXPECT_FALSE(fs::exists(d.home() / "components" / "app")) << node;
}

TEST_F(ClusterTest, ADestroyDuringAPeersFirstInstallCancelsItThere) {
  destroyed_while_installing(2);
}

TEST_F(ClusterTest, ADestroyDuringTheOriginsFirstInstallCancelsItThere) {
  destroyed_while_installing(1);
}

// Everything over TLS with certificates from a CA the test makes: etcd's client URLs (which
// demand a client certificate), every node's API, the payload fetch and the origin following
// its peers' events.
TEST(ClusterOverTls, EtcdTheNodesAndTheirCallsToEachOtherAllVerifyTheCa) {
  TestCa ca;
  if (!ca.available()) GTEST_SKIP() << ca.why();
  TestCluster cluster(3, "", &ca);
  if (!cluster.available()) GTEST_SKIP() << cluster.why();
  ASSERT_TRUE(cluster.etcd.endpoints()[0].starts_with("https://"));
  const auto view = cluster.nodes(1);
  for (auto& n : view["nodes"])
    EXPECT_TRUE(n["url"].get<std::string>().starts_with("https://127.0.0.1:")) << n.dump();
  auto dir = cluster.node(1).component("app", app_toml("v1"));
  auto r = cluster.node(1).cli({"deploy", dir.string(), "--name", "app"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("│ n2: installing v1 on n2"), std::string::npos) << r.out;
  auto list = cluster.node(1).api("GET", "/v1/deployments?component=app").body;
  ASSERT_FALSE(list["deployments"].empty());
  auto d = list["deployments"][0];
  EXPECT_EQ(d["status"], "success") << d.dump();
  for (const char* n : {"n2", "n3"}) EXPECT_EQ(peer_result(d, n)["status"], "success") << d.dump();
  for (int i = 2; i <= 3; ++i)
    EXPECT_EQ(cluster.node(i).wait_state("app", "ready")["release"], d["release"]) << "n" << i;
}

}  // namespace
}  // namespace berth::testing
