// `[run] instances = N` and `berth scale`: N trees of one component, each with BERTH_INSTANCE,
// sharing the socket (socket mode) or taken in turn by the proxy; restarts and deploys roll one
// instance at a time under load and lose nothing; scaling starts the missing ones and stops the
// highest; the number chosen survives a daemon restart; logs and status carry the instance; in
// proxy mode an instance failing its health checks gets no new connections.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>

#include "harness.h"
#include "integration/load_client.h"

namespace berth::testing {
namespace {

// The fixture answers "TEXT-I" from instance I ({instance} is expanded by the fixture).
std::string manifest(const std::string& mode, uint16_t port, const std::string& text, int n,
                     const std::string& extra = "") {
  const bool proxy = mode == "proxy";
  return "[run]\ncommand = " +
         fixture_command({(proxy ? "serve-port:" : "serve-fd:") + text + "-{instance}"}) +
         "\ninstances = " + std::to_string(n) + (proxy ? "" : "\n[ready]\nmarker = \"serving\"") +
         "\n[serve]\nmode = \"" + mode + "\"\nport = " + std::to_string(port) +
         "\n[deploy]\nhealthy_for = \"0s\"\n" + extra;
}

bool alive(int pid) {
  return ::kill(pid, 0) == 0;
}

std::vector<int> pids_of(const json& s) {
  std::vector<int> out;
  for (const auto& i : s["instances"])
    out.push_back(i["pid"].is_number() ? i["pid"].get<int>() : 0);
  return out;
}

bool all_ready(const json& s, size_t n) {
  if (s["instances"].size() != n || s["state"] != "ready") return false;
  for (const auto& i : s["instances"])
    if (i["state"] != "ready" || !i["replacement_pid"].is_null() || !i["draining_pids"].empty())
      return false;
  return true;
}

class InstancesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void run(const std::string& name, const std::string& toml) {
    auto dir = d.component(name, toml);
    auto r = d.cli({"run", dir.string(), "--wait"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  TestDaemon d;
  uint16_t port = free_port();
};

// Every instance runs, knows its index, and gets connections: the kernel spreads accepts over
// the shared socket, the proxy takes them in turn.
TEST_P(InstancesTest, EveryInstanceServes) {
  run("web", manifest(GetParam(), port, "v1", 3));
  auto s = d.wait_for("web", [](const json& s) { return all_ready(s, 3); });
  EXPECT_EQ(s["instances_wanted"], 3);
  const auto pids = pids_of(s);
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 3u) << s.dump();
  LoadClient load(port, 3);
  for (const std::string b : {"v1-0", "v1-1", "v1-2"}) load.wait_for_body(b);
  auto counts = load.stop();
  expect_no_loss(counts);
  if (GetParam() == "proxy") {
    // In turn: none of the three gets much less than its third.
    for (const auto& [body, n] : counts.bodies) EXPECT_GE(n * 5, counts.ok) << body;
    EXPECT_EQ(s["serve"]["proxy"]["backends"].size(), 3u) << s.dump();
  }
  auto ls = d.cli({"ls"}).out;
  EXPECT_NE(ls.find("ready 3/3"), std::string::npos) << ls;
  EXPECT_NE(ls.find("#2"), std::string::npos) << ls;
}

// Five restarts and a deploy under load: nothing lost, and never two instances replaced at once
// (each one's "started ... beside" comes after the one before it has taken over).
TEST_P(InstancesTest, RestartsAndADeployRollOneInstanceAtATimeUnderLoad) {
  auto dir = d.component("web", manifest(GetParam(), port, "v1", 2));
  auto first = d.cli({"deploy", dir.string(), "--name", "web"});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  LoadClient load(port);
  load.wait_for_more(20);
  for (int i = 0; i < 5; ++i) {
    auto r = d.cli({"restart", "web"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    load.wait_for_more(10);
  }
  d.component("web", manifest(GetParam(), port, "v2", 2));
  auto r = d.cli({"deploy", dir.string(), "--name", "web"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  for (const std::string b : {"v2-0", "v2-1"}) load.wait_for_body(b);
  d.wait_for("web", [](const json& s) { return all_ready(s, 2); });
  load.wait_for_more(20);
  expect_no_loss(load.stop());

  auto logs = d.api("GET", "/v1/components/web/logs?n=2000").body;
  int overlapping = 0, rolls = 0;
  std::set<int> seen;
  for (const auto& l : logs["lines"]) {
    const std::string text = l["text"];
    if (text.find("beside pid") != std::string::npos) {
      ASSERT_TRUE(l.contains("instance")) << l.dump();
      seen.insert(l["instance"].get<int>());
      EXPECT_EQ(overlapping, 0) << "two instances replaced at once: " << text;
      ++overlapping;
      ++rolls;
    } else if (text.find("(the one it replaces) is told to stop") != std::string::npos) {
      --overlapping;
    }
  }
  EXPECT_EQ(rolls, 12);  // 5 restarts and a deploy, each over both instances
  EXPECT_EQ(seen, (std::set<int>{0, 1}));
}

// Scaling up and down under load loses nothing: new instances join once ready, the ones scaled
// away get no new connection and finish those they hold.
TEST_P(InstancesTest, ScalingUnderLoadLosesNothing) {
  run("web", manifest(GetParam(), port, "v1", 1));
  LoadClient load(port);
  load.wait_for_more(20);
  for (int round = 0; round < 3; ++round) {
    auto up = d.cli({"scale", "web", "3"});
    ASSERT_EQ(up.code, 0) << up.out << up.err;
    load.wait_for_body("v1-2");
    auto down = d.cli({"scale", "web", "1"});
    ASSERT_EQ(down.code, 0) << down.out << down.err;
    load.wait_for_more(20);
  }
  expect_no_loss(load.stop());
  EXPECT_EQ(d.api("GET", "/v1/components/web").body["instances"].size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Modes, InstancesTest, ::testing::Values("socket", "proxy"),
                         [](const auto& info) { return info.param; });

class ScaleTest : public ::testing::Test {
 protected:
  TestDaemon d;
  uint16_t port = free_port();
};

// Up starts the missing ones (the first keeps running); down stops the highest; reset goes back
// to berth.toml's number. Bad numbers are refused and change nothing.
TEST_F(ScaleTest, UpAndDownThroughTheCli) {
  auto dir = d.component("web", manifest("socket", port, "v1", 1));
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  const int first = d.api("GET", "/v1/components/web").body["pid"];

  auto up = d.cli({"scale", "web", "3"});
  ASSERT_EQ(up.code, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("3 instances"), std::string::npos) << up.out;
  auto s = d.api("GET", "/v1/components/web").body;
  ASSERT_TRUE(all_ready(s, 3)) << s.dump();  // the answer came once they were ready
  EXPECT_EQ(s["instances_source"], "scale");
  auto pids = pids_of(s);
  EXPECT_EQ(pids[0], first);

  auto down = d.cli({"scale", "web", "1"});
  ASSERT_EQ(down.code, 0) << down.out << down.err;
  s = d.api("GET", "/v1/components/web").body;
  EXPECT_EQ(s["instances"].size(), 1u) << s.dump();
  EXPECT_EQ(s["pid"], first);
  EXPECT_FALSE(alive(pids[1]));
  EXPECT_FALSE(alive(pids[2]));

  for (const std::string bad : {"0", "65"}) {
    auto r = d.api("POST", "/v1/components/web/scale", json{{"instances", std::stoi(bad)}}.dump());
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.body["error"]["code"], "bad_request") << r.body.dump();
  }
  EXPECT_EQ(d.api("POST", "/v1/components/web/scale", "{}").status, 400);
  EXPECT_NE(d.cli({"scale", "web", "many"}).code, 0);
  EXPECT_EQ(d.api("POST", "/v1/components/nope/scale", R"({"instances": 2})").status, 404);
  EXPECT_EQ(d.api("GET", "/v1/components/web").body["instances"].size(), 1u);

  auto reset = d.cli({"scale", "web", "reset"});
  ASSERT_EQ(reset.code, 0) << reset.out << reset.err;
  s = d.api("GET", "/v1/components/web").body;
  EXPECT_EQ(s["instances_source"], "manifest");
  EXPECT_EQ(s["instances_wanted"], 1);
}

// The number chosen is kept: a stopped component scaled starts that many, and so does the
// next daemon.
TEST_F(ScaleTest, TheNumberChosenOutlivesAStopAndTheDaemon) {
  auto dir = d.component("web", manifest("proxy", port, "v1", 1));
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  ASSERT_EQ(d.cli({"stop", "web"}).code, 0);
  ASSERT_EQ(d.cli({"scale", "web", "2"}).code, 0);
  EXPECT_EQ(d.api("GET", "/v1/components/web").body["state"], "stopped");
  ASSERT_EQ(d.cli({"start", "web", "--wait"}).code, 0);
  d.wait_for("web", [](const json& s) { return all_ready(s, 2); });
  ASSERT_EQ(d.shutdown(), 0);
  d.start();
  auto s = d.wait_for("web", [](const json& s) { return all_ready(s, 2); });
  EXPECT_EQ(s["instances_source"], "scale");
}

// Each line says which instance wrote it: in the API, in `berth logs`, and in the file (read
// back by the next daemon).
TEST_F(ScaleTest, LogsCarryTheInstance) {
  auto dir =
      d.component("two", "[run]\ncommand = " + fixture_command({"env:BERTH_INSTANCE", "forever"}) +
                             "\ninstances = 2\n[ready]\nsettle = \"50ms\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  auto said = [&](const json& lines) {
    std::set<int> out;
    for (const auto& l : lines)
      if (l["stream"] == "stdout" &&
          l["text"] == "BERTH_INSTANCE=" + std::to_string(l.value("instance", -1)))
        out.insert(l["instance"].get<int>());
    return out;
  };
  ASSERT_TRUE(poll_until([&] {
    return said(d.api("GET", "/v1/components/two/logs?n=100").body["lines"]).size() == 2;
  }));
  auto shown = d.cli({"logs", "two"}).out;
  EXPECT_NE(shown.find("#1 BERTH_INSTANCE=1"), std::string::npos) << shown;
  EXPECT_NE(shown.find("#0 BERTH_INSTANCE=0"), std::string::npos) << shown;
  ASSERT_EQ(d.shutdown(), 0);
  d.start();
  auto lines = d.api("GET", "/v1/components/two/logs?n=100").body["lines"];
  EXPECT_EQ(said(lines), (std::set<int>{0, 1})) << lines.dump();
}

// Proxy mode: once an instance has failed its checks `retries` times, no new connection goes to
// it (its restart, whose gate fails too, leaves it serving nobody), while the other serves on;
// once its checks pass again, it is back.
TEST_F(ScaleTest, AnUnhealthyInstanceGetsNoNewConnections) {
  const uint16_t health = free_port();
  const auto sick = d.work() / "sick-1";
  auto toml = "[run]\ncommand = " +
              fixture_command({"http-health:" + std::to_string(health) + ":" +
                                   (d.work() / "sick-{instance}").string(),
                               "serve-port:v1-{instance}"}) +
              "\ninstances = 2\n[serve]\nmode = \"proxy\"\nport = " + std::to_string(port) +
              "\n[health]\nhttp = \"/\"\nport = " + std::to_string(health) +
              "\ninterval = \"100ms\"\ntimeout = \"1s\"\nretries = 2\n";
  auto dir = d.component("web", toml);
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  LoadClient load(port);
  for (const std::string b : {"v1-0", "v1-1"}) load.wait_for_body(b);
  { std::ofstream(sick.string()) << "x"; }
  d.wait_for("web", [](const json& s) {
    const auto& h = s["instances"][1]["health"];
    return h.is_object() && h["state"] == "unhealthy";
  });
  const auto before = load.counts();
  load.wait_for_more(200);
  const auto after = load.stop();
  expect_no_loss(after);
  // At most the connections already relayed when it was marked (one per client thread).
  EXPECT_LE(after.bodies.at("v1-1") - before.bodies.at("v1-1"), 2u);
  EXPECT_GE(after.bodies.at("v1-0") - before.bodies.at("v1-0"), 190u);
  auto s = d.api("GET", "/v1/components/web").body;
  EXPECT_EQ(s["serve"]["proxy"]["backends"].size(), 1u) << s.dump();

  // Well again: checked on, it is taken back in turn.
  std::filesystem::remove(sick);
  d.wait_for("web", [](const json& s) {
    return s["instances"][1]["health"]["state"] == "healthy" &&
           s["serve"]["proxy"]["backends"].size() == 2;
  });
  LoadClient again(port);
  again.wait_for_body("v1-1");
  expect_no_loss(again.stop());
}

// Proxy mode, answers that take a while (connections queue in each instance's backlog): an
// instance scaled away is stopped only once it has taken every connection it was sent.
TEST_F(ScaleTest, AnInstanceScaledAwayStopsOnlyOnceItTookItsConnections) {
  auto dir = d.component(
      "web", "[run]\ncommand = " + fixture_command({"work:50", "serve-port:v1-{instance}"}) +
                 "\n[serve]\nmode = \"proxy\"\nport = " + std::to_string(port) + "\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  LoadClient load(port, 6);
  load.wait_for_more(8);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(d.cli({"scale", "web", "3"}).code, 0);
    load.wait_for_body("v1-2");
    ASSERT_EQ(d.cli({"scale", "web", "1"}).code, 0);
    load.wait_for_more(8);
  }
  expect_no_loss(load.stop());
}

}  // namespace
}  // namespace berth::testing
