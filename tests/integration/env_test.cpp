// The environment a component gets is the one it was given (issue: "A success you can trust"):
// the daemon's [env] base instead of whatever shell started it, [run] env, .env, profiles and
// --env, read afresh at every start, kept across daemon restarts, shown with their sources.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

// The process's real environment, from the kernel (not from what berth says it gave).
std::map<std::string, std::string> environ_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::map<std::string, std::string> out;
  std::string entry;
  while (std::getline(ss, entry, '\0')) {
    auto eq = entry.find('=');
    if (eq != std::string::npos) out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

std::map<std::string, std::string> env_of(TestDaemon& d, const std::string& name) {
  auto s = d.wait_state(name, "ready");
  EXPECT_TRUE(s["pid"].is_number()) << s.dump();
  return s["pid"].is_number() ? environ_of(s["pid"].get<pid_t>())
                              : std::map<std::string, std::string>{};
}

std::string source_of(const json& status, const std::string& var) {
  for (auto& e : status["env"])
    if (e["name"] == var) return e["source"];
  return "(absent)";
}

std::string shown(const json& status, const std::string& var) {
  for (auto& e : status["env"])
    if (e["name"] == var) return e["value"];
  return "(absent)";
}

std::string up_forever() {
  return "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n";
}

TEST(Env, TheDaemonsShellDoesNotLeakAndItsBaseIsExplicit) {
  TestDaemon d(std::map<std::string, std::string>{{"LEAKED_FROM_SHELL", "1"}},
               TestDaemon::Start::kLater);
  d.write_config("[env]\npass = [\"PATH\", \"HOME\"]\n[env.set]\nTZ = \"UTC\"\n");
  d.start();
  auto dir = d.component("app", up_forever());
  ASSERT_EQ(d.cli({"run", dir.string()}).code, 0);
  auto env = env_of(d, "app");
  EXPECT_FALSE(env.contains("LEAKED_FROM_SHELL"));
  EXPECT_EQ(env["TZ"], "UTC");
  EXPECT_FALSE(env["PATH"].empty());
  EXPECT_EQ(env["BERTH_COMPONENT"], "app");
  auto s = d.api("GET", "/v1/components/app").body;
  EXPECT_EQ(source_of(s, "TZ"), "daemon");
  EXPECT_EQ(source_of(s, "BERTH_COMPONENT"), "berth");
  EXPECT_EQ(source_of(s, "LEAKED_FROM_SHELL"), "(absent)");
}

TEST(Env, ACallersShellDoesNotReachARestart) {
  // `FOO=x berth restart app` used to change nothing, silently; now only --env does.
  TestDaemon d;
  auto dir = d.component("app", up_forever());
  ASSERT_EQ(d.cli({"run", dir.string()}).code, 0);
  auto cli_env = d.env();
  cli_env["FOO"] = "from-the-shell";
  std::vector<std::string> argv = {BERTH_BIN, "restart", "app"};
  ASSERT_EQ(run_command(argv, cli_env).code, 0);
  EXPECT_FALSE(env_of(d, "app").contains("FOO"));
  auto r = d.cli({"restart", "app", "--env", "FOO=from-the-flag"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(env_of(d, "app")["FOO"], "from-the-flag");
}

TEST(Env, EnvFlagReachesTheProcessAndSurvivesADaemonRestart) {
  TestDaemon d;
  auto dir = d.component("app", up_forever());
  auto run = d.cli({"run", dir.string(), "--env", "FOO=bar", "-e", "API_TOKEN=s3cret", "--wait"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  auto env = env_of(d, "app");
  EXPECT_EQ(env["FOO"], "bar");
  EXPECT_EQ(env["API_TOKEN"], "s3cret");
  auto s = d.api("GET", "/v1/components/app").body;
  EXPECT_EQ(source_of(s, "FOO"), "--env");
  EXPECT_EQ(shown(s, "API_TOKEN"), "****");  // masked where shown, whole in the process
  auto status = d.cli({"status", "app"});
  EXPECT_NE(status.out.find("FOO=bar  (--env)"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("s3cret"), std::string::npos) << status.out;

  ASSERT_EQ(d.shutdown(), 0);
  d.start();
  env = env_of(d, "app");
  EXPECT_EQ(env["FOO"], "bar");
  EXPECT_EQ(env["API_TOKEN"], "s3cret");

  // Kept until changed: a plain restart keeps it, --unset-env drops it.
  ASSERT_EQ(d.cli({"restart", "app"}).code, 0);
  EXPECT_EQ(env_of(d, "app")["FOO"], "bar");
  ASSERT_EQ(d.cli({"restart", "app", "--unset-env", "FOO"}).code, 0);
  env = env_of(d, "app");
  EXPECT_FALSE(env.contains("FOO"));
  EXPECT_EQ(env["API_TOKEN"], "s3cret");
}

TEST(Env, DotEnvAndAProfileLayerOverRunEnvAndAreReadAfreshAtEveryStart) {
  TestDaemon d;
  auto dir = d.component("app", up_forever() +
                                    "[run.env]\nA = \"run\"\nC = \"run\"\nD = \"run\"\n"
                                    "[env.staging]\nC = \"staging\"\n");
  // [run.env] after [ready] is still the run table's env in TOML.
  std::ofstream(dir / ".env") << "# secrets stay out of berth.toml\nA=from-file\n"
                              << "B=\"two words\" # a comment\nexport E='$HOME'\n";
  auto run = d.cli({"run", dir.string(), "--profile", "staging"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  auto env = env_of(d, "app");
  EXPECT_EQ(env["A"], "from-file");
  EXPECT_EQ(env["B"], "two words");
  EXPECT_EQ(env["C"], "staging");
  EXPECT_EQ(env["D"], "run");
  EXPECT_EQ(env["E"], "$HOME");  // nothing is expanded
  auto s = d.api("GET", "/v1/components/app").body;
  EXPECT_EQ(source_of(s, "A"), (dir / ".env").string());
  EXPECT_EQ(source_of(s, "C"), "profile staging");
  EXPECT_EQ(s["profile"], "staging");

  std::ofstream(dir / ".env") << "A=edited\n";
  ASSERT_EQ(d.cli({"restart", "app"}).code, 0);
  env = env_of(d, "app");
  EXPECT_EQ(env["A"], "edited");
  EXPECT_EQ(env["C"], "staging");  // the profile is kept
  ASSERT_EQ(d.cli({"restart", "app", "--profile", ""}).code, 0);
  EXPECT_EQ(env_of(d, "app")["C"], "run");
}

TEST(Env, AnUnknownProfileOrABadEnvFileIsRefusedAndLeavesNothing) {
  TestDaemon d;
  auto dir = d.component("app", up_forever() + "[env.production]\nX = \"1\"\n");
  auto r = d.cli({"run", dir.string(), "--profile", "prodution"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("unknown_profile"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("production"), std::string::npos) << r.err;
  EXPECT_EQ(d.api("GET", "/v1/components/app").status, 404);  // nothing registered

  auto bad =
      d.api("POST", "/v1/components", json{{"dir", dir}, {"env", {{"NOT-A-NAME", "x"}}}}.dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["code"], "bad_env");
  EXPECT_EQ(d.api("GET", "/v1/components/app").status, 404);

  std::ofstream(dir / ".env") << "OK=1\nthis line has no equals sign\n";
  auto broken = d.api("POST", "/v1/components", json{{"dir", dir}}.dump());
  EXPECT_EQ(broken.status, 400) << broken.body.dump();
  EXPECT_EQ(broken.body["error"]["code"], "bad_env_file");
  EXPECT_NE(broken.body["error"]["message"].get<std::string>().find(".env:2:"), std::string::npos)
      << broken.body.dump();
  EXPECT_EQ(d.api("GET", "/v1/components/app").status, 404);
}

TEST(Env, ARestartIntoABrokenEnvFileKeepsTheRunningRelease) {
  TestDaemon d;
  auto dir = d.component("app", up_forever());
  std::ofstream(dir / ".env") << "A=1\n";
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  auto before = d.api("GET", "/v1/components/app").body["pid"];
  std::ofstream(dir / ".env") << "A=\"never closed\n";
  auto r = d.cli({"restart", "app"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("unterminated"), std::string::npos) << r.err;
  auto after = d.api("GET", "/v1/components/app").body;
  EXPECT_EQ(after["state"], "ready");
  EXPECT_EQ(after["pid"], before);
  // A stop needs no environment: it works whatever the env file holds.
  auto stop = d.cli({"stop", "app"});
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(d.api("GET", "/v1/components/app").body["state"], "stopped");
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

TEST(Env, ADeploysEnvReachesItsReleaseAndAFailedOneGivesThePreviousItsOwnBack) {
  TestDaemon d;
  auto dir = d.component(
      "app",
      "[run]\ncommand = \"if [ \\\"$MODE\\\" = bad ]; then echo refusing >&2; exit 3; fi; "
      "exec " +
          std::string(FIXTURE_BIN) +
          " print:up forever\"\n[ready]\nmarker = \"up\"\n[env.staging]\nLEVEL = \"debug\"\n");
  auto first = d.cli({"deploy", dir.string(), "--env", "MODE=good", "--profile", "staging"});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  auto s = d.wait_state("app", "ready");
  auto env = environ_of(s["pid"].get<pid_t>());
  EXPECT_EQ(env["MODE"], "good");
  EXPECT_EQ(env["LEVEL"], "debug");

  auto bad = d.cli({"deploy", dir.string(), "--env", "MODE=bad"});
  EXPECT_NE(bad.code, 0) << bad.out;
  s = d.wait_state("app", "ready");
  EXPECT_EQ(environ_of(s["pid"].get<pid_t>())["MODE"], "good");  // the old release, its own env
  EXPECT_EQ(source_of(s, "MODE"), "--env");

  auto typo = d.cli({"deploy", dir.string(), "--profile", "stagign"});
  EXPECT_NE(typo.code, 0);
  EXPECT_NE((typo.out + typo.err).find("unknown_profile"), std::string::npos)
      << typo.out << typo.err;
  s = d.wait_state("app", "ready");
  EXPECT_EQ(s["profile"], "staging");
  EXPECT_EQ(environ_of(s["pid"].get<pid_t>())["LEVEL"], "debug");

  auto names =
      d.api("PUT", "/v1/components/app?env=%7B%22env%22%3A%7B%22A-B%22%3A%221%22%7D%7D", "x");
  EXPECT_EQ(names.status, 400);
  EXPECT_EQ(names.body["error"]["code"], "bad_env");
}

}  // namespace
}  // namespace berth::testing
