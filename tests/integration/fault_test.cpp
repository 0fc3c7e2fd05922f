// Faults injected at the seams where the disk and the kernel fail (core/failpoint.h, armed
// through /v1/debug/failpoints): each ends in a clear, coded error and leaves nothing half
// done: the serving release and process stay, no staging or partial file is left, and the
// next try, once the fault is gone, succeeds.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <fstream>

#include "harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

std::string app_toml(const std::string& text) {
  return "[run]\ncommand = " + fixture_command({"print:" + text, "print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n";
}

void disarm(TestDaemon& d, const std::string& name) {
  ASSERT_EQ(d.api("DELETE", "/v1/debug/failpoints/" + name).status, 200);
}

// What a failed deploy may not leave: a staging directory, a partial blob, a deployment still
// `running`.
void expect_nothing_half(TestDaemon& d, const std::string& name) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(d.home() / "releases" / name, ec))
    EXPECT_FALSE(e.path().filename().string().starts_with(".staging-")) << e.path();
  for (auto& e : fs::recursive_directory_iterator(d.home() / "blobs", ec))
    EXPECT_FALSE(e.path().filename().string().starts_with(".incoming-")) << e.path();
  const auto list = d.api("GET", "/v1/deployments?component=" + name);  // outlives the loop
  for (auto& dep : list.body["deployments"]) EXPECT_NE(dep["status"], "running") << dep.dump();
}

// One deployed release serving, then a second deploy with `failpoint` armed: it must fail
// with `code`, and everything of the first stays as it was.
void deploy_fails_cleanly(const std::string& failpoint, const std::string& error,
                          const std::string& code) {
  TestDaemon d;
  auto dir = d.component("app", app_toml("v1"));
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  const auto before = d.wait_state("app", "ready");
  const std::string release = live_release(d, "app");
  std::ofstream(dir / "berth.toml") << app_toml("v2");
  ASSERT_TRUE(d.arm(failpoint, error));
  auto r = d.cli({"deploy", dir.string()});
  EXPECT_NE(r.code, 0);
  EXPECT_NE((r.out + r.err).find(code), std::string::npos) << r.out << r.err;
  disarm(d, failpoint);
  EXPECT_EQ(live_release(d, "app"), release);
  auto now = d.api("GET", "/v1/components/app").body;
  EXPECT_EQ(now["state"], "ready");
  EXPECT_EQ(now["pid"], before["pid"]);
  expect_nothing_half(d, "app");
  auto again = d.cli({"deploy", dir.string()});  // the fault gone, the same deploy goes through
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(live_release(d, "app"), release);
}

TEST(Faults, TheDebugApiListsArmsAndDisarmsFailpoints) {
  TestDaemon d;
  auto list = d.api("GET", "/v1/debug/failpoints").body;
  EXPECT_EQ(list["compiled_in"], true);
  EXPECT_NE(std::find(list["names"].begin(), list["names"].end(), "archive.write"),
            list["names"].end());
  auto armed = d.api("PUT", "/v1/debug/failpoints/archive.write", R"({"error":"EIO*2"})").body;
  ASSERT_EQ(armed["armed"].size(), 1u);
  EXPECT_EQ(armed["armed"][0]["error"], "EIO");
  EXPECT_EQ(armed["armed"][0]["remaining"], 2);
  auto unknown = d.api("PUT", "/v1/debug/failpoints/no.such", R"({"error":"EIO"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["code"], "not_found");
  auto bad = d.api("PUT", "/v1/debug/failpoints/fs.write", R"({"error":"EWHAT"})");
  EXPECT_EQ(bad.body["error"]["code"], "bad_request");
  EXPECT_TRUE(d.api("DELETE", "/v1/debug/failpoints/archive.write").body["armed"].empty());
}

TEST(Faults, ADiskFullWhileExtractingFailsTheDeployAsDiskFull) {
  deploy_fails_cleanly("archive.write", "ENOSPC", "disk_full");
}

TEST(Faults, AnIoErrorOnTheExtractionsSyncFailsTheDeploy) {
  deploy_fails_cleanly("archive.sync", "EIO", "extract_failed");
}

TEST(Faults, ADiskFullWhileThePayloadArrivesFailsTheUpload) {
  deploy_fails_cleanly("blob.write", "ENOSPC", "disk_full");
}

TEST(Faults, AFailedFsyncOfThePayloadFailsTheUpload) {
  deploy_fails_cleanly("blob.fsync", "EIO", "io_error");
}

TEST(Faults, AStoreThatRefusesWritesFailsTheDeploy) {
  deploy_fails_cleanly("store.write", "ENOSPC", "disk_full");
}

// Spawning needs pipes: out of descriptors, the start fails with spawn_failed, and the next
// start, with descriptors back, runs.
TEST(Faults, OutOfDescriptorsAtSpawnFailsTheStartAndTheNextStartRuns) {
  TestDaemon d;
  auto dir = d.component("app", app_toml("v1"));
  ASSERT_TRUE(d.arm("proc.spawn", "EMFILE*1"));
  auto r = d.api("POST", "/v1/components", json{{"dir", dir}}.dump());
  auto s = d.wait_state("app", "failed");
  EXPECT_EQ(s["last_error"]["code"], "spawn_failed") << s.dump() << r.body.dump();
  EXPECT_NE(s["last_error"]["message"].get<std::string>().find("Too many open files"),
            std::string::npos);
  EXPECT_EQ(d.api("POST", "/v1/components/app/start").status, 200);
  d.wait_state("app", "ready");
}

// The API's accept running out of descriptors: those connections are dropped, the loop backs
// off instead of spinning, and then serves again.
TEST(Faults, OutOfDescriptorsOnAcceptDropsThoseConnectionsThenServes) {
  TestDaemon d;
  ASSERT_TRUE(d.arm("http.accept", "EMFILE*3"));
  int dropped = 0;
  for (;;) {
    RawConnection c(d.port());
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (c.read_to_close().starts_with("HTTP/1.1 200")) break;
    ++dropped;
    ASSERT_LE(dropped, 3) << "still dropping after the failpoint was spent";
  }
  EXPECT_EQ(dropped, 3);
  auto fp = d.api("GET", "/v1/debug/failpoints").body["armed"];
  ASSERT_EQ(fp.size(), 1u);
  EXPECT_EQ(fp[0]["failed"], 3);
  EXPECT_EQ(fp[0]["remaining"], 0);
}

// Armed from the environment at start ($BERTH_FAILPOINTS): a daemon that cannot write its
// token (a full disk) does not start half-way; it says why and exits, leaving no token.
TEST(Faults, ADaemonThatCannotWriteItsTokenSaysWhyAndExits) {
  TestDaemon d({{"BERTH_FAILPOINTS", "fs.write=ENOSPC"}}, TestDaemon::Start::kLater);
  auto r = run_command({BERTH_BIN, "daemon"}, d.env());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d.home() / "token"));
  EXPECT_FALSE(fs::exists(d.home() / "token.tmp"));
}

}  // namespace
}  // namespace berth::testing
