// Install-command detection, and the [install] table of the manifest.
#include "deploy/installer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "config/manifest.h"
#include "core/fs_util.h"
#include "support/temp_dir.h"

namespace berth {
namespace {
namespace fs = std::filesystem;

class PlanTest : public ::testing::Test {
 protected:
  void file(const std::string& name, const std::string& text) {
    ASSERT_TRUE(write_file_atomic(dir_ / name, text));
  }
  std::string command(const InstallSpec& spec = {}) {
    auto p = plan_install(dir_, spec);
    EXPECT_TRUE(p) << p.error().message;
    return p && *p ? (*p)->command : "(none)";
  }
  test::TempDir tmp_;
  const fs::path& dir_ = tmp_.path;
};

const std::string kDeps = R"({"dependencies": {"left-pad": "1.3.0"}})";

TEST_F(PlanTest, NothingToInstallWithoutPackageJson) {
  EXPECT_EQ(command(), "(none)");
}

TEST_F(PlanTest, NothingToInstallWithoutDependencies) {
  file("package.json", R"({"name": "x", "scripts": {"start": "node ."}})");
  EXPECT_EQ(command(), "(none)");
}

TEST_F(PlanTest, LockfileMeansNpmCi) {
  file("package.json", kDeps);
  file("package-lock.json", "{}");
  EXPECT_EQ(command(), "npm ci");
}

TEST_F(PlanTest, NoLockfileMeansNpmInstall) {
  file("package.json", kDeps);
  EXPECT_EQ(command(), "npm install");
}

TEST_F(PlanTest, DevEnginesPackageManagerWins) {
  file("package.json", R"({"dependencies": {"a": "1"},
    "devEngines": {"packageManager": {"name": "pnpm", "version": "9"}}})");
  file("pnpm-lock.yaml", "");
  EXPECT_EQ(command(), "pnpm install --frozen-lockfile");
}

TEST_F(PlanTest, DevEnginesAsAnArrayTakesTheFirst) {
  file("package.json", R"({"dependencies": {"a": "1"},
    "devEngines": {"packageManager": [{"name": "yarn"}, {"name": "npm"}]}})");
  EXPECT_EQ(command(), "yarn install");
}

TEST_F(PlanTest, UnknownPackageManagerIsAnError) {
  file("package.json", R"({"dependencies": {"a": "1"},
    "devEngines": {"packageManager": {"name": "zpm"}}})");
  auto p = plan_install(dir_, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Code::kBadPackageJson);
}

TEST_F(PlanTest, BrokenPackageJsonIsAnError) {
  file("package.json", "{not json");
  auto p = plan_install(dir_, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Code::kBadPackageJson);
}

TEST_F(PlanTest, ManifestCommandWinsAndEmptySkips) {
  file("package.json", kDeps);
  InstallSpec spec;
  spec.command = "make deps";
  EXPECT_EQ(command(spec), "make deps");
  spec.command = "";
  EXPECT_EQ(command(spec), "(none)");
}

TEST(ManifestInstall, ParsesCommandAndTimeout) {
  auto m = parse_manifest(
      "[run]\ncommand = \"x\"\n[install]\ncommand = \"npm ci\"\ntimeout = \"2m\"\n", "berth.toml");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->install.command, "npm ci");
  EXPECT_EQ(m->install.timeout, Millis(120'000));
  auto bad = parse_manifest("[run]\ncommand = \"x\"\n[install]\ncmd = \"npm ci\"\n", "berth.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("install.cmd"), std::string::npos) << bad.error().message;
}

TEST_F(PlanTest, PackageManagersGetDefaultCacheInputsAndOutputs) {
  file("package.json", kDeps);
  file("package-lock.json", "{}");
  auto p = plan_install(dir_, {});
  ASSERT_TRUE(p && *p);
  EXPECT_TRUE((*p)->uncached.empty());
  EXPECT_EQ((*p)->outputs, std::vector<std::string>{"node_modules"});
  EXPECT_NE(std::find((*p)->inputs.begin(), (*p)->inputs.end(), "package-lock.json"),
            (*p)->inputs.end());
}

TEST_F(PlanTest, ACustomCommandIsCachedOnlyWithInputsAndOutputs) {
  InstallSpec spec;
  spec.command = "pip install --target vendor -r requirements.txt";
  auto p = plan_install(dir_, spec);
  ASSERT_TRUE(p && *p);
  EXPECT_NE((*p)->uncached.find("inputs and outputs"), std::string::npos);
  spec.inputs = {"requirements.txt"};
  spec.outputs = {"vendor"};
  p = plan_install(dir_, spec);
  EXPECT_TRUE((*p)->uncached.empty());
  spec.cache = false;
  p = plan_install(dir_, spec);
  EXPECT_EQ((*p)->uncached, "[install] cache = false");
  // A package manager behind an environment assignment still gets its defaults.
  spec = {};
  spec.command = "NODE_ENV=production npm ci --omit=dev";
  p = plan_install(dir_, spec);
  EXPECT_EQ((*p)->outputs, std::vector<std::string>{"node_modules"});
}

TEST(ManifestInstall, ParsesCacheInputsAndOutputs) {
  auto m = parse_manifest(
      "[run]\ncommand = \"x\"\n[install]\ncommand = \"make\"\ncache = true\n"
      "inputs = [\"Makefile\", \"deps/list.txt\"]\noutputs = [\"build\"]\n",
      "berth.toml");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m->install.inputs, (std::vector<std::string>{"Makefile", "deps/list.txt"}));
  EXPECT_EQ(*m->install.outputs, std::vector<std::string>{"build"});
  for (const char* bad : {"\"../up\"", "\"/etc\"", "\".\"", "3"}) {
    auto r = parse_manifest(
        std::string("[run]\ncommand = \"x\"\n[install]\noutputs = [") + bad + "]\n", "berth.toml");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("install.outputs"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace berth
