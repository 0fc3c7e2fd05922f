// etcd v3's JSON gateway, as data: requests built and replies decoded, nothing sent. Facts
// checked against etcd 3.4.23 (../shared/NOTES.md): keys and values are base64; int64 fields
// are JSON strings; zero and false fields are omitted (an empty range has no `kvs`, a failed
// txn no `succeeded`, a PUT event no `type`); stream messages are wrapped in `result`, and
// errors come as `{"error": ...}`. Pure functions; any thread.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::etcd {

std::string base64(std::string_view bytes);
Result<std::string> unbase64(std::string_view text);
// The range_end that makes [prefix, end) every key starting with `prefix`.
std::string prefix_end(std::string_view prefix);

struct KeyValue {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0, version = 0, lease = 0;
};

struct RangeReply {
  int64_t revision = 0;  // the store's revision when it answered
  std::vector<KeyValue> kvs;
};

struct Compare {
  enum class Target { kCreate, kMod, kVersion, kValue };
  enum class Op { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  Target target = Target::kMod;
  Op op = Op::kEqual;
  int64_t number = 0;  // for create/mod revision and version
  std::string value;   // for kValue
};

struct TxnOp {
  enum class Kind { kPut, kRange, kDelete };
  Kind kind = Kind::kPut;
  std::string key, value, range_end;
  int64_t lease = 0;
};

struct TxnReply {
  int64_t revision = 0;
  bool succeeded = false;
  std::vector<RangeReply> ranges;  // the replies of the branch's range ops, in order
};

struct LeaseGrant {
  int64_t id = 0, ttl = 0;
};

struct WatchEvent {
  bool deleted = false;
  KeyValue kv;
  std::optional<KeyValue> prev;
};

struct WatchMessage {
  int64_t revision = 0;
  bool created = false, canceled = false;
  int64_t compact_revision = 0;  // canceled because the start revision was compacted
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

nlohmann::json range_request(std::string_view key, std::string_view range_end = "");
nlohmann::json put_request(std::string_view key, std::string_view value, int64_t lease = 0);
nlohmann::json delete_request(std::string_view key, std::string_view range_end = "");
nlohmann::json txn_request(const std::vector<Compare>& compare, const std::vector<TxnOp>& success,
                           const std::vector<TxnOp>& failure = {});
nlohmann::json watch_request(std::string_view key, std::string_view range_end,
                             int64_t start_revision);

// Each parses a whole reply body. A reply carrying `error` is bad_etcd_reply with etcd's
// message (and its gRPC code); so is one that is not the expected shape.
Result<RangeReply> parse_range(std::string_view body);
Result<TxnReply> parse_txn(std::string_view body);
Result<int64_t> parse_revision(std::string_view body);  // put, delete: the header's revision
Result<LeaseGrant> parse_grant(std::string_view body);
// A keepalive's TTL; 0 when the lease is gone (etcd omits the field then).
Result<int64_t> parse_keepalive(std::string_view body);
// One line of a watch stream.
Result<WatchMessage> parse_watch(std::string_view line);
// Whether etcd refused a write because its lease no longer exists: writing it again cannot
// land; whoever holds the new lease writes its own keys.
bool is_lease_not_found(const Error& e);

// A watch stream's chunks into messages: a chunk is not a message (one may span many chunks,
// a chunk may hold many), messages are lines.
class WatchDecoder {
 public:
  Result<std::vector<WatchMessage>> feed(std::string_view chunk);

 private:
  std::string pending_;
};

}  // namespace berth::etcd
