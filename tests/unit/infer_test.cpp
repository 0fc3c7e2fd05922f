// Zero configuration (config/infer): what runs in a directory without a berth.toml.
#include "config/infer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "cli/run_plan.h"
#include "config/manifest.h"
#include "support/temp_dir.h"

namespace berth {
namespace {
namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

TEST(Procfile, WebComesFirstAndBadLinesAreNamed) {
  auto p = parse_procfile("# processes\nworker: node worker.js\n\nweb:  node server.js \n", "P");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].type, "web");
  EXPECT_EQ((*p)[0].command, "node server.js");
  EXPECT_EQ((*p)[1].type, "worker");
  EXPECT_NE(parse_procfile("web node\n", "P").error().message.find("P:1:"), std::string::npos);
  EXPECT_NE(parse_procfile("web:\n", "P").error().message.find("no command"), std::string::npos);
  EXPECT_NE(parse_procfile("a: x\na: y\n", "P").error().message.find("twice"), std::string::npos);
}

TEST(Infer, ProcfileThenPackageJsonThenOneEntryFile) {
  test::TempDir d;
  write(d.path / "server.js", "");
  EXPECT_EQ(infer_run(d.path)->argv, (Argv{"node", "server.js"}));
  EXPECT_EQ(infer_run(d.path)->how, "server.js");
  write(d.path / "package.json", R"({"main": "lib/main.js"})");
  EXPECT_EQ(infer_run(d.path)->argv, (Argv{"node", "lib/main.js"}));
  EXPECT_EQ(infer_run(d.path)->how, "package.json main");
  write(d.path / "package.json", R"({"main": "x.js", "scripts": {"start": "node server.js"}})");
  EXPECT_EQ(infer_run(d.path)->argv, (Argv{"npm", "start"}));
  write(d.path / "Procfile", "worker: sleep 1\nweb: node server.js\n");
  auto web = infer_run(d.path);
  EXPECT_EQ(web->argv, (Argv{"/bin/sh", "-c", "node server.js"}));
  EXPECT_EQ(web->how, "Procfile web");
  EXPECT_EQ(infer_run(d.path, "worker")->argv, (Argv{"/bin/sh", "-c", "sleep 1"}));
  EXPECT_EQ(infer_run(d.path, "clock").error().code, Code::kBadManifest);
}

TEST(Infer, NothingOrSeveralEntryFilesIsAClearError) {
  test::TempDir d;
  auto none = infer_run(d.path);
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message.find("berth init"), std::string::npos);
  write(d.path / "app.py", "");
  EXPECT_EQ(infer_run(d.path)->argv, (Argv{"python3", "app.py"}));
  write(d.path / "index.js", "");
  auto two = infer_run(d.path);
  ASSERT_FALSE(two.has_value());
  EXPECT_NE(two.error().message.find("app.py, index.js"), std::string::npos);
  write(d.path / "package.json", "{not json");
  EXPECT_NE(infer_run(d.path).error().message.find("package.json"), std::string::npos);
}

TEST(Infer, LoadManifestFallsBackAndAGivenCommandReplacesTheManifests) {
  test::TempDir d;
  write(d.path / "main.py", "");
  auto m = load_manifest(d.path);
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->run.argv, (Argv{"python3", "main.py"}));
  EXPECT_EQ(m->inferred, "main.py");
  write(d.path / "berth.toml", "[run]\ncommand = \"true\"\n[ready]\nmarker = \"up\"\n");
  m = load_manifest(d.path);
  EXPECT_TRUE(m->inferred.empty());
  m = load_manifest(d.path, RunSource{{"sleep", "1"}, ""});
  EXPECT_EQ(m->run.argv, (Argv{"sleep", "1"}));
  EXPECT_TRUE(m->ready.marker.has_value());  // the rest of berth.toml still applies
}

TEST(Infer, NamesFromCommands) {
  EXPECT_EQ(name_from_command({"python3", "-m", "http.server", "8000"}), "http.server");
  EXPECT_EQ(name_from_command({"node", "--inspect", "server.js"}), "server");
  EXPECT_EQ(name_from_command({"/usr/local/bin/redis-server", "--port", "1"}), "redis-server");
}

TEST(Infer, ScriptsRunWithTheirInterpreter) {
  test::TempDir d;
  write(d.path / "a.mjs", "");
  EXPECT_EQ(script_command(d.path / "a.mjs")->front(), "node");
  write(d.path / "tool", "#!/bin/sh\n");
  EXPECT_EQ(script_command(d.path / "tool").error().code, Code::kBadManifest);
  ::chmod((d.path / "tool").c_str(), 0755);
  EXPECT_EQ(script_command(d.path / "tool")->size(), 1u);
}

TEST(RunPlan, AProcfileMakesOneComponentPerTypeAndAFileRunsFromItsDirectory) {
  test::TempDir d;
  fs::create_directory(d.path / "shop");
  write(d.path / "shop" / "Procfile", "worker: sleep 1\nweb: sleep 2\n");
  auto plan = cli::plan_run({"shop", {}, "", false}, d.path);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0]["name"], "shop-web");
  EXPECT_EQ((*plan)[0]["procfile"], "web");
  EXPECT_EQ((*plan)[1]["name"], "shop-worker");
  EXPECT_EQ((*plan)[1]["dir"], (d.path / "shop").string());

  write(d.path / "shop" / "server.js", "");
  auto file = cli::plan_run({"shop/server.js", {}, "", false}, d.path);
  ASSERT_EQ(file->size(), 1u);
  EXPECT_EQ((*file)[0]["command"], (Argv{"node", "server.js"}));
  EXPECT_EQ((*file)[0]["name"], "server");
  EXPECT_EQ((*file)[0]["dir"], (d.path / "shop").string());

  auto cmd = cli::plan_run({"", {"python3", "-m", "http.server"}, "", false}, d.path);
  EXPECT_EQ((*cmd)[0]["dir"], d.path.string());
  EXPECT_EQ((*cmd)[0]["name"], "http.server");
}

TEST(Init, WritesAManifestThatLoadsAndNeverOverwrites) {
  test::TempDir d;
  write(d.path / "package.json", R"({"scripts": {"start": "node ."}})");
  auto how = cli::init_manifest(d.path, "shop");
  ASSERT_TRUE(how.has_value()) << how.error().message;
  EXPECT_EQ(*how, "package.json scripts.start");
  auto m = load_manifest(d.path);
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->name, "shop");
  EXPECT_EQ(m->run.argv, (Argv{"npm", "start"}));
  EXPECT_TRUE(m->inferred.empty());
  EXPECT_FALSE(cli::init_manifest(d.path, "shop").has_value());
}

}  // namespace
}  // namespace berth
