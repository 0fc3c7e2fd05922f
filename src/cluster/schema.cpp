#include "cluster/schema.h"

#include <nlohmann/json.hpp>

namespace berth::cluster {
using json = nlohmann::json;

namespace {

json error_json(const std::optional<Error>& e) {
  if (!e) return nullptr;
  return {{"code", e->code}, {"message", e->message}};
}

std::optional<Error> error_of(const json& j) {
  if (!j.is_object()) return std::nullopt;
  auto code = code_from_wire(j.value("code", ""));
  return Error{code.value_or(Code::kInternal), j.value("message", "")};
}

// A value written by another node (or another version): refuse what is not an object,
// take what is missing as its default.
Result<json> object_of(std::string_view text, const char* what) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object())
    return fail(Code::kBadEtcdReply,
                std::string("the cluster's ") + what + " record is not a JSON object");
  return j;
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (auto it = j.find(key); it != j.end() && it->is_array())
    for (auto& v : *it)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

int64_t number(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

Keys::Parsed Keys::parse(std::string_view key) const {
  Parsed p;
  if (!key.starts_with(root_)) return p;
  key.remove_prefix(root_.size());
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return p;
  const auto kind = key.substr(0, slash);
  auto rest = key.substr(slash + 1);
  const auto next = rest.find('/');
  if (kind == "nodes" && next == std::string_view::npos) {
    p.kind = Parsed::Kind::kNode;
    p.name = rest;
  } else if (kind == "members" && next == std::string_view::npos) {
    p.kind = Parsed::Kind::kMember;
    p.name = rest;
  } else if (kind == "comp" && next == std::string_view::npos) {
    p.kind = Parsed::Kind::kComp;
    p.name = rest;
  } else if (kind == "deploy" && next == std::string_view::npos) {
    p.kind = Parsed::Kind::kDeploy;
    p.id = rest;
  } else if (kind == "deploy" && rest.substr(next).starts_with("/peer/")) {
    p.kind = Parsed::Kind::kPeer;
    p.id = rest.substr(0, next);
    p.node = rest.substr(next + 6);
  } else if (kind == "rollout" && next != std::string_view::npos &&
             rest.substr(next).starts_with("/slot/")) {
    p.kind = Parsed::Kind::kSlot;
    p.id = rest.substr(0, next);
    p.name = rest.substr(next + 6);
  } else if (kind == "have" && next != std::string_view::npos) {
    p.kind = Parsed::Kind::kHave;
    p.id = rest.substr(0, next);
    p.node = rest.substr(next + 1);
  }
  return p;
}

// The records whose fields map one to one: nlohmann's mapping, every field optional (a record
// written by another version takes defaults for what it lacks).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(NodeRecord, url, version, boot_id, started_at,
                                                components)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Desired, state, release, digest, size, deployment,
                                                origin, expected, previous, reverts, reason)

namespace {

template <class T>
Result<T> decode_as(std::string_view s, const char* what) {
  auto j = object_of(s, what);
  BERTH_TRY(j);
  try {
    return j->get<T>();
  } catch (const json::exception& e) {
    return fail(Code::kBadEtcdReply, std::string("the cluster's ") + what + " record: " + e.what());
  }
}

}  // namespace

std::string encode(const NodeRecord& r) {
  return json(r).dump();
}

Result<NodeRecord> decode_node(std::string_view s) {
  return decode_as<NodeRecord>(s, "node");
}

std::string encode(const Desired& d) {
  return json(d).dump();
}

Result<Desired> decode_desired(std::string_view s) {
  auto d = decode_as<Desired>(s, "component");
  BERTH_TRY(d);
  if (d->state == "live" && (d->release.empty() || d->digest.size() != 64))
    return fail(Code::kBadEtcdReply, "a live component record without its release and digest");
  return d;
}

std::string encode(const DeployRecord& r) {
  json j{{"id", r.id},
         {"component", r.component},
         {"digest", r.digest},
         {"size", r.size},
         {"origin", r.origin},
         {"expected", r.expected},
         {"created_at", r.created_at},
         {"status", r.status},
         {"peer_results", json::parse(r.peer_results, nullptr, false)}};
  if (r.ended_at) j["ended_at"] = *r.ended_at;
  return j.dump();
}

Result<DeployRecord> decode_deploy(std::string_view s) {
  auto j = object_of(s, "deployment");
  BERTH_TRY(j);
  DeployRecord r;
  r.id = text(*j, "id");
  r.component = text(*j, "component");
  r.digest = text(*j, "digest");
  r.origin = text(*j, "origin");
  r.size = number(*j, "size");
  r.created_at = number(*j, "created_at");
  r.expected = strings(*j, "expected");
  r.status = text(*j, "status");
  if (auto it = j->find("peer_results"); it != j->end() && it->is_array())
    r.peer_results = it->dump();
  if (j->contains("ended_at")) r.ended_at = number(*j, "ended_at");
  return r;
}

std::string encode(const PeerResult& r) {
  json j{{"node", r.node},
         {"phase", r.phase},
         {"phases", r.phases},
         {"status", r.status},
         {"error", error_json(r.error)},
         {"started_at", r.started_at},
         {"started_us", r.started_us},
         {"ended_at", r.ended_at ? json(*r.ended_at) : json()}};
  return j.dump();
}

Result<PeerResult> decode_peer(std::string_view s) {
  auto j = object_of(s, "peer result");
  BERTH_TRY(j);
  PeerResult r;
  r.node = text(*j, "node");
  r.phase = text(*j, "phase");
  r.status = text(*j, "status");
  if (r.status.empty()) r.status = "running";
  r.phases = strings(*j, "phases");
  if (auto it = j->find("error"); it != j->end()) r.error = error_of(*it);
  r.started_at = number(*j, "started_at");
  r.started_us = number(*j, "started_us");
  if (auto it = j->find("ended_at"); it != j->end() && it->is_number_integer())
    r.ended_at = it->get<int64_t>();
  return r;
}

std::string peer_results_json(const std::vector<PeerResult>& results) {
  json out = json::array();
  for (auto& r : results) {
    auto j = json::parse(encode(r));
    j.erase("phases");
    out.push_back(std::move(j));
  }
  return out.dump();
}

}  // namespace berth::cluster
