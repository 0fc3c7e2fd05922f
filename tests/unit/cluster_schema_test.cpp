// The cluster's key layout and records: keys parse back into their parts, records written by
// another node decode with defaults for what is missing, and garbage is refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster/schema.h"

namespace berth::cluster {
namespace {

using Kind = Keys::Parsed::Kind;

TEST(ClusterKeys, ParseBackIntoTheirParts) {
  Keys k("prod");
  EXPECT_EQ(k.node("n1"), "/berth/v1/prod/nodes/n1");
  auto node = k.parse(k.node("n1"));
  EXPECT_EQ(node.kind, Kind::kNode);
  EXPECT_EQ(node.name, "n1");
  EXPECT_EQ(k.parse(k.comp("app")).kind, Kind::kComp);
  EXPECT_EQ(k.parse(k.member("n2")).name, "n2");
  auto peer = k.parse(k.peer("20261202-1", "n3"));
  EXPECT_EQ(peer.kind, Kind::kPeer);
  EXPECT_EQ(peer.id, "20261202-1");
  EXPECT_EQ(peer.node, "n3");
  EXPECT_EQ(k.parse(k.deploy("20261202-1")).kind, Kind::kDeploy);
  auto have = k.parse(k.have(std::string(64, 'a'), "n1"));
  EXPECT_EQ(have.kind, Kind::kHave);
  EXPECT_EQ(have.node, "n1");
  EXPECT_EQ(k.parse("/berth/v1/other/nodes/n1").kind, Kind::kOther);  // another cluster
  EXPECT_EQ(k.parse(k.root() + "nodes").kind, Kind::kOther);
  EXPECT_EQ(k.parse(k.root() + "deploy/x/what/n1").kind, Kind::kOther);
}

TEST(ClusterRecords, RoundTripAndTolerateMissingFields) {
  Desired d;
  d.release = "r1";
  d.digest = std::string(64, 'b');
  d.size = 42;
  d.deployment = "r1";
  d.origin = "n1";
  d.expected = {"n2", "n3"};
  auto back = decode_desired(encode(d));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->expected, d.expected);
  EXPECT_EQ(back->size, 42);

  auto peer = decode_peer(R"({"node":"n2","phase":"installing"})");
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->status, "running");
  EXPECT_FALSE(peer->terminal());
  PeerResult failed;
  failed.node = "n3";
  failed.phase = "installing";
  failed.status = "failed";
  failed.phases = {"installing"};
  failed.error = Error{Code::kInstallFailed, "exit 3"};
  failed.started_at = 1;
  failed.ended_at = 2;
  auto f = decode_peer(encode(failed));
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->terminal());
  EXPECT_EQ(f->error->code, Code::kInstallFailed);
  auto unknown =
      decode_peer(R"({"status":"failed","error":{"code":"from_the_future","message":"m"}})");
  EXPECT_EQ(unknown->error->code, Code::kInternal);
  EXPECT_EQ(unknown->error->message, "m");

  auto results = nlohmann::json::parse(peer_results_json({failed}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["error"]["code"], "install_failed");
  EXPECT_EQ(results[0]["ended_at"], 2);
}

TEST(ClusterRecords, GarbageIsRefused) {
  EXPECT_FALSE(decode_desired("[1,2]"));
  EXPECT_FALSE(decode_desired(R"({"state":"live","release":"r"})"));  // no digest
  EXPECT_FALSE(decode_node("not json"));
  EXPECT_EQ(decode_node("{}")->url, "");
  EXPECT_FALSE(decode_node(R"({"url":5})"));  // a field of the wrong type
  EXPECT_EQ(
      decode_node(encode(NodeRecord{"http://127.0.0.1:1", "0.1.0", "b", 7, {"app"}}))->components,
      std::vector<std::string>{"app"});
}

}  // namespace
}  // namespace berth::cluster
