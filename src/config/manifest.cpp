#include "config/manifest.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "config/env_file.h"
#include "config/infer.h"
#include "core/byte_size.h"
#include "core/fs_util.h"
#include "core/signals.h"

namespace berth {
namespace {

// Walks a parsed document, remembering the file name so every error can name file and key.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  std::unexpected<Error> error(std::string_view key, std::string why) const {
    return fail(Code::kBadManifest, fmt::format("{}: {}: {}", file_, key, why));
  }

  Result<void> only_keys(const toml::table& t, std::string_view where,
                         std::set<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      if (!allowed.contains(k.str())) {
        std::string key =
            where.empty() ? std::string(k.str()) : fmt::format("{}.{}", where, k.str());
        std::string known;
        for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
        return error(key, fmt::format("unknown key (known here: {})", known));
      }
    }
    return {};
  }

  Result<const toml::table*> table(const toml::table& root, std::string_view key) const {
    auto* node = root.get(key);
    if (!node) return nullptr;
    if (!node->is_table()) return error(key, "expected a table, e.g. [" + std::string(key) + "]");
    return node->as_table();
  }

  Result<std::optional<std::string>> string(const toml::table& t, std::string_view where,
                                            std::string_view key) const {
    auto* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) return error(qual(where, key), "expected a string");
    return std::optional<std::string>(node->as_string()->get());
  }

  Result<std::optional<bool>> boolean(const toml::table& t, std::string_view where,
                                      std::string_view key) const {
    auto* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_boolean()) return error(qual(where, key), "expected true or false");
    return std::optional<bool>(node->as_boolean()->get());
  }

  Result<std::optional<int64_t>> integer(const toml::table& t, std::string_view where,
                                         std::string_view key, int64_t lo, int64_t hi) const {
    auto* node = t.get(key);
    if (!node) return std::nullopt;
    if (!node->is_integer()) return error(qual(where, key), "expected an integer");
    int64_t v = node->as_integer()->get();
    if (v < lo || v > hi)
      return error(qual(where, key), fmt::format("{} is out of range {}..{}", v, lo, hi));
    return std::optional<int64_t>(v);
  }

  Result<void> duration(const toml::table& t, std::string_view where, std::string_view key,
                        Millis& out, Millis min = Millis(0)) const {
    auto* node = t.get(key);
    if (!node) return {};
    if (!node->is_string())
      return error(qual(where, key), "expected a duration string like \"10s\" or \"250ms\"");
    auto d = parse_duration(node->as_string()->get());
    if (!d) return error(qual(where, key), d.error().message);
    if (*d < min)
      return error(qual(where, key), fmt::format("must be at least {}", format_duration(min)));
    out = *d;
    return {};
  }

  static std::string qual(std::string_view where, std::string_view key) {
    return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
  }

 private:
  std::string file_;
};

// A table of NAME = "value" (integers and booleans are written as text).
Result<void> parse_env_table(const Reader& r, const toml::node& node, const std::string& key,
                             std::map<std::string, std::string>& out) {
  if (!node.is_table()) return r.error(key, "expected a table of NAME = \"value\"");
  for (auto&& [k, v] : *node.as_table()) {
    std::string name(k.str());
    if (!valid_env_name(name))
      return r.error(key + "." + name, "not a valid environment variable name");
    if (v.is_string())
      out[name] = v.as_string()->get();
    else if (v.is_integer())
      out[name] = std::to_string(v.as_integer()->get());
    else if (v.is_boolean())
      out[name] = v.as_boolean()->get() ? "true" : "false";
    else
      return r.error(key + "." + name, "expected a string, integer or boolean");
  }
  return {};
}

// A command: a string (run by /bin/sh -c) or an argv array of strings.
Result<void> parse_command(const Reader& r, const toml::node& cmd, const std::string& key,
                           std::vector<std::string>& argv) {
  if (cmd.is_string()) {
    const auto& s = cmd.as_string()->get();
    if (s.find_first_not_of(" \t") == std::string::npos) return r.error(key, "is empty");
    argv = {"/bin/sh", "-c", s};
  } else if (cmd.is_array()) {
    for (auto&& el : *cmd.as_array()) {
      if (!el.is_string()) return r.error(key, "an argv array must hold only strings");
      argv.push_back(el.as_string()->get());
    }
    if (argv.empty() || argv[0].empty()) return r.error(key, "is empty");
  } else {
    return r.error(key, "expected a string (run by /bin/sh -c) or an array of strings (argv)");
  }
  return {};
}

Result<void> parse_run(const Reader& r, const toml::table& t, RunSpec& run) {
  BERTH_TRY(r.only_keys(t, "run", {"command", "env", "env_file", "cwd", "address", "instances"}));
  auto* cmd = t.get("command");
  if (!cmd) return r.error("run.command", "missing: the command to run is required");
  BERTH_TRY(parse_command(r, *cmd, "run.command", run.argv));
  if (auto* env = t.get("env")) BERTH_TRY(parse_env_table(r, *env, "run.env", run.env));
  if (auto* file = t.get("env_file")) {
    if (file->is_boolean() && !file->as_boolean()->get())
      run.env_file = "";
    else if (file->is_string() && !file->as_string()->get().empty())
      run.env_file = file->as_string()->get();
    else
      return r.error("run.env_file", "expected a path (relative to the component root) or false");
  }
  auto cwd = r.string(t, "run", "cwd");
  BERTH_TRY(cwd);
  if (*cwd) {
    std::filesystem::path p(**cwd);
    if (p.is_absolute()) return r.error("run.cwd", "must be relative to the component root");
    for (auto& part : p)
      if (part == "..")
        return r.error("run.cwd", "must stay inside the component root (no \"..\")");
    run.cwd = **cwd;
  }
  auto addr = r.string(t, "run", "address");
  BERTH_TRY(addr);
  if (*addr) {
    if (**addr != "lease") return r.error("run.address", "the only supported value is \"lease\"");
    run.lease_address = true;
  }
  auto instances = r.integer(t, "run", "instances", 1, RunSpec::kMaxInstances);
  BERTH_TRY(instances);
  if (*instances) run.instances = static_cast<int>(**instances);
  return {};
}

Result<void> parse_ready(const Reader& r, const toml::table& t, ReadySpec& ready) {
  BERTH_TRY(r.only_keys(
      t, "ready", {"marker", "marker_regex", "port", "notify", "idle_timeout", "max", "settle"}));
  auto marker = r.string(t, "ready", "marker");
  BERTH_TRY(marker);
  if (*marker && (*marker)->empty()) return r.error("ready.marker", "must not be empty");
  if (*marker && (*marker)->size() > Pattern::kMaxLength)
    return r.error("ready.marker", fmt::format("is longer than {} bytes", Pattern::kMaxLength));
  ready.marker = *marker;
  auto rx = r.string(t, "ready", "marker_regex");
  BERTH_TRY(rx);
  if (*rx) {
    if ((*rx)->empty()) return r.error("ready.marker_regex", "must not be empty");
    auto p = Pattern::regex(**rx);
    if (!p) return r.error("ready.marker_regex", p.error().message);
    ready.marker_regex = std::move(*p);
  }
  if (ready.marker && ready.marker_regex)
    return r.error("ready.marker_regex", "set either marker or marker_regex, not both");
  auto port = r.integer(t, "ready", "port", 1, 65535);
  BERTH_TRY(port);
  if (*port) ready.port = static_cast<uint16_t>(**port);
  auto notify = r.boolean(t, "ready", "notify");
  BERTH_TRY(notify);
  ready.notify = notify->value_or(false);
  BERTH_TRY(r.duration(t, "ready", "idle_timeout", ready.idle_timeout, Millis(1)));
  BERTH_TRY(r.duration(t, "ready", "max", ready.max, Millis(1)));
  BERTH_TRY(r.duration(t, "ready", "settle", ready.settle, Millis(1)));
  return {};
}

Result<void> parse_stop(const Reader& r, const toml::table& t, StopSpec& stop) {
  BERTH_TRY(r.only_keys(t, "stop", {"signal", "grace"}));
  auto* sig = t.get("signal");
  if (sig) {
    std::optional<int> s;
    if (sig->is_string())
      s = parse_signal(sig->as_string()->get());
    else if (sig->is_integer())
      s = parse_signal(std::to_string(sig->as_integer()->get()));
    if (!s) return r.error("stop.signal", "expected a signal name like \"SIGTERM\" or \"INT\"");
    stop.signal = *s;
  }
  BERTH_TRY(r.duration(t, "stop", "grace", stop.grace));
  return {};
}

Result<void> parse_restart(const Reader& r, const toml::table& t, RestartSpec& rs) {
  BERTH_TRY(r.only_keys(t, "restart",
                        {"policy", "backoff", "backoff_max", "stable", "start_limit", "cooldown"}));
  auto policy = r.string(t, "restart", "policy");
  BERTH_TRY(policy);
  if (*policy) {
    if (**policy == "on-failure")
      rs.policy = RestartPolicy::kOnFailure;
    else if (**policy == "always")
      rs.policy = RestartPolicy::kAlways;
    else if (**policy == "never")
      rs.policy = RestartPolicy::kNever;
    else
      return r.error("restart.policy",
                     fmt::format("\"{}\" is not one of on-failure, always, never", **policy));
  }
  BERTH_TRY(r.duration(t, "restart", "backoff", rs.backoff));
  BERTH_TRY(r.duration(t, "restart", "backoff_max", rs.backoff_max));
  BERTH_TRY(r.duration(t, "restart", "stable", rs.stable));
  if (rs.backoff_max < rs.backoff)
    return r.error("restart.backoff_max", "must not be smaller than restart.backoff");
  auto limit = r.integer(t, "restart", "start_limit", 1, 1000);
  BERTH_TRY(limit);
  if (*limit) rs.start_limit = static_cast<int>(**limit);
  if (auto* c = t.get("cooldown"); c && c->is_string() && c->as_string()->get() == "never") {
    rs.cooldown.reset();
  } else if (c) {
    Millis cooldown{0};
    BERTH_TRY(r.duration(t, "restart", "cooldown", cooldown, Millis(1)));
    rs.cooldown = cooldown;
  }
  return {};
}

Result<void> string_list(const Reader& r, const toml::table& t, std::string_view table,
                         std::string_view key, std::vector<std::string>& out,
                         std::string_view what = "glob strings") {
  auto* node = t.get(key);
  if (!node) return {};
  if (!node->is_array())
    return r.error(Reader::qual(table, key), fmt::format("expected an array of {}", what));
  for (auto&& el : *node->as_array()) {
    if (!el.is_string() || el.as_string()->get().empty())
      return r.error(Reader::qual(table, key),
                     fmt::format("expected an array of non-empty {}", what));
    out.push_back(el.as_string()->get());
  }
  return {};
}

Result<void> parse_watch(const Reader& r, const toml::table& t, WatchSpec& w) {
  BERTH_TRY(r.only_keys(
      t, "watch",
      {"enabled", "ignore", "include", "debounce", "max_wait", "poll_interval", "retries"}));
  auto enabled = r.boolean(t, "watch", "enabled");
  BERTH_TRY(enabled);
  w.enabled = enabled->value_or(false);
  BERTH_TRY(string_list(r, t, "watch", "ignore", w.ignore));
  BERTH_TRY(string_list(r, t, "watch", "include", w.include));
  for (auto* list : {&w.ignore, &w.include})
    for (size_t i = 0; i < list->size(); ++i)
      if (auto g = Pattern::glob((*list)[i]); !g)
        return r.error(fmt::format("watch.{}[{}]", list == &w.ignore ? "ignore" : "include", i),
                       g.error().message);
  BERTH_TRY(r.duration(t, "watch", "debounce", w.debounce, Millis(1)));
  BERTH_TRY(r.duration(t, "watch", "max_wait", w.max_wait, Millis(1)));
  BERTH_TRY(r.duration(t, "watch", "poll_interval", w.poll_interval, Millis(10)));
  if (w.max_wait < w.debounce)
    return r.error("watch.max_wait", "must not be smaller than watch.debounce");
  auto retries = r.integer(t, "watch", "retries", 0, 1000);
  BERTH_TRY(retries);
  if (*retries) w.retries = static_cast<int>(**retries);
  return {};
}

// [install] inputs/outputs: paths inside the release.
Result<void> release_paths(const Reader& r, const toml::table& t, std::string_view key,
                           std::optional<std::vector<std::string>>& out) {
  if (!t.get(key)) return {};
  out.emplace();
  BERTH_TRY(string_list(r, t, "install", key, *out, "paths inside the release"));
  for (const auto& p : *out) {
    auto norm = std::filesystem::path(p).lexically_normal();
    if (norm.is_absolute() || norm.empty() || *norm.begin() == ".." || norm == ".")
      return r.error(Reader::qual("install", key),
                     fmt::format("\"{}\" is not a path inside the release", p));
  }
  return {};
}

Result<void> parse_install(const Reader& r, const toml::table& t, InstallSpec& in) {
  BERTH_TRY(r.only_keys(t, "install", {"command", "timeout", "cache", "inputs", "outputs"}));
  auto command = r.string(t, "install", "command");
  BERTH_TRY(command);
  in.command = *command;
  BERTH_TRY(r.duration(t, "install", "timeout", in.timeout, Millis(1000)));
  auto cache = r.boolean(t, "install", "cache");
  BERTH_TRY(cache);
  in.cache = cache->value_or(true);
  BERTH_TRY(release_paths(r, t, "inputs", in.inputs));
  BERTH_TRY(release_paths(r, t, "outputs", in.outputs));
  return {};
}

}  // namespace

// The key path of the first key or string holding a NUL byte (TOML's "\u0000"): every such
// string would be cut short where it reaches the kernel (argv, env, paths).
std::optional<std::string> nul_inside(const toml::node& n, const std::string& path) {
  if (auto* s = n.as_string())
    return s->get().find('\0') != std::string::npos ? std::optional(path) : std::nullopt;
  if (auto* t = n.as_table())
    for (auto&& [k, v] : *t) {
      std::string sub = path.empty() ? std::string(k.str()) : path + "." + std::string(k.str());
      if (k.str().find('\0') != std::string_view::npos) return sub;
      if (auto hit = nul_inside(v, sub)) return hit;
    }
  if (auto* a = n.as_array())
    for (size_t i = 0; i < a->size(); ++i)
      if (auto hit = nul_inside(*a->get(i), path + "[" + std::to_string(i) + "]")) return hit;
  return std::nullopt;
}

Result<void> parse_serve(const Reader& r, const toml::table& t, ServeSpec& serve) {
  BERTH_TRY(r.only_keys(t, "serve", {"port", "address", "mode", "instance_port"}));
  auto port = r.integer(t, "serve", "port", 1, 65535);
  BERTH_TRY(port);
  if (!*port) return r.error("serve.port", "missing: the port berth listens on for the component");
  serve.port = static_cast<uint16_t>(**port);
  auto address = r.string(t, "serve", "address");
  BERTH_TRY(address);
  if (*address) {
    in6_addr buf;
    if (inet_pton(AF_INET, (*address)->c_str(), &buf) != 1 &&
        inet_pton(AF_INET6, (*address)->c_str(), &buf) != 1)
      return r.error("serve.address", "expected a numeric IPv4 or IPv6 address, e.g. \"0.0.0.0\"");
    serve.address = **address;
  }
  auto mode = r.string(t, "serve", "mode");
  BERTH_TRY(mode);
  if (*mode && **mode != "socket" && **mode != "proxy")
    return r.error("serve.mode", "expected \"socket\" or \"proxy\"");
  serve.mode = *mode && **mode == "proxy" ? ServeMode::kProxy : ServeMode::kSocket;
  auto instance_port = r.integer(t, "serve", "instance_port", 1, 65535);
  BERTH_TRY(instance_port);
  if (*instance_port && serve.mode != ServeMode::kProxy)
    return r.error("serve.instance_port",
                   "applies to mode = \"proxy\" only (in socket mode instances share berth's "
                   "socket)");
  serve.instance_port = static_cast<uint16_t>(instance_port->value_or(serve.port));
  // 0.0.0.0:P takes P on every IPv4 address, the leased loopback ones included.
  if (serve.mode == ServeMode::kProxy && serve.address == "0.0.0.0" &&
      serve.instance_port == serve.port)
    return r.error("serve.instance_port",
                   "must differ from port when address is \"0.0.0.0\": berth's socket holds that "
                   "port on every IPv4 address, so no instance could bind it");
  return {};
}

// Exactly one of http = "/path", tcp = true, command = "..." | [argv]; http and tcp check a
// port of the tree's own address: `port`, else [ready] port, else [serve] port.
Result<void> parse_health(const Reader& r, const toml::table& t, const Manifest& m, HealthSpec& h) {
  BERTH_TRY(r.only_keys(
      t, "health",
      {"http", "tcp", "command", "port", "interval", "timeout", "retries", "start_period"}));
  int kinds = 0;
  auto http = r.string(t, "health", "http");
  BERTH_TRY(http);
  if (*http) {
    if (!(*http)->starts_with("/") || (*http)->find_first_of(" \r\n") != std::string::npos)
      return r.error("health.http", "expected a path starting with /, e.g. \"/healthz\"");
    h.kind = HealthSpec::Kind::kHttp;
    h.path = **http;
    ++kinds;
  }
  auto tcp = r.boolean(t, "health", "tcp");
  BERTH_TRY(tcp);
  if (tcp->value_or(false)) {
    h.kind = HealthSpec::Kind::kTcp;
    ++kinds;
  }
  if (auto* cmd = t.get("command")) {
    BERTH_TRY(parse_command(r, *cmd, "health.command", h.argv));
    h.kind = HealthSpec::Kind::kCommand;
    ++kinds;
  }
  if (kinds != 1)
    return r.error("health", "set exactly one of http = \"/path\", tcp = true or command");
  auto port = r.integer(t, "health", "port", 1, 65535);
  BERTH_TRY(port);
  if (*port)
    h.port = static_cast<uint16_t>(**port);
  else if (m.ready.port)
    h.port = *m.ready.port;
  else if (m.serve)
    h.port = m.serve->mode == ServeMode::kProxy ? m.serve->instance_port : m.serve->port;
  if (h.kind != HealthSpec::Kind::kCommand && h.port == 0)
    return r.error("health.port", "missing: the port to check (or set [ready] port or [serve])");
  BERTH_TRY(r.duration(t, "health", "interval", h.interval, Millis(10)));
  BERTH_TRY(r.duration(t, "health", "timeout", h.timeout, Millis(1)));
  BERTH_TRY(r.duration(t, "health", "start_period", h.start_period));
  auto retries = r.integer(t, "health", "retries", 1, 1000);
  BERTH_TRY(retries);
  if (*retries) h.retries = static_cast<int>(**retries);
  return {};
}

Result<void> parse_limits(const Reader& r, const toml::table& t, LimitsSpec& limits) {
  BERTH_TRY(r.only_keys(t, "limits", {"memory", "cpu", "pids"}));
  if (auto* mem = t.get("memory")) {
    if (mem->is_integer() && mem->as_integer()->get() > 0) {
      limits.memory = static_cast<uint64_t>(mem->as_integer()->get());
    } else if (mem->is_string()) {
      auto bytes = parse_byte_size(mem->as_string()->get());
      if (!bytes) return r.error("limits.memory", bytes.error().message);
      limits.memory = *bytes;
    }
    if (!limits.memory || *limits.memory < 1024 * 1024)
      return r.error("limits.memory", "expected a size of at least 1MiB, e.g. \"512MiB\"");
  }
  if (auto* cpu = t.get("cpu")) {
    auto cores = cpu->value<double>();
    if (!cores || !(*cores >= 0.01 && *cores <= 4096))
      return r.error("limits.cpu", "expected a number of cores from 0.01 up, e.g. 0.5 or 2");
    limits.cpu = *cores;
  }
  auto pids = r.integer(t, "limits", "pids", 1, 4'194'304);
  BERTH_TRY(pids);
  if (*pids) limits.pids = static_cast<uint64_t>(**pids);
  return {};
}

Result<Manifest> parse_manifest(std::string_view text, const std::string& file) {
  Reader r(file);
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return fail(Code::kBadManifest,
                fmt::format("{}:{}:{}: {}", file, b.line, b.column, e.description()));
  }
  if (auto key = nul_inside(root, ""))
    return r.error(*key,
                   "contains a NUL byte (\\u0000), which no command, path or variable can hold");
  Manifest m;
  BERTH_TRY(r.only_keys(root, "",
                        {"name", "run", "env", "ready", "stop", "restart", "watch", "install",
                         "deploy", "lifecycle", "serve", "limits", "health"}));
  auto name = r.string(root, "", "name");
  BERTH_TRY(name);
  if (*name) {
    if (!valid_component_name(**name))
      return r.error("name",
                     "use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
    m.name = **name;
  }
  auto run = r.table(root, "run");
  BERTH_TRY(run);
  if (!*run) return r.error("run.command", "missing: add a [run] table with command = \"...\"");
  BERTH_TRY(parse_run(r, **run, m.run));
  if (auto* profiles = root.get("env")) {
    if (!profiles->is_table())
      return r.error("env", "expected profile tables: [env.NAME] with NAME = \"value\" lines");
    for (auto&& [k, v] : *profiles->as_table()) {
      std::string profile(k.str());
      if (!valid_component_name(profile))
        return r.error("env." + profile, "a profile name is 1-63 letters, digits, '.', '_' or '-'");
      BERTH_TRY(parse_env_table(r, v, "env." + profile, m.profiles[profile]));
    }
  }
  auto ready = r.table(root, "ready");
  BERTH_TRY(ready);
  if (*ready) BERTH_TRY(parse_ready(r, **ready, m.ready));
  auto stop = r.table(root, "stop");
  BERTH_TRY(stop);
  if (*stop) BERTH_TRY(parse_stop(r, **stop, m.stop));
  auto restart = r.table(root, "restart");
  BERTH_TRY(restart);
  if (*restart) BERTH_TRY(parse_restart(r, **restart, m.restart));
  auto watch = r.table(root, "watch");
  BERTH_TRY(watch);
  if (*watch) BERTH_TRY(parse_watch(r, **watch, m.watch));
  auto install = r.table(root, "install");
  BERTH_TRY(install);
  if (*install) BERTH_TRY(parse_install(r, **install, m.install));
  auto deploy = r.table(root, "deploy");
  BERTH_TRY(deploy);
  if (*deploy) {
    BERTH_TRY(r.only_keys(**deploy, "deploy", {"rollout", "max_parallel", "healthy_for"}));
    if ((*deploy)->get("healthy_for")) {
      Millis window{0};
      BERTH_TRY(r.duration(**deploy, "deploy", "healthy_for", window));
      m.deploy.healthy_for = window;
    }
    auto rollout = r.string(**deploy, "deploy", "rollout");
    BERTH_TRY(rollout);
    if (*rollout && **rollout != "parallel" && **rollout != "rolling")
      return r.error("deploy.rollout", "expected \"parallel\" or \"rolling\"");
    m.deploy.rolling = rollout->value_or("parallel") == "rolling";
    auto max = r.integer(**deploy, "deploy", "max_parallel", 1, 1000);
    BERTH_TRY(max);
    m.deploy.max_parallel = static_cast<int>(max->value_or(1));
  }
  auto lifecycle = r.table(root, "lifecycle");
  BERTH_TRY(lifecycle);
  if (*lifecycle) {
    BERTH_TRY(r.only_keys(**lifecycle, "lifecycle", {"keep"}));
    auto keep = r.boolean(**lifecycle, "lifecycle", "keep");
    BERTH_TRY(keep);
    m.lifecycle.keep = keep->value_or(false);
  }
  auto serve = r.table(root, "serve");
  BERTH_TRY(serve);
  if (*serve) {
    BERTH_TRY(parse_serve(r, **serve, m.serve.emplace()));
    // Its port is held by the daemon: a connect there succeeds before the app is up.
    if (m.serve->mode == ServeMode::kSocket && m.ready.port == m.serve->port)
      return r.error("ready.port",
                     "is [serve] port, which berth itself holds open; say ready with a marker, "
                     "notify or the settle rule instead");
    // Proxy mode moves traffic to an instance once it is ready: by default, once it accepts.
    if (m.serve->mode == ServeMode::kProxy && !m.ready.has_condition())
      m.ready.port = m.serve->instance_port;
  }
  auto limits = r.table(root, "limits");
  BERTH_TRY(limits);
  if (*limits) BERTH_TRY(parse_limits(r, **limits, m.limits));
  auto health = r.table(root, "health");
  BERTH_TRY(health);
  if (*health) BERTH_TRY(parse_health(r, **health, m, m.health.emplace()));
  return m;
}

Result<Manifest> load_manifest(const std::filesystem::path& dir, const RunSource& source) {
  auto path = dir / "berth.toml";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    Manifest m;
    if (!source.argv.empty()) {
      m.run.argv = source.argv;
      m.inferred = "the command given to berth run";
      return m;
    }
    auto inferred = infer_run(dir, source.procfile);
    BERTH_TRY(inferred);
    m.run.argv = std::move(inferred->argv);
    m.inferred = std::move(inferred->how);
    return m;
  }
  auto text = read_file(path);
  if (!text) return fail(Code::kBadManifest, text.error().message);
  auto m = parse_manifest(*text, path.string());
  if (m && !source.argv.empty()) {
    m->run.argv = source.argv;
    m->inferred = "the command given to berth run";
  }
  return m;
}

bool valid_component_name(const std::string& name) {
  if (name.empty() || name.size() > 63 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace berth
