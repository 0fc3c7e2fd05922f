// The dashboard's HTTP side, without a browser: the page and its policy, signing in (the
// cookie's attributes), the CSRF rule on cookie requests, the limit on wrong tokens, signing
// out, and the live stream. dashboard_browser_test.cpp drives the page itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "cluster_harness.h"
#include "harness.h"

namespace berth::testing {
namespace {

struct Answer {
  int status = 0;
  std::string head, body;
  // A header's value ("" when absent); names compared without case.
  std::string header(std::string name) const {
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    auto at = lower.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    at += name.size() + 4;
    return head.substr(at, head.find("\r\n", at) - at);
  }
  json json_body() const { return json::parse(body, nullptr, false); }
};

// One request on its own connection, with whatever headers the test wants to send.
Answer send(TestDaemon& d, const std::string& method, const std::string& target,
            const std::vector<std::string>& headers = {}, const std::string& body = "") {
  RawConnection c(d.port());
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  for (auto& h : headers) req += h + "\r\n";
  if (!body.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "Connection: close\r\n\r\n" + body;
  c.send(req);
  std::string raw = c.read_response();
  Answer a;
  auto end = raw.find("\r\n\r\n");
  a.head = raw.substr(0, end);
  a.body = end == std::string::npos ? "" : raw.substr(end + 4);
  a.status = std::stoi(raw.substr(9, 3));
  return a;
}

Answer sign_in(TestDaemon& d, const std::string& token) {
  return send(d, "POST", "/v1/session", {"Content-Type: application/json"},
              json{{"token", token}}.dump());
}

// "berth_session=…" from a sign-in's Set-Cookie.
std::string cookie_of(const Answer& a) {
  auto v = a.header("Set-Cookie");
  return v.substr(0, v.find(';'));
}

TEST(Dashboard, ThePageAndItsAssetsNeedNoTokenAndAllowNoInlineScript) {
  TestDaemon d;
  auto page = send(d, "GET", "/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  const auto csp = page.header("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  // Every <script> loads a file: the policy would refuse an inline one anyway.
  size_t scripts = 0;
  for (size_t at = 0; (at = page.body.find("<script", at)) != std::string::npos; ++at, ++scripts)
    EXPECT_EQ(page.body.compare(at, 13, "<script src=\""), 0) << page.body.substr(at, 40);
  EXPECT_EQ(scripts, 1u);

  auto js = send(d, "GET", "/assets/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(send(d, "GET", "/assets/app.css").status, 200);
  EXPECT_EQ(send(d, "GET", "/assets/nothing.js").status, 404);
  // The API itself still needs a credential.
  EXPECT_EQ(send(d, "GET", "/v1/components").status, 401);
}

TEST(Dashboard, SigningInSetsAnHttpOnlyStrictCookieThatOpensTheApi) {
  TestDaemon d;
  auto in = sign_in(d, d.token());
  ASSERT_EQ(in.status, 200) << in.body;
  const auto set = in.header("Set-Cookie");
  for (const char* attr : {"; HttpOnly", "; SameSite=Strict", "; Path=/", "; Max-Age="})
    EXPECT_NE(set.find(attr), std::string::npos) << set;
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "plain HTTP: a Secure cookie never returns";
  const std::string csrf = in.json_body().value("csrf", "");
  EXPECT_EQ(csrf.size(), 64u);
  const std::string cookie = "Cookie: theme=dark; " + cookie_of(in);

  auto list = send(d, "GET", "/v1/components", {cookie});
  EXPECT_EQ(list.status, 200) << list.body;
  auto again = send(d, "GET", "/v1/session", {cookie});
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json_body().value("csrf", ""), csrf) << "a reloaded page gets its token back";

  EXPECT_EQ(send(d, "GET", "/v1/session").status, 401);
  EXPECT_EQ(send(d, "GET", "/v1/components", {"Cookie: berth_session=forged"}).status, 401);
  // A body that is not the JSON sign-in is refused, not guessed at.
  EXPECT_EQ(send(d, "POST", "/v1/session", {"Content-Type: text/plain"}, d.token()).status, 400);
}

TEST(Dashboard, AStateChangingRequestOnTheCookieNeedsTheSessionsCsrfToken) {
  TestDaemon d;
  d.component("app", "[run]\ncommand = " + fixture_command({"print:up", "sleep:600000"}) +
                         "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", "--wait", (d.work() / "app").string()}).code, 0);
  auto in = sign_in(d, d.token());
  const std::string cookie = "Cookie: " + cookie_of(in);
  const std::string csrf = in.json_body().value("csrf", "");

  auto bare = send(d, "POST", "/v1/components/app/restart", {cookie});
  EXPECT_EQ(bare.status, 403);
  EXPECT_EQ(bare.json_body()["error"].value("code", ""), "csrf_failed") << bare.body;
  auto wrong =
      send(d, "POST", "/v1/components/app/restart", {cookie, "X-CSRF-Token: " + csrf + "0"});
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(d.api("GET", "/v1/components/app").body.value("restarts", -1), 0)
      << "a refused request restarted it";

  auto right = send(d, "POST", "/v1/components/app/restart", {cookie, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(right.status, 200) << right.body;
  EXPECT_EQ(right.json_body().value("restarts", -1), 1);
  // The bearer token is no ambient credential: it needs no CSRF token.
  EXPECT_EQ(d.api("POST", "/v1/components/app/restart").status, 200);
}

TEST(Dashboard, WrongTokensFromOneAddressAreRateLimited) {
  TestDaemon d;
  for (int i = 0; i < 6; ++i) {
    auto a = sign_in(d, "guess-" + std::to_string(i));
    ASSERT_EQ(a.status, 401) << "attempt " << i << ": " << a.body;
    EXPECT_EQ(a.json_body()["error"].value("code", ""), "unauthorized");
  }
  // The sixth wrong one locked the address: even the right token now waits.
  auto locked = sign_in(d, d.token());
  EXPECT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(locked.json_body()["error"].value("code", ""), "rate_limited");
  EXPECT_GE(std::stoi("0" + locked.header("Retry-After")), 1) << locked.head;
  // The API's bearer token is not locked out with it (the CLI shares the address).
  EXPECT_EQ(d.api("GET", "/v1/components").status, 200);
  // Once the wait is over, the right token signs in and clears the count.
  ASSERT_TRUE(poll_until([&] { return sign_in(d, d.token()).status == 200; }));
  EXPECT_EQ(sign_in(d, "one-more-guess").status, 401) << "the count was not cleared";
}

TEST(Dashboard, SigningOutEndsTheSession) {
  TestDaemon d;
  auto in = sign_in(d, d.token());
  const std::string cookie = "Cookie: " + cookie_of(in);
  const std::string csrf = in.json_body().value("csrf", "");
  EXPECT_EQ(send(d, "DELETE", "/v1/session", {cookie}).status, 403) << "sign-out needs CSRF too";
  auto out = send(d, "DELETE", "/v1/session", {cookie, "X-CSRF-Token: " + csrf});
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_NE(out.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(send(d, "GET", "/v1/components", {cookie}).status, 401);
}

TEST(Dashboard, TheLiveStreamSendsComponentsAndDeploymentsAndFollowsChanges) {
  TestDaemon d;
  d.component("app", "[run]\ncommand = " + fixture_command({"print:up", "sleep:600000"}) +
                         "\n[ready]\nmarker = \"up\"\n");
  // --wait: the stream's first snapshot must then say ready, not a starting it raced.
  ASSERT_EQ(d.cli({"run", "--wait", (d.work() / "app").string()}).code, 0);
  http::Client client("127.0.0.1", d.port(), d.token());
  std::vector<std::string> states;
  bool deployments = false, restarted = false;
  auto r = client.follow("/v1/events", [&](const http::SseEvent& e) {
    auto j = json::parse(e.data);
    if (e.type == "deployments") deployments = j["deployments"].is_array();
    if (e.type != "components") return true;
    EXPECT_EQ(j["components"].size(), 1u);
    const auto& c = j["components"][0];
    if (states.empty() || states.back() != c.value("state", "")) states.push_back(c["state"]);
    if (!restarted && c.value("state", "") == "ready") {
      restarted = true;  // a change the stream must show: restarts goes to 1
      EXPECT_EQ(d.api("POST", "/v1/components/app/restart").status, 200);
    }
    return c.value("restarts", 0) < 1;
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(deployments);
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.front(), "ready");
}

TEST(Dashboard, TheCliPrintsItsAddressAndWhereTheTokenIs) {
  TestDaemon d;
  auto r = d.cli({"dashboard"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string url = "http://127.0.0.1:" + std::to_string(d.port()) + "/";
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), url);
  EXPECT_NE(r.out.find((d.home() / "token").string()), std::string::npos) << r.out;
  auto j = json::parse(d.cli({"dashboard", "--json"}).out, nullptr, false);
  EXPECT_EQ(j.value("url", ""), url);
  // What it names answers with the page.
  EXPECT_EQ(send(d, "GET", "/").status, 200);
}

TEST(Dashboard, InAClusterTheLiveStreamShowsEveryNodeAndANodeGoingDown) {
  TestCluster c(2);
  if (!c.available()) GTEST_SKIP() << c.why();
  c.wait_view(1, {"n1", "n2"});
  http::Client client("127.0.0.1", c.node(1).port(), c.node(1).token());
  std::vector<std::string> seen;  // n2's state, each time it changed
  bool killed = false;
  auto r = client.follow("/v1/events", [&](const http::SseEvent& e) {
    if (e.type != "nodes") return true;
    auto j = json::parse(e.data);
    for (auto& n : j["nodes"]) {
      if (n.value("name", "") != "n2") continue;
      if (seen.empty() || seen.back() != n.value("state", "")) seen.push_back(n["state"]);
    }
    if (!killed && seen == std::vector<std::string>{"up"}) {
      c.node(2).kill9();  // its lease lapses: n1's view must show it down
      killed = true;
    }
    return seen.empty() || seen.back() != "down";
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"up", "down"}));
}

}  // namespace
}  // namespace berth::testing
