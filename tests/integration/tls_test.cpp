// The API over TLS: with [api] tls_cert and tls_key the daemon serves only TLS, the CLI finds
// it through daemon.json and verifies it; a plain client, a client trusting another CA, and a
// certificate naming another address get nowhere; a certificate that does not load stops the
// daemon at start with the key named. The certificates come from a CA made for each test.
#include "http/tls.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <optional>

#include "cli/connection.h"
#include "config/home.h"
#include "harness.h"
#include "http/async_client.h"
#include "http/server.h"
#include "test_ca.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

std::string tls_config(const TestCa::Issued& id) {
  return "[api]\ntls_cert = \"" + id.cert.string() + "\"\ntls_key = \"" + id.key.string() + "\"\n";
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ca.available()) GTEST_SKIP() << ca.why();
  }
  // A daemon serving TLS with a certificate signed by `ca`.
  std::unique_ptr<TestDaemon> daemon() {
    auto d = std::make_unique<TestDaemon>(std::map<std::string, std::string>{},
                                          TestDaemon::Start::kLater);
    issued = ca.issue("api");
    d->write_config(tls_config(issued));
    return d;
  }
  TestCa ca;
  TestCa::Issued issued;
};

TEST_F(TlsTest, TheApiServesTlsAndTheCliVerifiesIt) {
  auto d = daemon();
  d->start();  // the harness's health check already went through the CLI's TLS client
  auto info = read_daemon_info(d->home());
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->tls);
  EXPECT_EQ(info->ca, issued.cert);  // no cluster.ca: the certificate itself is the anchor
  // A deploy: an upload, then the followed event stream, both over TLS.
  auto dir = d->component("web", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                     "\n[ready]\nmarker = \"up\"\n");
  auto r = d->cli({"deploy", dir.string(), "--name", "web"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(d->api("GET", "/v1/components/web").body["state"], "ready");
  auto ls = d->cli({"ls"});
  EXPECT_EQ(ls.code, 0) << ls.err;
  EXPECT_NE(ls.out.find("web"), std::string::npos) << ls.out;
}

TEST_F(TlsTest, PlainHttpGetsNoAnswer) {
  auto d = daemon();
  d->start();
  http::Client plain("127.0.0.1", d->port(), d->token());
  auto r = plain.request("GET", "/v1/components", "", std::chrono::seconds(5));
  EXPECT_FALSE(r) << r->status << " " << r->body;
  EXPECT_EQ(d->api("GET", "/healthz").status, 200);  // and the daemon serves on
}

TEST_F(TlsTest, AClientTrustingAnotherCaRefusesTheDaemon) {
  auto d = daemon();
  d->start();
  TestCa other("another-ca");
  ASSERT_TRUE(other.available()) << other.why();
  auto ctx = http::tls_client_context(other.ca());
  ASSERT_TRUE(ctx) << ctx.error().message;
  http::Client c("127.0.0.1", d->port(), d->token(), *ctx);
  auto r = c.request("GET", "/healthz", "", std::chrono::seconds(5));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kDaemonUnreachable);
  EXPECT_NE(r.error().message.find("certificate verify failed"), std::string::npos)
      << r.error().message;
}

// In process: a server on 127.0.0.1 whose certificate names `ip`, and the daemon's own client
// (the one that calls etcd and peers) calling it; the result of that call.
Result<http::Reply> call_server(TestCa& ca, const std::string& ip, bool with_context) {
  auto id = ca.issue("server-" + ip, ip);
  auto server_tls = http::tls_server_context(id.cert, id.key);
  EXPECT_TRUE(server_tls) << server_tls.error().message;
  auto client_tls = http::tls_client_context(ca.ca());
  EXPECT_TRUE(client_tls) << client_tls.error().message;
  boost::asio::io_context io;
  http::Router router;
  router.add("GET", "/hello", [](http::Request&) -> boost::asio::awaitable<http::Response> {
    co_return http::Response{200, "{}"};
  });
  http::Server server(
      io, router, [](const http::Request&) { return http::Verdict{}; }, http::ServerLimits{},
      *server_tls);
  auto port = server.listen("127.0.0.1", 0);
  EXPECT_TRUE(port);
  auto url = http::Url::parse("https://127.0.0.1:" + std::to_string(*port));
  http::Call call;
  call.method = "GET";
  call.target = "/hello";
  if (with_context) call.tls = *client_tls;
  std::optional<Result<http::Reply>> out;
  boost::asio::co_spawn(io, http::send(io.get_executor(), *url, call),
                        [&](std::exception_ptr, Result<http::Reply> r) {
                          out = std::move(r);
                          io.stop();
                        });
  io.run();
  return std::move(*out);
}

TEST_F(TlsTest, ThePeerClientVerifiesTheAddressTheCertificateNames) {
  auto good = call_server(ca, "127.0.0.1", true);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->status, 200);
  auto wrong = call_server(ca, "127.0.0.9", true);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Code::kUnreachable);
  EXPECT_NE(wrong.error().message.find("TLS handshake"), std::string::npos)
      << wrong.error().message;
}

TEST_F(TlsTest, HttpsWithoutACaIsAConfigurationError) {
  auto r = call_server(ca, "127.0.0.1", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kBadConfig);
  EXPECT_NE(r.error().message.find("cluster.ca"), std::string::npos) << r.error().message;
}

TEST_F(TlsTest, ACertificateThatDoesNotLoadStopsTheDaemonAtStart) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  auto id = ca.issue("api");
  std::ofstream(id.cert) << "not a certificate\n";
  d.write_config(tls_config(id));
  auto r = run_command({BERTH_BIN, "daemon"}, d.env());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("api.tls_cert"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(id.cert.string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d.home() / "daemon.json"));
}

TEST_F(TlsTest, AKeyThatDoesNotMatchTheCertificateStopsTheDaemonAtStart) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  auto id = ca.issue("api"), other = ca.issue("other");
  d.write_config(tls_config({id.cert, other.key}));
  auto r = run_command({BERTH_BIN, "daemon"}, d.env());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("mismatch"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace berth::testing
