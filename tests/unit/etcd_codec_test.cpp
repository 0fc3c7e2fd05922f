// The etcd JSON gateway's replies as etcd 3.4.23 sent them (recorded here with curl): omitted
// zero fields, int64 strings, base64, the `result` wrapper of streams, errors, and a watch
// stream whose chunks cut messages anywhere.
#include "cluster/etcd_codec.h"

#include <gtest/gtest.h>

namespace berth::etcd {
namespace {

constexpr const char* kHeader =
    R"("header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"2","raft_term":"2"})";

std::string with_header(const std::string& rest) {
  return std::string("{") + kHeader + (rest.empty() ? "" : "," + rest) + "}";
}

TEST(EtcdCodec, Base64RoundTripsBytes) {
  for (std::string s : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                        std::string("/berth/v1/default/comp/web"), std::string("\0\xff\x01", 3)})
    EXPECT_EQ(*unbase64(base64(s)), s);
  EXPECT_EQ(base64("/b/x"), "L2IveA==");
  EXPECT_FALSE(unbase64("!!!!"));
  EXPECT_FALSE(unbase64("abc"));
}

TEST(EtcdCodec, PrefixEndIsTheNextKeyAfterEveryKeyWithThePrefix) {
  EXPECT_EQ(prefix_end("/b/"), "/b0");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(EtcdCodec, RangeRepliesWithAndWithoutKeys) {
  auto r = parse_range(with_header(
      R"("kvs":[{"key":"L2IveA==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8="}],"count":"1")"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->revision, 2);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "/b/x");
  EXPECT_EQ(r->kvs[0].value, "hello");
  EXPECT_EQ(r->kvs[0].mod_revision, 2);
  EXPECT_EQ(r->kvs[0].lease, 0);              // omitted: zero
  auto empty = parse_range(with_header(""));  // no kvs, no count
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->kvs.empty());
}

TEST(EtcdCodec, TxnSuccessAndFailure) {
  auto ok = parse_txn(
      R"({"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]})");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->succeeded);
  EXPECT_EQ(ok->revision, 3);
  // A failed txn has no `succeeded` at all; its range ops answer in `responses`.
  auto ko = parse_txn(with_header(
      R"("responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"L2IveA==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8="}],"count":"1"}}])"));
  ASSERT_TRUE(ko);
  EXPECT_FALSE(ko->succeeded);
  ASSERT_EQ(ko->ranges.size(), 1u);
  EXPECT_EQ(ko->ranges[0].kvs[0].value, "hello");
}

TEST(EtcdCodec, LeasesAndKeepalives) {
  auto g = parse_grant(with_header(R"("ID":"2324035753955083784","TTL":"5")"));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->id, 2324035753955083784);
  EXPECT_EQ(g->ttl, 5);
  EXPECT_EQ(*parse_keepalive(
                R"({"result":{"header":{"revision":"5"},"ID":"2324035753955083791","TTL":"5"}})"),
            5);
  // A keepalive for a lease that is gone has no TTL.
  EXPECT_EQ(
      *parse_keepalive(R"({"result":{"header":{"revision":"5"},"ID":"2324035753955083791"}})"), 0);
}

TEST(EtcdCodec, ErrorsAreErrors) {
  auto e = parse_range(
      R"({"error":"illegal base64 data at input byte 0","message":"illegal base64 data at input byte 0","code":3})");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Code::kBadEtcdReply);
  EXPECT_NE(e.error().message.find("illegal base64"), std::string::npos);
  EXPECT_FALSE(parse_range("not json"));
  EXPECT_FALSE(parse_range(R"({"header":{"revision":"x"}})"));
  EXPECT_FALSE(parse_watch(R"({"error":{"grpc_code":14,"message":"etcdserver: no leader"}})"));
}

// Found by the fuzzer (corpus/etcd_codec/crash-9d4a…): a field of another type than etcd's
// made json::value() throw, an exception that would have ended the daemon. Each is a coded
// error now.
TEST(EtcdCodec, FieldsOfTheWrongTypeAreCodedErrorsNotExceptions) {
  auto refused = [](const auto& r) { return !r && r.error().code == Code::kBadEtcdReply; };
  EXPECT_TRUE(refused(parse_txn(R"({"succeeded":[{"response_put":{}}]})")));
  EXPECT_TRUE(refused(parse_txn(R"({"responses":[{"response_range":7}]})")));
  EXPECT_TRUE(refused(parse_watch(R"({"result":{"created":"yes"}})")));
  EXPECT_TRUE(refused(parse_watch(R"({"result":{"canceled":1}})")));
  EXPECT_TRUE(refused(parse_watch(R"({"result":{"cancel_reason":["x"]}})")));
  EXPECT_TRUE(refused(parse_watch(R"({"result":{"events":[3]}})")));
  EXPECT_TRUE(refused(parse_watch(R"({"result":{"events":[{"type":4,"kv":{}}]}})")));
  // An error whose message is not text still reads as etcd's error.
  auto e = parse_range(R"({"error":{"message":42}})");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("42"), std::string::npos) << e.error().message;
}

// The stream exactly as etcd sent it: created, two PUTs (no `type`), a PUT, a DELETE with its
// prev_kv, then a watch from a compacted revision being cancelled.
const char* kStream =
    R"({"result":{"header":{"revision":"3"},"created":true}})"
    "\n"
    R"({"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"L2IveA==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8="}},{"kv":{"key":"L2IveQ==","create_revision":"3","mod_revision":"3","version":"1","value":"djI="}}]}})"
    "\n"
    R"({"result":{"header":{"revision":"5"},"events":[{"type":"DELETE","kv":{"key":"L2Iveg==","mod_revision":"5"},"prev_kv":{"key":"L2Iveg==","create_revision":"4","mod_revision":"4","version":"1","value":"eno="}}]}})"
    "\n"
    R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"4"}})"
    "\n";

TEST(EtcdCodec, AWatchStreamCutAtEveryByteDecodesTheSame) {
  std::string stream = kStream;
  for (size_t cut = 1; cut < stream.size(); cut += 7) {
    WatchDecoder d;
    std::vector<WatchMessage> all;
    for (size_t off = 0; off < stream.size(); off += cut) {
      auto got = d.feed(std::string_view(stream).substr(off, cut));
      ASSERT_TRUE(got) << got.error().message;
      all.insert(all.end(), got->begin(), got->end());
    }
    ASSERT_EQ(all.size(), 4u) << "cut " << cut;
    EXPECT_TRUE(all[0].created);
    ASSERT_EQ(all[1].events.size(), 2u);
    EXPECT_FALSE(all[1].events[0].deleted);
    EXPECT_EQ(all[1].events[1].kv.value, "v2");
    EXPECT_TRUE(all[2].events[0].deleted);
    EXPECT_EQ(all[2].events[0].kv.key, "/b/z");
    EXPECT_EQ(all[2].events[0].prev->value, "zz");
    EXPECT_TRUE(all[3].canceled);
    EXPECT_EQ(all[3].compact_revision, 4);
    EXPECT_EQ(all[3].revision, 0);  // the header had no revision
  }
}

TEST(EtcdCodec, RequestsEncodeKeysAndNumbersAsTheGatewayWants) {
  auto t = txn_request({{"/k", Compare::Target::kCreate, Compare::Op::kEqual, 0, ""}},
                       {{TxnOp::Kind::kPut, "/k", "v", "", 42}});
  EXPECT_EQ(t["compare"][0]["key"], base64("/k"));
  EXPECT_EQ(t["compare"][0]["target"], "CREATE");
  EXPECT_EQ(t["compare"][0]["create_revision"], "0");
  EXPECT_EQ(t["success"][0]["request_put"]["lease"], "42");
  auto w = watch_request("/p/", prefix_end("/p/"), 7);
  EXPECT_EQ(w["create_request"]["start_revision"], "7");
  EXPECT_EQ(w["create_request"]["range_end"], base64("/p0"));
}

}  // namespace
}  // namespace berth::etcd
