// berth's etcd client against a real 3-member etcd: the key-value calls, transactions, leases
// that lapse, watches (events, a cancelled watch, a compacted start revision), and failover
// to another endpoint when the one in use dies.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "etcd_cluster.h"

namespace berth::testing {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.available()) GTEST_SKIP() << cluster.why();
    etcd::Options o;
    for (auto& e : cluster.endpoints()) o.endpoints.push_back(*http::Url::parse(e));
    o.timeout = 2s;
    client = std::make_unique<etcd::Client>(io.get_executor(), o);
  }

  // Runs one call to completion on the test's loop.
  template <class T>
  T run(asio::awaitable<T> aw) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    while (!out) io.run_one();
    return std::move(*out);
  }

  EtcdCluster cluster;
  asio::io_context io;
  std::unique_ptr<etcd::Client> client;
};

TEST_F(EtcdClientTest, PutsGetsListsAndRemoves) {
  auto rev = run(client->put("/t/a", "1"));
  ASSERT_TRUE(rev) << rev.error().message;
  EXPECT_GT(*rev, 0);
  ASSERT_TRUE(run(client->put("/t/b", std::string("\0\xff", 2))));
  ASSERT_TRUE(run(client->put("/u/c", "3")));
  auto got = run(client->get("/t/a"));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "1");
  auto listed = run(client->list("/t/"));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->kvs.size(), 2u);
  EXPECT_EQ(listed->kvs[1].value, std::string("\0\xff", 2));
  EXPECT_TRUE(run(client->remove("/t/a")));
  EXPECT_TRUE(run(client->get("/t/a"))->kvs.empty());
}

// One writer per key, compare-and-swap on the revision read: the second writer loses cleanly.
TEST_F(EtcdClientTest, TransactionsCompareTheRevisionTheyRead) {
  using etcd::Compare, etcd::TxnOp;
  auto create = run(client->txn({{"/k", Compare::Target::kCreate, Compare::Op::kEqual, 0, ""}},
                                {{TxnOp::Kind::kPut, "/k", "v1", "", 0}}));
  ASSERT_TRUE(create);
  EXPECT_TRUE(create->succeeded);
  auto read = run(client->get("/k"));
  const int64_t mod = read->kvs[0].mod_revision;
  auto first = run(client->txn({{"/k", Compare::Target::kMod, Compare::Op::kEqual, mod, ""}},
                               {{TxnOp::Kind::kPut, "/k", "v2", "", 0}}));
  auto second = run(client->txn({{"/k", Compare::Target::kMod, Compare::Op::kEqual, mod, ""}},
                                {{TxnOp::Kind::kPut, "/k", "v3", "", 0}},
                                {{TxnOp::Kind::kRange, "/k", "", "", 0}}));
  EXPECT_TRUE(first->succeeded);
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->ranges.size(), 1u);
  EXPECT_EQ(second->ranges[0].kvs[0].value, "v2");  // what the loser sees instead
}

TEST_F(EtcdClientTest, AKeyOnALeaseGoesWithTheLease) {
  auto lease = run(client->grant(5));
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_GE(lease->ttl, 2);
  ASSERT_TRUE(run(client->put("/node/n1", "here", lease->id)));
  EXPECT_GT(*run(client->keepalive(lease->id)), 0);
  ASSERT_TRUE(run(client->revoke(lease->id)));
  EXPECT_EQ(*run(client->keepalive(lease->id)), 0);  // gone: register again
  EXPECT_TRUE(run(client->get("/node/n1"))->kvs.empty());
}

TEST_F(EtcdClientTest, AWatchSeesPutsAndDeletesAndStopsWhenCancelled) {
  auto handle = std::make_shared<http::StreamHandle>();
  std::vector<etcd::WatchEvent> events;
  bool created = false;
  std::optional<Result<void>> ended;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const std::function<void(etcd::WatchMessage&)> on_message = [&](etcd::WatchMessage& m) {
          created = created || m.created;
          for (auto& e : m.events) events.push_back(e);
        };
        ended = co_await client->watch("/w/", 0, on_message, handle);
      },
      asio::detached);
  while (!created) io.run_one();
  ASSERT_TRUE(run(client->put("/w/a", "1")));
  ASSERT_TRUE(run(client->remove("/w/a")));
  ASSERT_TRUE(run(client->put("/elsewhere", "x")));
  while (events.size() < 2) io.run_one();
  EXPECT_FALSE(events[0].deleted);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_TRUE(events[1].deleted);
  EXPECT_EQ(events[1].prev->value, "1");
  handle->cancel();
  while (!ended) io.run_one();
  EXPECT_EQ(ended->error().code, Code::kCancelled);
  EXPECT_EQ(events.size(), 2u);  // nothing from outside the prefix
}

TEST_F(EtcdClientTest, AWatchFromACompactedRevisionIsCancelledWithTheCompactRevision) {
  auto r1 = run(client->put("/c/a", "1"));
  ASSERT_TRUE(run(client->put("/c/a", "2")));
  auto r3 = run(client->put("/c/a", "3"));
  ASSERT_TRUE(run(client->compact(*r3)));
  std::optional<etcd::WatchMessage> cancel;
  auto handle = std::make_shared<http::StreamHandle>();
  std::optional<Result<void>> ended;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const std::function<void(etcd::WatchMessage&)> on_message = [&](etcd::WatchMessage& m) {
          if (m.canceled) {
            cancel = m;
            handle->cancel();
          }
        };
        ended = co_await client->watch("/c/", *r1, on_message, handle);
      },
      asio::detached);
  while (!ended) io.run_one();
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->compact_revision, *r3);
}

TEST_F(EtcdClientTest, CallsMoveToAnotherEndpointWhenOneDies) {
  ASSERT_TRUE(run(client->put("/f", "before")));
  const auto used = client->endpoint().str();
  int dead = 0;
  for (int i = 0; i < cluster.size(); ++i)
    if (cluster.endpoints()[i] == used) dead = i;
  cluster.kill(dead);
  auto after = run(client->put("/f", "after"));
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_NE(client->endpoint().str(), used);
  EXPECT_EQ(run(client->get("/f"))->kvs[0].value, "after");
}

TEST_F(EtcdClientTest, NoEndpointAnsweringIsClusterUnavailable) {
  for (int i = 0; i < cluster.size(); ++i) cluster.kill(i);
  auto r = run(client->get("/x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kClusterUnavailable);
}

}  // namespace
}  // namespace berth::testing
