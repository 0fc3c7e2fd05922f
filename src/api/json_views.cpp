#include "api/json_views.h"

#include "cluster/node.h"
#include "deploy/deployer.h"

namespace berth::api {
using json = nlohmann::json;

namespace {

json error_json(const Error& e) {
  return {{"code", e.code}, {"message", e.message}};
}

json exit_json(const RunStatus::Exit& e) {
  return {{"code", e.code},
          {"signal", e.signal ? json(*e.signal) : json(nullptr)},
          {"description", e.description},
          {"reason", e.reason ? json(*e.reason) : json()}};
}

json health_json(const std::optional<RunStatus::Health>& h) {
  if (!h) return nullptr;
  json last = json::array();
  for (const auto& c : h->last)
    last.push_back({{"at_ms", c.at_ms}, {"ok", c.ok}, {"message", c.message}});
  return {{"kind", h->kind},
          {"state", h->state},
          {"failures", h->failures},
          {"last", last},
          {"unhealthy_restarts", h->unhealthy_restarts}};
}

// The fields of a run, a component's and each of its instances' alike.
void run_json(json& j, const RunStatus& r) {
  j["address"] = r.address;
  j["pid"] = r.pid ? json(*r.pid) : json(nullptr);
  j["processes"] = r.processes;
  j["memory_bytes"] = r.memory_bytes;
  j["cpu_seconds"] = r.cpu_seconds;
  j["cpu_percent"] = r.cpu_percent;
  j["uptime_ms"] = r.uptime_ms;
  if (r.cgroup) j["cgroup"] = r.cgroup->string();
  if (r.restart_in_ms) j["restart_in_ms"] = *r.restart_in_ms;
  if (r.last_exit) j["last_exit"] = exit_json(*r.last_exit);
  if (r.last_error) {
    j["last_error"] = error_json(*r.last_error);
    if (!r.last_error_tail.empty()) j["last_error"]["tail"] = r.last_error_tail;
  }
  j["warnings"] = r.warnings;
  if (r.last_stop_us)
    j["last_stop"] = {{"leader_exit_us", r.last_stop_us->first},
                      {"tree_gone_us", r.last_stop_us->second}};
  j["health"] = health_json(r.health);
  j["replacement_pid"] = r.replacement_pid ? json(*r.replacement_pid) : json();
  j["draining_pids"] = r.draining_pids;
}

}  // namespace

json component_json(const ComponentStatus& s) {
  json j;
  j["name"] = s.name;
  j["dir"] = s.dir;
  j["state"] = s.state;
  if (s.destroy_error) j["destroy_error"] = error_json(*s.destroy_error);
  j["restarts"] = s.restarts;
  j["isolation"] = s.cgroup_isolation ? "cgroup" : "process-group";
  run_json(j, s);
  if (s.watch) {
    j["watch"] = {{"mode", s.watch->mode}, {"watches", s.watch->watches}};
    if (!s.watch->reason.empty()) j["watch"]["reason"] = s.watch->reason;
    if (s.watch->last_change)
      j["watch"]["last_change"] = {{"path", s.watch->last_change->first},
                                   {"at_ms", s.watch->last_change->second}};
  } else {
    j["watch"] = nullptr;
  }
  j["restart_policy"] = s.restart_policy;
  j["env"] = json::array();
  for (const auto& e : s.env)
    j["env"].push_back({{"name", e.name}, {"value", e.value}, {"source", e.source}});
  j["profile"] = s.profile.empty() ? json() : json(s.profile);
  j["log_file"] = s.log_file;
  j["command"] = s.command;
  j["inferred"] = s.inferred.empty() ? json() : json(s.inferred);
  j["release"] = s.release ? json(*s.release) : json();
  if (s.orphan) j["orphan"] = true;
  j["serve"] = json();
  if (s.serve) {
    j["serve"] = {{"address", s.serve->address},
                  {"port", s.serve->port},
                  {"mode", s.serve->mode},
                  {"listening", s.serve->listening},
                  {"proxy", json()}};
    if (const auto& p = s.serve->proxy)
      j["serve"]["proxy"] = {{"backends", p->backends},
                             {"active", p->active},
                             {"accepted", p->accepted},
                             {"dropped", p->dropped}};
  }
  j["instances_wanted"] = s.instances_wanted;
  j["instances_source"] = s.instances_source;
  j["instances"] = json::array();
  for (const auto& i : s.instances) {
    json one = {{"index", i.index}, {"state", i.state}};
    run_json(one, i);
    j["instances"].push_back(std::move(one));
  }
  return j;
}

json deployment_json(const DeploymentRow& r) {
  json j = {{"id", r.id},
            {"component", r.component},
            {"kind", r.kind},
            {"release", r.release},
            {"previous", r.previous ? json(*r.previous) : json()},
            {"digest", r.digest ? json("sha256:" + *r.digest) : json()},
            {"size", r.size},
            {"status", r.status},
            {"phase", r.phase},
            {"origin", r.origin},
            {"created_at", r.created_at},
            {"updated_at", r.updated_at},
            {"ended_at", r.ended_at ? json(*r.ended_at) : json()},
            {"error", json()},
            {"peer_results", json::parse(r.peer_results, nullptr, false)},
            {"install", r.install.empty() ? json() : json::parse(r.install, nullptr, false)}};
  if (r.error) {
    j["error"] = error_json(*r.error);
    j["error"]["phase"] = r.error_phase;
  }
  return j;
}

json deployments_body(const std::vector<DeploymentRow>& rows) {
  json list = json::array();
  for (auto& r : rows) list.push_back(deployment_json(r));
  return {{"deployments", list}};
}

json line_json(const LogLine& l) {
  json j = {{"seq", l.seq}, {"ts", l.ts_ms}, {"stream", to_string(l.stream)}, {"text", l.text}};
  if (l.instance >= 0) j["instance"] = l.instance;
  return j;
}

json health_json(const Health& h) {
  json j = {{"ok", true},
            {"version", BERTH_VERSION},
            {"pid", h.pid},
            {"port", h.port},
            {"isolation", h.cgroup_isolation ? "cgroup" : "process-group"},
            {"components", h.components},
            {"inotify_watches", h.inotify_watches},
            {"inotify_events", h.inotify_events},
            {"inotify_overflows", h.inotify_overflows}};
  if (!h.cgroup_isolation) j["isolation_reason"] = h.isolation_reason;
  return j;
}

json nodes_json(cluster::Node& node, Backend& b) {
  const auto& v = node.view();
  json nodes = json::array();
  for (auto& [name, s] : v.nodes) {
    const bool self = name == v.self;
    json components = json::array(), orphans = json::array();
    if (self) {
      for (auto& c : b.components()) {
        components.push_back(c->name());
        if (b.deployer().releases().current(c->name()) && node.replicator().orphan(c->name()))
          orphans.push_back(c->name());
      }
    } else {
      for (auto& c : s.record.components) components.push_back(c);
    }
    nodes.push_back({{"name", name},
                     {"url", s.record.url},
                     {"version", s.record.version},
                     {"state", self || s.up ? "up" : "down"},
                     {"started_at", s.record.started_at},
                     {"components", components},
                     {"self", self}});
    if (self) nodes.back()["orphans"] = orphans;
  }
  json out{{"self", v.self},
           {"connected", v.connected},
           {"nodes", nodes},
           {"etcd_requests", node.etcd_requests()}};
  out["disconnected_since"] = v.connected ? json() : json(v.disconnected_since);
  out["last_list"] = {{"keys", v.last_list.keys}, {"ms", v.last_list.ms}, {"at", v.last_list.at}};
  if (!v.connected) out["error"] = v.last_error;
  return out;
}

}  // namespace berth::api
