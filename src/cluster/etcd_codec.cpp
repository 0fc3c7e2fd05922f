#include "cluster/etcd_codec.h"

#include <openssl/evp.h>

#include <charconv>

namespace berth::etcd {
using json = nlohmann::json;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0)
    return fail(Code::kBadEtcdReply, "not base64 (length " + std::to_string(text.size()) + ")");
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return fail(Code::kBadEtcdReply, "not base64");
  size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<size_t>(n) - pad);  // EVP_DecodeBlock counts the padding as zeros
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "from key to the end"
}

namespace {

Error bad(const std::string& what) {
  return Error{Code::kBadEtcdReply, "etcd's reply: " + what};
}

// int64 fields are JSON strings ("revision":"2"); accept numbers too; absent is 0.
Result<int64_t> int_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return std::unexpected(bad(std::string(key) + " is not a number"));
  const auto& s = it->get_ref<const std::string&>();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return std::unexpected(bad(std::string(key) + " is not a number: " + s));
  return v;
}

// json::value() throws when a field has another type than its default's: these refuse instead
// (a gateway, proxy or member mid-crash may send anything; an escaping exception would end the
// daemon). Absent or null is the default.
Result<bool> bool_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) return std::unexpected(bad(std::string(key) + " is not a boolean"));
  return it->get<bool>();
}

Result<std::string> text_field(const json& j, const char* key, const char* fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string(fallback);
  if (!it->is_string()) return std::unexpected(bad(std::string(key) + " is not text"));
  return it->get<std::string>();
}

Result<std::string> bytes_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return std::unexpected(bad(std::string(key) + " is not base64 text"));
  return unbase64(it->get_ref<const std::string&>());
}

// The body as a JSON object, or etcd's error as ours.
Result<json> object(std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::unexpected(bad("not a JSON object"));
  if (auto e = j.find("error"); e != j.end()) {
    std::string msg = e->dump();
    if (e->is_string()) msg = e->get<std::string>();
    if (auto m = e->is_object() ? e->find("message") : e->end(); m != e->end() && m->is_string())
      msg = m->get<std::string>();
    if (j.contains("code")) msg += " (gRPC code " + j["code"].dump() + ")";
    return fail(Code::kBadEtcdReply, "etcd: " + msg);
  }
  return j;
}

}  // namespace

bool is_lease_not_found(const Error& e) {
  // etcd's rpctypes.ErrGRPCLeaseNotFound, the same text on every version since 3.0.
  return e.code == Code::kBadEtcdReply &&
         e.message.find("requested lease not found") != std::string::npos;
}

namespace {

Result<int64_t> header_revision(const json& j) {
  auto h = j.find("header");
  if (h == j.end() || !h->is_object()) return int64_t{0};
  return int_field(*h, "revision");
}

Result<KeyValue> parse_kv(const json& j) {
  if (!j.is_object()) return std::unexpected(bad("a kv is not an object"));
  KeyValue kv;
  auto key = bytes_field(j, "key");
  BERTH_TRY(key);
  auto value = bytes_field(j, "value");
  BERTH_TRY(value);
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  for (auto [name, out] : {std::pair{"create_revision", &kv.create_revision},
                           {"mod_revision", &kv.mod_revision},
                           {"version", &kv.version},
                           {"lease", &kv.lease}}) {
    auto v = int_field(j, name);
    BERTH_TRY(v);
    *out = *v;
  }
  return kv;
}

Result<RangeReply> range_from(const json& j) {
  RangeReply r;
  auto rev = header_revision(j);
  BERTH_TRY(rev);
  r.revision = *rev;
  if (auto kvs = j.find("kvs"); kvs != j.end()) {
    if (!kvs->is_array()) return std::unexpected(bad("kvs is not an array"));
    for (auto& k : *kvs) {
      auto kv = parse_kv(k);
      BERTH_TRY(kv);
      r.kvs.push_back(std::move(*kv));
    }
  }
  return r;
}

json op_json(const TxnOp& op) {
  switch (op.kind) {
    case TxnOp::Kind::kPut:
      return {{"request_put", put_request(op.key, op.value, op.lease)}};
    case TxnOp::Kind::kRange:
      return {{"request_range", range_request(op.key, op.range_end)}};
    case TxnOp::Kind::kDelete:
      return {{"request_delete_range", delete_request(op.key, op.range_end)}};
  }
  return {};
}

const char* target_name(Compare::Target t) {
  switch (t) {
    case Compare::Target::kCreate:
      return "CREATE";
    case Compare::Target::kMod:
      return "MOD";
    case Compare::Target::kVersion:
      return "VERSION";
    case Compare::Target::kValue:
      return "VALUE";
  }
  return "MOD";
}

const char* op_name(Compare::Op o) {
  switch (o) {
    case Compare::Op::kEqual:
      return "EQUAL";
    case Compare::Op::kGreater:
      return "GREATER";
    case Compare::Op::kLess:
      return "LESS";
    case Compare::Op::kNotEqual:
      return "NOT_EQUAL";
  }
  return "EQUAL";
}

}  // namespace

json range_request(std::string_view key, std::string_view range_end) {
  json j = {{"key", base64(key)}};
  if (!range_end.empty()) j["range_end"] = base64(range_end);
  return j;
}

json put_request(std::string_view key, std::string_view value, int64_t lease) {
  json j = {{"key", base64(key)}, {"value", base64(value)}};
  if (lease) j["lease"] = std::to_string(lease);
  return j;
}

json delete_request(std::string_view key, std::string_view range_end) {
  return range_request(key, range_end);
}

json txn_request(const std::vector<Compare>& compare, const std::vector<TxnOp>& success,
                 const std::vector<TxnOp>& failure) {
  json cmp = json::array(), ok = json::array(), ko = json::array();
  for (auto& c : compare) {
    json j = {{"key", base64(c.key)}, {"target", target_name(c.target)}, {"result", op_name(c.op)}};
    switch (c.target) {
      case Compare::Target::kCreate:
        j["create_revision"] = std::to_string(c.number);
        break;
      case Compare::Target::kMod:
        j["mod_revision"] = std::to_string(c.number);
        break;
      case Compare::Target::kVersion:
        j["version"] = std::to_string(c.number);
        break;
      case Compare::Target::kValue:
        j["value"] = base64(c.value);
        break;
    }
    cmp.push_back(std::move(j));
  }
  for (auto& op : success) ok.push_back(op_json(op));
  for (auto& op : failure) ko.push_back(op_json(op));
  return {{"compare", cmp}, {"success", ok}, {"failure", ko}};
}

json watch_request(std::string_view key, std::string_view range_end, int64_t start_revision) {
  json create = range_request(key, range_end);
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  create["prev_kv"] = true;
  create["progress_notify"] = true;
  return {{"create_request", create}};
}

Result<RangeReply> parse_range(std::string_view body) {
  auto j = object(body);
  BERTH_TRY(j);
  return range_from(*j);
}

Result<TxnReply> parse_txn(std::string_view body) {
  auto j = object(body);
  BERTH_TRY(j);
  TxnReply r;
  auto rev = header_revision(*j);
  BERTH_TRY(rev);
  r.revision = *rev;
  auto succeeded = bool_field(*j, "succeeded");
  BERTH_TRY(succeeded);
  r.succeeded = *succeeded;
  if (auto rs = j->find("responses"); rs != j->end() && rs->is_array())
    for (auto& one : *rs)
      if (auto range = one.find("response_range"); range != one.end()) {
        if (!range->is_object()) return std::unexpected(bad("a response_range is not an object"));
        auto rr = range_from(*range);
        BERTH_TRY(rr);
        r.ranges.push_back(std::move(*rr));
      }
  return r;
}

Result<int64_t> parse_revision(std::string_view body) {
  auto j = object(body);
  BERTH_TRY(j);
  return header_revision(*j);
}

Result<LeaseGrant> parse_grant(std::string_view body) {
  auto j = object(body);
  BERTH_TRY(j);
  auto id = int_field(*j, "ID");
  BERTH_TRY(id);
  auto ttl = int_field(*j, "TTL");
  BERTH_TRY(ttl);
  if (*id == 0) return std::unexpected(bad("lease grant without an ID"));
  return LeaseGrant{*id, *ttl};
}

Result<int64_t> parse_keepalive(std::string_view body) {
  auto j = object(body);
  BERTH_TRY(j);
  const json& r = j->contains("result") ? (*j)["result"] : *j;
  if (!r.is_object()) return std::unexpected(bad("keepalive result is not an object"));
  return int_field(r, "TTL");
}

Result<WatchMessage> parse_watch(std::string_view line) {
  auto j = object(line);
  BERTH_TRY(j);
  auto r = j->find("result");
  if (r == j->end() || !r->is_object()) return std::unexpected(bad("watch message without result"));
  WatchMessage m;
  auto rev = header_revision(*r);
  BERTH_TRY(rev);
  m.revision = *rev;
  auto created = bool_field(*r, "created");
  BERTH_TRY(created);
  auto canceled = bool_field(*r, "canceled");
  BERTH_TRY(canceled);
  auto compacted = int_field(*r, "compact_revision");
  BERTH_TRY(compacted);
  auto reason = text_field(*r, "cancel_reason", "");
  BERTH_TRY(reason);
  m.created = *created;
  m.canceled = *canceled;
  m.compact_revision = *compacted;
  m.cancel_reason = std::move(*reason);
  if (auto evs = r->find("events"); evs != r->end()) {
    if (!evs->is_array()) return std::unexpected(bad("events is not an array"));
    for (auto& e : *evs) {
      if (!e.is_object()) return std::unexpected(bad("an event is not an object"));
      auto type = text_field(e, "type", "PUT");  // a PUT has no `type`
      BERTH_TRY(type);
      WatchEvent ev;
      ev.deleted = *type == "DELETE";
      auto kv = parse_kv(e.contains("kv") ? e["kv"] : json::object());
      BERTH_TRY(kv);
      ev.kv = std::move(*kv);
      if (auto p = e.find("prev_kv"); p != e.end()) {
        auto prev = parse_kv(*p);
        BERTH_TRY(prev);
        ev.prev = std::move(*prev);
      }
      m.events.push_back(std::move(ev));
    }
  }
  return m;
}

Result<std::vector<WatchMessage>> WatchDecoder::feed(std::string_view chunk) {
  pending_.append(chunk);
  std::vector<WatchMessage> out;
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(pending_.data() + start, nl - start);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    auto m = parse_watch(line);
    BERTH_TRY(m);
    out.push_back(std::move(*m));
  }
  pending_.erase(0, start);
  return out;
}

}  // namespace berth::etcd
