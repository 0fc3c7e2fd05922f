// [limits] through cgroup v2: applied to every process of a tree before it runs, or refused
// with limits_unavailable (saying why) where the host cannot apply them, never silently
// unlimited; an OOM kill is reported as `oom`.
#include <gtest/gtest.h>

#include "harness.h"

namespace berth::testing {
namespace {

std::string hog_manifest(const std::string& limits) {
  return "[run]\ncommand = " + fixture_command({"print:up", "hog:512", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n[restart]\npolicy = \"never\"\n[limits]\n" + limits;
}

TEST(Limits, WithoutCgroupsTheyAreRefused) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  d.write_config("cgroup = \"off\"\n");
  d.start();
  auto dir = d.component("hog", hog_manifest("memory = \"32MiB\"\n"));
  auto r = d.cli({"run", dir.string(), "--json"});
  EXPECT_NE(r.code, 0);
  auto err = json::parse(r.err, nullptr, false);
  EXPECT_EQ(err["error"]["code"], "limits_unavailable") << r.err;
  EXPECT_NE(r.err.find("without cgroups"), std::string::npos) << r.err;
  auto s = d.api("GET", "/v1/components/hog").body;
  EXPECT_EQ(s["state"], "failed");
  EXPECT_TRUE(s["pid"].is_null());
}

// Where the memory controller is handed down to berth's group the hog is killed and `oom`
// reported; where it is not (a hybrid cgroup mount with every controller on v1, or no
// delegation) the start is refused, naming the controller.
TEST(Limits, AMemoryHogIsKilledAsOomOrRefusedNamingTheController) {
  TestDaemon d;
  if (d.api("GET", "/healthz").body.value("isolation", "") != "cgroup")
    GTEST_SKIP()
        << "the daemon runs without cgroups here (covered by WithoutCgroupsTheyAreRefused)";
  auto dir = d.component("hog", hog_manifest("memory = \"32MiB\"\npids = 64\n"));
  auto r = d.cli({"run", dir.string(), "--json"});
  if (r.code != 0) {
    auto err = json::parse(r.err, nullptr, false);
    EXPECT_EQ(err["error"]["code"], "limits_unavailable") << r.err;
    EXPECT_NE(r.err.find("memory controller"), std::string::npos) << r.err;
    EXPECT_TRUE(d.api("GET", "/v1/components/hog").body["pid"].is_null());
    GTEST_SKIP() << "the memory controller is not delegated here: " << r.err;
  }
  auto s = d.wait_for("hog", [](const json& s) { return s["state"] == "failed"; });
  EXPECT_EQ(s["last_exit"]["reason"], "oom") << s.dump();
  EXPECT_NE(s["last_error"]["message"].get<std::string>().find("out of memory"), std::string::npos);
}

}  // namespace
}  // namespace berth::testing
