// The dashboard in a real headless Chromium: tests/browser/dashboard_test.cjs signs in, watches
// a component go from starting to ready, reads a log line appear, restarts it, is refused
// without the CSRF token, follows a deploy phase by phase and rolls back from the page. This
// side starts the daemon and the components, runs the script, and checks what it did from the
// API. Screenshots go to BUILD/tests/dashboard-screenshots/.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

// Why the browser test cannot run here, or "" when it can.
std::string unavailable() {
  if (!fs::exists("/usr/bin/chromium")) return "no /usr/bin/chromium (Debian's chromium)";
  if (!fs::exists("/usr/bin/node")) return "no /usr/bin/node";
  const fs::path dir = BROWSER_DIR;
  if (std::ifstream why{dir / "unavailable"}; why)
    return std::string(std::istreambuf_iterator<char>(why), {});
  if (!fs::exists(dir / "node_modules/playwright-core"))
    return "playwright-core is not installed in " + dir.string();
  return "";
}

TEST(DashboardBrowser, SignInWatchRestartReadLogsDeployAndRollBack) {
  if (auto why = unavailable(); !why.empty()) GTEST_SKIP() << why;
  TestDaemon d;
  const fs::path gates = d.work() / "gates";
  fs::create_directories(gates);
  // app: registered stopped; its start waits for the ready gate, then a line waits for another.
  d.component("app",
              "[run]\ncommand = " +
                  fixture_command({"print:booting", "wait-file:" + (gates / "ready").string(),
                                   "print:listening", "wait-file:" + (gates / "line").string(),
                                   "print:late line 42", "sleep:600000"}) +
                  "\n[ready]\nmarker = \"listening\"\n");
  std::ofstream(gates / "ready").close();  // registering it starts it once
  ASSERT_EQ(d.cli({"run", (d.work() / "app").string()}).code, 0);
  ASSERT_EQ(d.cli({"stop", "app"}).code, 0);
  fs::remove(gates / "ready");  // the page's start waits for the script to open it
  // web: deployed once; its next deploy installs until the deploy gate opens.
  const std::string web_run = "[run]\ncommand = " + fixture_command({"print:up", "sleep:600000"}) +
                              "\n[ready]\nmarker = \"up\"\n";
  auto web = d.component("web", web_run);
  auto first = deploy_no_follow(d, web, "web");
  ASSERT_EQ(wait_ended(d, first).value("status", ""), "success");
  d.component("web", web_run + gated_install(gates / "install-started", gates / "deploy"));

  const fs::path shots = fs::path(BERTH_BUILD_DIR) / "tests/dashboard-screenshots";
  fs::remove_all(shots);
  fs::create_directories(shots);
  auto env = d.env();
  env["BERTH_URL"] = "http://127.0.0.1:" + std::to_string(d.port());
  env["BERTH_TOKEN"] = d.token();
  env["APP"] = "app";
  env["READY_GATE"] = (gates / "ready").string();
  env["LINE_GATE"] = (gates / "line").string();
  env["WEB"] = "web";
  env["WEB_DIR"] = web.string();
  env["DEPLOY_GATE"] = (gates / "deploy").string();
  env["BERTH_BIN"] = BERTH_BIN;
  env["PLAYWRIGHT"] = (fs::path(BROWSER_DIR) / "node_modules/playwright-core").string();
  env["CHROMIUM"] = "/usr/bin/chromium";
  env["SHOTS"] = shots.string();
  auto run = run_command(
      {"/usr/bin/node", std::string(BERTH_SOURCE_DIR) + "/tests/browser/dashboard_test.cjs"}, env);
  ASSERT_EQ(run.code, 0) << run.out << run.err << "\nscreenshots in " << shots;
  EXPECT_NE(run.out.find("all steps passed"), std::string::npos) << run.out;

  // What the page did, seen from the API.
  auto app = d.api("GET", "/v1/components/app").body;
  EXPECT_EQ(app.value("state", ""), "ready");
  EXPECT_EQ(app.value("restarts", -1), 1);
  auto history = d.api("GET", "/v1/deployments?component=web").body["deployments"];
  ASSERT_EQ(history.size(), 3u) << history.dump();
  EXPECT_EQ(history[0].value("kind", ""), "rollback");
  EXPECT_EQ(history[0].value("status", ""), "success");
  EXPECT_EQ(history[0].value("release", ""), history[2].value("release", "x"));
  EXPECT_EQ(live_release(d, "web"), history[2].value("release", "x"));
  for (const char* shot : {"01-signin", "04-ready", "05-log", "07-deploying", "08-rolled-back"})
    EXPECT_TRUE(fs::exists(shots / (std::string(shot) + ".png"))) << shot;
}

}  // namespace
}  // namespace berth::testing
