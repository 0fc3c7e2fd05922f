// The Debian package `make package` builds (CPack): its metadata and contents, read back with
// dpkg-deb; and the man page, which must name every command the CLI has.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "harness.h"

namespace berth::testing {
namespace {

bool have(const std::string& tool) {
  return run_command({"/bin/sh", "-c", "command -v " + tool}, {}).code == 0;
}

TEST(Package, DebHasTheBinaryUnitCompletionsManPagesAndComputedDepends) {
  if (!have("cpack") || !have("dpkg-deb") || !have("dpkg-shlibdeps"))
    GTEST_SKIP() << "cpack, dpkg-deb or dpkg-shlibdeps (dpkg-dev) is not installed";
  TempDir out;
  auto made = run_command(
      {"/bin/sh", "-c",
       "cd '" + std::string(BERTH_BUILD_DIR) + "' && cpack -G DEB -B '" + out.path.string() + "'"},
      {});
  ASSERT_EQ(made.code, 0) << made.out << made.err;
  const std::string deb = out.path.string() + "/berth_0.1.0_amd64.deb";
  auto info = run_command({"/bin/sh", "-c", "dpkg-deb --info '" + deb + "'"}, {});
  ASSERT_EQ(info.code, 0) << info.err;
  for (const std::string want : {"Package: berth", "Version: 0.1.0", "Section: admin",
                                 "Depends: ", "libsqlite3-0", "libarchive13", "libre2-9"})
    EXPECT_NE(info.out.find(want), std::string::npos) << want << " in\n" << info.out;
  auto contents = run_command({"/bin/sh", "-c", "dpkg-deb --contents '" + deb + "'"}, {});
  ASSERT_EQ(contents.code, 0) << contents.err;
  for (const std::string want :
       {"./usr/bin/berth", "./usr/lib/systemd/system/berth.service",
        "./usr/share/bash-completion/completions/berth",
        "./usr/share/zsh/vendor-completions/_berth",
        "./usr/share/fish/vendor_completions.d/berth.fish", "./usr/share/man/man1/berth.1.gz",
        "./usr/share/man/man5/berth.toml.5.gz", "./usr/share/doc/berth/manifest.md"})
    EXPECT_NE(contents.out.find(want), std::string::npos) << want << " in\n" << contents.out;
  // The unit as the package ships it runs the packaged binary, as a notify service.
  auto unit = run_command(
      {"/bin/sh", "-c",
       "dpkg-deb --fsys-tarfile '" + deb + "' | tar -xO ./usr/lib/systemd/system/berth.service"},
      {});
  EXPECT_NE(unit.out.find("ExecStart=\"/usr/bin/berth\" daemon"), std::string::npos) << unit.out;
  EXPECT_NE(unit.out.find("Environment=\"BERTH_HOME=/var/lib/berth\""), std::string::npos);
  EXPECT_NE(unit.out.find("Type=notify"), std::string::npos);
  EXPECT_NE(unit.out.find("Delegate=yes"), std::string::npos);
  // Debian's own checks: a copyright file, a changelog, description lines that fit, and
  // maintainer scripts that parse; lintian (where installed) has nothing to say.
  for (const std::string want :
       {"./usr/share/doc/berth/copyright", "./usr/share/doc/berth/changelog.gz"})
    EXPECT_NE(contents.out.find(want), std::string::npos) << want << " in\n" << contents.out;
  for (const std::string script : {"postinst", "prerm", "postrm"}) {
    EXPECT_NE(info.out.find(script), std::string::npos) << script << " in\n" << info.out;
    EXPECT_EQ(run_command({"/bin/sh", "-n", std::string(BERTH_SOURCE_DIR) + "/packaging/debian/" +
                                                script},
                          {})
                  .code,
              0)
        << script;
  }
  if (!have("lintian")) {
    std::fprintf(stderr, "lintian is not installed: its checks were not run\n");
    return;
  }
  auto lint = run_command({"/usr/bin/lintian", "--fail-on", "error,warning", deb}, {});
  EXPECT_EQ(lint.code, 0) << lint.out << lint.err;
}

// berth(1) names every subcommand `berth --help` lists, so the page cannot fall behind.
TEST(Package, TheManPageNamesEveryCommand) {
  auto help = run_command({BERTH_BIN, "--help"}, {});
  ASSERT_EQ(help.code, 0);
  std::ifstream page(std::string(BERTH_SOURCE_DIR) + "/packaging/berth.1");
  std::set<std::string> named;
  for (std::string line; std::getline(page, line);) {
    if (!line.starts_with(".B")) continue;
    for (auto& c : line)
      if (c == '"' || c == ',') c = ' ';
    std::istringstream words(line);
    for (std::string w; words >> w;) named.insert(w);
  }
  std::istringstream lines(help.out);
  bool in_commands = false;
  int commands = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("Subcommands:")) in_commands = true;
    if (!in_commands || !line.starts_with("  ")) continue;
    const auto end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", 2);
    const std::string name = line.substr(2, end == std::string::npos ? end : end - 2);
    if (name.empty()) continue;
    ++commands;
    EXPECT_TRUE(named.contains(name)) << name << " is missing from packaging/berth.1";
  }
  EXPECT_GT(commands, 20);
}

}  // namespace
}  // namespace berth::testing
