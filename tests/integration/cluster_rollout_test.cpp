// Rolling deploys ([deploy] rollout = "rolling"): at most max_parallel nodes switch at a time,
// each holding a slot in etcd until its new release is ready; the first node whose new
// release fails stops the rollout and the whole cluster ends on the previous release (nodes
// that had switched roll back, nodes still waiting never switch).
#include <gtest/gtest.h>

#include <fstream>

#include "cluster_harness.h"
#include "http/client.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

// A rolling component: prints `version`, takes a moment, then says it is up. It fails to start
// on `broken_on`; its install waits for `gate` on the nodes in `gated` (pairs node:gate).
std::string rolling_app(const std::string& version, const std::string& broken_on = "",
                        const std::vector<std::pair<std::string, fs::path>>& gated = {}) {
  std::string run = std::string(FIXTURE_BIN) + " print:" + version + " sleep:200 print:up forever";
  if (!broken_on.empty())
    run = "if [ $BERTH_NODE = " + broken_on + " ]; then echo cannot start >&2; exit 3; fi; exec " +
          run;
  std::string install = "true";
  for (auto& [node, gate] : gated)
    install += "; if [ $BERTH_NODE = " + node + " ]; then while [ ! -e " + gate.string() +
               " ]; do sleep 0.01; done; fi";
  return "[run]\ncommand = \"" + run + "\"\n[ready]\nmarker = \"up\"\n[install]\ncommand = \"" +
         install + "\"\n[deploy]\nrollout = \"rolling\"\nmax_parallel = 1\n";
}

// Every event of a deployment on one node, as stored.
std::vector<json> events_of(TestDaemon& d, const std::string& id) {
  std::vector<json> out;
  http::Client c("127.0.0.1", d.port(), d.token());
  c.follow("/v1/deployments/" + id + "/events", [&](const http::SseEvent& ev) {
    auto e = json::parse(ev.data, nullptr, false);
    if (e.is_object()) out.push_back(e);
    return ev.type != "end";
  });
  return out;
}

struct RolloutTest : ::testing::Test {
  void SetUp() override {
    if (!cluster.available()) GTEST_SKIP() << cluster.why();
  }
  std::string deploy(const std::string& toml) {
    return deploy_no_follow(cluster.node(1), cluster.node(1).component("app", toml), "app");
  }
  json ready_on(int i, const std::string& release) {
    return cluster.node(i).wait_for("app", [&](const json& c) {
      return c.value("state", "") == "ready" && c.value("release", "") == release;
    });
  }
  TestCluster cluster;
  TempDir gates;
};

TEST_F(RolloutTest, NodesSwitchOneAtATimeEachAfterThePreviousIsReady) {
  auto id = deploy(rolling_app("v1"));
  auto d = wait_ended(cluster.node(1), id);
  ASSERT_EQ(d["status"], "success") << d.dump();
  // Per node: from its switch to its new release being ready. With one slot, none overlap.
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (int i = 1; i <= 3; ++i) {
    wait_ended(cluster.node(i), id);
    int64_t activated = 0, ready = 0;
    for (auto& e : events_of(cluster.node(i), id)) {
      if (e.value("type", "") == "activated") activated = e.value("ts", int64_t{0});
      if (e.value("type", "") == "info" && e.value("message", "") == "ready")
        ready = e.value("ts", int64_t{0});
    }
    ASSERT_TRUE(activated && ready) << "n" << i;
    spans.emplace_back(activated, ready);
  }
  for (size_t a = 0; a < spans.size(); ++a)
    for (size_t b = a + 1; b < spans.size(); ++b)
      EXPECT_TRUE(spans[a].second <= spans[b].first || spans[b].second <= spans[a].first)
          << "n" << a + 1 << " [" << spans[a].first << ", " << spans[a].second << "] and n" << b + 1
          << " [" << spans[b].first << ", " << spans[b].second << "] switched together";
}

// n2's slot txn carried out, its reply lost (failpoint etcd.txn_reply): the retry on the next
// endpoint finds the slot taken, by n2 itself on its own lease. Passed by as someone else's,
// the slot would stay held until n2's lease ends and n3 would never switch.
TEST_F(RolloutTest, ASlotWhoseTakeReplyIsLostIsHeldAndFreedByItsTaker) {
  ASSERT_TRUE(cluster.node(2).arm("etcd.txn_reply", "ECONNRESET*1"));
  auto id = deploy(rolling_app("v1"));
  auto d = wait_ended(cluster.node(1), id);
  ASSERT_EQ(d["status"], "success") << d.dump();
  EXPECT_EQ(cluster.node(2).failpoint_hits("etcd.txn_reply"), 1)
      << "the failpoint must have cut n2's slot txn";
  for (int i = 1; i <= 3; ++i) ready_on(i, d["release"]);
}

TEST_F(RolloutTest, ASecondNodeThatFailsReadinessLeavesTheWholeClusterOnThePreviousRelease) {
  auto v1 = deploy(rolling_app("v1"));
  ASSERT_EQ(wait_ended(cluster.node(1), v1)["status"], "success");
  for (int i = 1; i <= 3; ++i) ready_on(i, v1);

  // n1 goes first; n2 (broken) only once n1 runs v2; n3 is held until the rollout is over.
  const auto gate2 = gates.path / "n2", gate3 = gates.path / "n3";
  auto v2 = deploy(rolling_app("v2", "n2", {{"n2", gate2}, {"n3", gate3}}));
  ready_on(1, v2);
  std::ofstream(gate2.string()) << "";
  auto on_n2 = wait_ended(cluster.node(2), v2);
  EXPECT_EQ(on_n2["status"], "rolled_back") << on_n2.dump();
  std::ofstream(gate3.string()) << "";

  auto d = wait_ended(cluster.node(1), v2);
  EXPECT_EQ(d["status"], "rolled_back") << d.dump();
  EXPECT_EQ(d["error"]["code"], "rollout_stopped");
  EXPECT_NE(d["error"]["message"].get<std::string>().find("n2"), std::string::npos);
  EXPECT_EQ(peer_result(d, "n2")["status"], "rolled_back");
  EXPECT_EQ(peer_result(d, "n3")["status"], "failed");
  EXPECT_EQ(peer_result(d, "n3")["error"]["code"], "rollout_stopped");
  // n1 switched and went back; n2 went back by itself; n3 never switched.
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(ready_on(i, v1)["release"], v1) << "n" << i;
  auto n1 = cluster.node(1).api("GET", "/v1/deployments?component=app").body["deployments"][0];
  EXPECT_EQ(n1["kind"], "rollback");
  EXPECT_EQ(n1["release"], v1);
}

}  // namespace
}  // namespace berth::testing
