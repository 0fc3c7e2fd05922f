// The API's answers to bad input: every refusal is a 4xx with a stable code, never a 500 with
// parser text, never a silently ignored key, never a string cut at a NUL.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

std::string app_toml() {
  return "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n";
}

void expect_bad_request(const ApiResult& r, const std::string& mentions) {
  EXPECT_EQ(r.status, 400) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "bad_request") << r.body.dump();
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find(mentions), std::string::npos)
      << r.body.dump();
}

TEST(ApiEdges, BodiesOfTheWrongShapeAreRefusedNotIgnored) {
  TestDaemon d;
  expect_bad_request(d.api("POST", "/v1/cache/prune", R"({"all":"yes"})"), "\"all\"");
  expect_bad_request(d.api("POST", "/v1/cache/prune", R"({"everything":true})"), "everything");
  expect_bad_request(d.api("POST", "/v1/components", R"({"dir":"/tmp","wacth":true})"), "wacth");
  expect_bad_request(d.api("POST", "/v1/components", R"({"name":"x"})"), "dir");
  expect_bad_request(d.api("POST", "/v1/reconcile", R"({"live":[1]})"), "live");

  // `{"dir": 1}` to rollback used to perform a rollback.
  auto dir = d.component("app", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  std::ofstream(dir / "v2") << "2";
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto before = d.api("GET", "/v1/deployments?component=app").body["deployments"].size();
  expect_bad_request(d.api("POST", "/v1/components/app/rollback", R"({"dir":1})"), "dir");
  EXPECT_EQ(d.api("GET", "/v1/deployments?component=app").body["deployments"].size(), before);
}

TEST(ApiEdges, NulInsideAStringIsRefused) {
  TestDaemon d;
  auto dir = d.component("app", app_toml());
  // "/tmp\u0000/x" used to become "/tmp".
  json body = {{"dir", dir.string() + std::string("\0/x", 3)}};
  expect_bad_request(d.api("POST", "/v1/components", body.dump()), "NUL");
  EXPECT_EQ(d.api("GET", "/v1/components/app").status, 404);

  auto nul = d.component("nul", "[run]\ncommand = \"echo a\\u0000b\"\n");
  auto r = d.api("POST", "/v1/components", json{{"dir", nul}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "bad_manifest");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("run.command: contains a NUL"),
            std::string::npos)
      << r.body.dump();
}

TEST(ApiEdges, BadLastEventIdsAreRefused) {
  TestDaemon d;
  auto dir = d.component("app", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto id = d.api("GET", "/v1/deployments?component=app").body["deployments"][0]["id"];
  for (const std::string bad : {"-1", "18446744073709551616", "12abc", "+7"}) {
    http::Client c("127.0.0.1", d.port(), d.token());
    const std::vector<std::string> targets = {
        "/v1/components/app/logs?follow=1", "/v1/deployments/" + id.get<std::string>() + "/events"};
    for (const auto& target : targets) {
      auto r = c.follow(
          target, [](const http::SseEvent&) { return false; }, bad);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400) << target << " " << bad << " " << r->body;
    }
  }
  http::Client c("127.0.0.1", d.port(), d.token());  // event ids are signed 64-bit
  auto r = c.follow(
      "/v1/deployments/" + id.get<std::string>() + "/events",
      [](const http::SseEvent&) { return false; }, "9223372036854775808");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST(ApiEdges, StatusMessagesDoNotRepeatTheirCode) {
  TestDaemon d;
  auto dir = d.component("gone",
                         "[run]\ncommand = \"exit 127\"\n[restart]\npolicy = \"never\"\n"
                         "[ready]\nsettle = \"5s\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto s = d.wait_for("gone", [](const json& s) { return s["state"] == "failed"; });
  auto status = d.cli({"status", "gone"});
  EXPECT_EQ(status.out.find("exited: exited"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("exited_before_ready: exited before ready"), std::string::npos)
      << status.out;
}

}  // namespace
}  // namespace berth::testing
