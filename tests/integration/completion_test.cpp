// `berth completion`: scripts generated from the CLI's own definition, which parse in their
// shell and complete commands, flags and the running daemon's component names.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

// What bash offers for the words typed so far, with the generated script sourced.
std::string bash_offers(TestDaemon& d, const fs::path& script, const std::string& words) {
  auto env = d.env();
  env["PATH"] = fs::path(BERTH_BIN).parent_path().string() + ":/usr/bin:/bin";
  const std::string program = "source " + script.string() + "; COMP_WORDS=(" + words +
                              "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _berth; "
                              "printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto r = run_command({"/bin/bash", "-c", program}, env);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

TEST(Completion, BashCompletesCommandsFlagsAndComponentNames) {
  TestDaemon d;
  auto dir = d.component("web", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  auto gen = d.cli({"completion", "bash"});
  ASSERT_EQ(gen.code, 0) << gen.err;
  auto script = d.work() / "berth.bash";
  std::ofstream(script) << gen.out;
  EXPECT_EQ(run_command({"/bin/bash", "-n", script.string()}, {}).code, 0);

  auto cmds = bash_offers(d, script, "berth dep");
  EXPECT_NE(cmds.find("deploy\n"), std::string::npos) << cmds;
  EXPECT_NE(cmds.find("deployments\n"), std::string::npos) << cmds;
  auto flags = bash_offers(d, script, "berth logs --fo");
  EXPECT_EQ(flags, "--follow\n");
  auto names = bash_offers(d, script, "berth restart ''");
  EXPECT_NE(names.find("web\n"), std::string::npos) << names;
  EXPECT_NE(names.find("all\n"), std::string::npos) << names;
  auto logs = bash_offers(d, script, "berth logs w");
  EXPECT_EQ(logs, "web\n");  // a name, and no `all` where it means nothing
  EXPECT_EQ(d.cli({"completion", "tcsh"}).code, 1);
}

TEST(Completion, ZshAndFishScriptsParse) {
  TestDaemon d;
  int checked = 0;
  for (const char* shell : {"zsh", "fish"}) {
    auto gen = d.cli({"completion", shell});
    ASSERT_EQ(gen.code, 0) << gen.err;
    EXPECT_NE(gen.out.find("berth __names"), std::string::npos);
    const std::string bin = std::string("/usr/bin/") + shell;
    if (!fs::exists(bin)) continue;
    auto script = d.work() / (std::string("berth.") + shell);
    std::ofstream(script) << gen.out;
    EXPECT_EQ(run_command({bin, "-n", script.string()}, {}).code, 0) << shell;
    if (std::string(shell) == "fish") {
      auto offers = run_command({bin, "-c",
                                 "source " + script.string() +
                                     "; complete -C 'berth dep'; complete -C "
                                     "'berth logs --fo'"},
                                {});
      EXPECT_NE(offers.out.find("deployments"), std::string::npos) << offers.out << offers.err;
      EXPECT_NE(offers.out.find("--follow"), std::string::npos) << offers.out;
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "neither zsh nor fish is installed to parse their scripts";
}

}  // namespace
}  // namespace berth::testing
