#include "api/reply.h"

#include <charconv>

#include "api/json_views.h"
#include "cluster/node.h"
#include "deploy/deployer.h"

namespace berth::api {
using json = nlohmann::json;

std::string compact(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

http::Response ok(const json& j, int status) {
  return http::Response{status, compact(j) + "\n"};
}

http::Response missing(const Backend& b, const std::string& name) {
  if (b.tombstoned(name))
    return http::error_response(
        Code::kComponentDestroyed,
        "component \"" + name + "\" was destroyed; deploy or run it again to bring it back");
  return http::error_response(Code::kNotFound, "no component named \"" + name + "\"");
}

namespace {

std::optional<uint64_t> parse_u64(const std::string& s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<uint64_t> query_number(const http::Request& req, const std::string& key,
                                     uint64_t fallback) {
  auto it = req.query.find(key);
  if (it == req.query.end()) return fallback;
  return parse_u64(it->second);
}

std::optional<uint64_t> resume_after(const http::Request& req, uint64_t max) {
  if (req.last_event_id.empty()) return 0;
  auto v = parse_u64(req.last_event_id);
  if (!v || *v > max) return std::nullopt;
  return v;
}

http::Response bad_event_id() {
  return http::error_response(Code::kBadRequest, "Last-Event-ID must be a non-negative integer");
}

ComponentStatus status_of(Backend& b, const ComponentApi& c) {
  auto s = c.status();
  s.release = b.deployer().releases().current(c.name());
  if (auto* node = b.cluster(); node && s.release) s.orphan = node->replicator().orphan(c.name());
  return s;
}

json components_body(Backend& b) {
  json list = json::array();
  for (auto& c : b.components()) list.push_back(component_json(status_of(b, *c)));
  return {{"components", list}};
}

}  // namespace berth::api
