// GET /metrics: Prometheus text. Per component (label `component`, and `node` in a cluster):
// up, state, ready, restarts, CPU, memory, tasks, start time; the deploy pipeline's counters;
// the install cache; the daemon's own process_* figures from /proc/self.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "api/prometheus_text.h"
#include "api/reply.h"
#include "api/resources.h"
#include "cache/install_cache.h"
#include "cluster/node.h"
#include "core/fs_util.h"
#include "deploy/deployer.h"
#include "proc/proc_stat.h"

namespace berth::api {
namespace asio = boost::asio;
using http::Request;
using http::Response;

namespace {

constexpr const char* kStates[] = {"stopped", "starting",      "ready",  "stopping",
                                   "backoff", "crash-looping", "failed", "destroy_failed"};

// The daemon's own figures, as every Prometheus client library exports them.
void process_metrics(PromText& p) {
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  auto self = read_proc_stat(::getpid());
  if (self) {
    p.family("process_cpu_seconds_total", "counter", "CPU time the daemon used (user and system).");
    p.sample("process_cpu_seconds_total", {}, static_cast<double>(self->cpu_ticks) / hz);
    p.family("process_resident_memory_bytes", "gauge", "The daemon's resident memory.");
    p.sample("process_resident_memory_bytes", {}, static_cast<double>(self->rss_pages) * page);
    // Boot time + start ticks: when the daemon started, in seconds since the epoch.
    if (auto stat = read_file("/proc/stat")) {
      auto at = stat->find("\nbtime ");
      if (at != std::string::npos) {
        const double boot = std::strtod(stat->c_str() + at + 7, nullptr);
        p.family("process_start_time_seconds", "gauge", "When the daemon started (Unix time).");
        p.sample("process_start_time_seconds", {},
                 boot + static_cast<double>(self->start_time) / hz);
      }
    }
  }
  std::error_code ec;
  size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  p.family("process_open_fds", "gauge", "File descriptors the daemon holds open.");
  p.sample("process_open_fds", {}, static_cast<double>(fds));
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    p.family("process_max_fds", "gauge", "The daemon's limit on open file descriptors.");
    p.sample("process_max_fds", {}, static_cast<double>(lim.rlim_cur));
  }
}

Response metrics(Backend& b) {
  PromText p;
  Labels node;
  if (auto* n = b.cluster()) node = {{"node", n->name()}};
  auto with = [&](Labels l) {
    l.insert(l.end(), node.begin(), node.end());
    return l;
  };

  p.family("berth_build_info", "gauge", "The berth that serves this (always 1).");
  p.sample("berth_build_info", with({{"version", BERTH_VERSION}}), 1);

  std::vector<ComponentStatus> all;
  for (auto& c : b.components()) all.push_back(c->status());
  auto per_component = [&](const char* name, const char* type, const char* help, auto value) {
    p.family(name, type, help);
    for (auto& s : all) p.sample(name, with({{"component", s.name}}), value(s));
  };
  per_component("berth_component_up", "gauge", "1 while a process tree of the component runs.",
                [](const ComponentStatus& s) {
                  for (const auto& i : s.instances)
                    if (i.pid) return 1.0;
                  return s.pid ? 1.0 : 0.0;
                });
  p.family("berth_component_state", "gauge", "1 for the state the component is in, 0 for others.");
  for (auto& s : all)
    for (const char* st : kStates)
      p.sample("berth_component_state", with({{"component", s.name}, {"state", st}}),
               s.state == st ? 1 : 0);
  per_component("berth_component_ready", "gauge", "1 while the component is ready.",
                [](const ComponentStatus& s) { return s.state == "ready" ? 1.0 : 0.0; });
  per_component("berth_component_restarts_total", "counter",
                "Restarts since the daemon started (by policy, by hand, after changes).",
                [](const ComponentStatus& s) { return static_cast<double>(s.restarts); });
  per_component("berth_component_cpu_seconds_total", "counter",
                "CPU time of the component's current run (its cgroup's cpu.stat, else /proc).",
                [](const ComponentStatus& s) { return s.cpu_seconds; });
  per_component("berth_component_memory_bytes", "gauge",
                "Resident memory of every process of the component.",
                [](const ComponentStatus& s) { return static_cast<double>(s.memory_bytes); });
  per_component("berth_component_tasks", "gauge", "Processes in the component's tree.",
                [](const ComponentStatus& s) { return static_cast<double>(s.processes); });
  p.family("berth_component_start_time_seconds", "gauge",
           "When the component's current run started (Unix time).");
  for (auto& s : all)
    if (s.started_at_ms)
      p.sample("berth_component_start_time_seconds", with({{"component", s.name}}),
               static_cast<double>(s.started_at_ms) / 1000.0);
  per_component("berth_watch_restarts_total", "counter",
                "Restarts after a watched file changed, since the daemon started.",
                [](const ComponentStatus& s) { return static_cast<double>(s.watch_restarts); });

  // `[run] instances` above 1: each instance's own figures (the component's are their sums).
  const auto per_instance = [&](const char* name, const char* type, const char* help, auto value) {
    p.family(name, type, help);
    for (auto& s : all)
      if (s.instances.size() > 1)
        for (auto& i : s.instances)
          p.sample(name, with({{"component", s.name}, {"instance", std::to_string(i.index)}}),
                   value(i));
  };
  using Instance = InstanceStatus;
  per_instance("berth_instance_up", "gauge", "1 while the instance's process tree runs.",
               [](const Instance& i) { return i.pid ? 1.0 : 0.0; });
  per_instance("berth_instance_ready", "gauge", "1 while the instance is ready.",
               [](const Instance& i) { return i.state == "ready" ? 1.0 : 0.0; });
  per_instance("berth_instance_cpu_seconds_total", "counter",
               "CPU time of the instance's current run.",
               [](const Instance& i) { return i.cpu_seconds; });
  per_instance("berth_instance_memory_bytes", "gauge",
               "Resident memory of every process of the instance.",
               [](const Instance& i) { return static_cast<double>(i.memory_bytes); });
  per_instance("berth_instance_tasks", "gauge", "Processes in the instance's tree.",
               [](const Instance& i) { return static_cast<double>(i.processes); });

  // [health]: only the components that have a check.
  p.family("berth_component_healthy", "gauge",
           "1 while the component's last health check passed ([health] only).");
  for (auto& s : all)
    if (s.health)
      p.sample("berth_component_healthy", with({{"component", s.name}}),
               s.health->state == "healthy" ? 1 : 0);
  p.family("berth_component_unhealthy_restarts_total", "counter",
           "Restarts after [health] checks failed, since the daemon started.");
  for (auto& s : all)
    if (s.health)
      p.sample("berth_component_unhealthy_restarts_total", with({{"component", s.name}}),
               s.health->unhealthy_restarts);

  const auto& dm = b.deployer().metrics();
  p.family("berth_deployments_total", "counter", "Deployments ended since the daemon started.");
  for (const char* result : {"success", "failed", "rolled_back", "partial", "interrupted"}) {
    auto it = dm.ended().find(result);
    p.sample("berth_deployments_total", with({{"result", result}}),
             it == dm.ended().end() ? 0 : static_cast<double>(it->second));
  }
  p.family("berth_deploy_duration_seconds", "histogram",
           "From a deployment's record to its end, for those ended since the daemon started.");
  for (size_t i = 0; i < DeployMetrics::kBuckets.size(); ++i)
    p.sample("berth_deploy_duration_seconds_bucket",
             with({{"le", fmt::format("{}", DeployMetrics::kBuckets[i])}}),
             static_cast<double>(dm.buckets()[i]));
  p.sample("berth_deploy_duration_seconds_bucket", with({{"le", "+Inf"}}),
           static_cast<double>(dm.buckets().back()));
  p.sample("berth_deploy_duration_seconds_sum", with({}), dm.duration_sum());
  p.sample("berth_deploy_duration_seconds_count", with({}),
           static_cast<double>(dm.buckets().back()));
  p.family("berth_install_cache_hits_total", "counter", "Installs served from the cache.");
  p.sample("berth_install_cache_hits_total", with({}), static_cast<double>(dm.cache_hits()));
  p.family("berth_install_cache_misses_total", "counter", "Installs that ran and were cached.");
  p.sample("berth_install_cache_misses_total", with({}), static_cast<double>(dm.cache_misses()));
  if (auto* cache = b.cache()) {
    p.family("berth_install_cache_bytes", "gauge", "Bytes of every complete cache entry.");
    p.sample("berth_install_cache_bytes", with({}), static_cast<double>(cache->total_bytes()));
  }
  process_metrics(p);
  Response r;
  r.body = p.text();
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return r;
}

}  // namespace

void add_metrics_routes(http::Router& router, Backend& b) {
  router.add("GET", "/metrics",
             [&b](Request&) -> asio::awaitable<Response> { co_return metrics(b); });
}

}  // namespace berth::api
