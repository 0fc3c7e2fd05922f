#include "config/daemon_config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cstdlib>

#include "config/cluster_config_parse.h"
#include "config/env_file.h"
#include "core/byte_size.h"

namespace berth {

std::filesystem::path default_home() {
  if (const char* h = std::getenv("BERTH_HOME"); h && *h) return h;
  if (::geteuid() == 0) return "/var/lib/berth";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : "/tmp") / ".local/state/berth";
}

namespace {

Result<uint16_t> parse_port(std::string_view text, const std::string& where) {
  int v = 0;
  if (text.empty() || text.size() > 5)
    return fail(Code::kBadConfig, where + ": expected a port 0-65535");
  for (char c : text) {
    if (c < '0' || c > '9') return fail(Code::kBadConfig, where + ": expected a port 0-65535");
    v = v * 10 + (c - '0');
  }
  if (v > 65535) return fail(Code::kBadConfig, where + ": expected a port 0-65535");
  return static_cast<uint16_t>(v);
}

Result<void> parse_lease_range(std::string_view text, const std::string& where, DaemonConfig& c) {
  auto dash = text.find('-');
  auto bad = fail(Code::kBadConfig,
                  where + ": expected \"127.0.0.2-127.0.0.254\" (two loopback addresses)");
  if (dash == std::string_view::npos) return bad;
  std::string a(text.substr(0, dash)), b(text.substr(dash + 1));
  in_addr ia{}, ib{};
  if (inet_pton(AF_INET, a.c_str(), &ia) != 1 || inet_pton(AF_INET, b.c_str(), &ib) != 1)
    return bad;
  if ((ntohl(ia.s_addr) >> 24) != 127 || (ntohl(ib.s_addr) >> 24) != 127 ||
      ntohl(ia.s_addr) > ntohl(ib.s_addr))
    return bad;
  c.lease_first = a;
  c.lease_last = b;
  return {};
}

Result<void> apply_cgroup(std::string_view v, const std::string& where, DaemonConfig& c) {
  if (v == "auto")
    c.cgroup = CgroupMode::kAuto;
  else if (v == "off")
    c.cgroup = CgroupMode::kOff;
  else
    return fail(Code::kBadConfig, where + ": expected \"auto\" or \"off\"");
  return {};
}

Result<void> parse_cache(const toml::table& t, const std::string& file, CacheConfig& c) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string where = file + ": cache." + key;
    auto bad = [&](const char* want) {
      return fail(Code::kBadConfig, where + ": expected " + want);
    };
    if (key == "enabled") {
      if (!v.is_boolean()) return bad("true or false");
      c.enabled = v.as_boolean()->get();
    } else if (key == "dir") {
      if (!v.is_string() || v.as_string()->get().empty()) return bad("a directory path");
      c.dir = v.as_string()->get();
    } else if (key == "lock") {
      const auto* lock = v.as_string();
      if (!lock || (lock->get() != "ofd" && lock->get() != "lease-file" && lock->get() != "etcd"))
        return bad("\"ofd\", \"lease-file\" or \"etcd\"");
      c.lock = lock->get();
    } else if (key == "link") {
      if (!v.is_string() || (v.as_string()->get() != "hardlink" && v.as_string()->get() != "copy"))
        return bad("\"hardlink\" or \"copy\"");
      c.copy = v.as_string()->get() == "copy";
    } else if (key == "lease_heartbeat" || key == "lease_stale") {
      auto d = v.is_string() ? parse_duration(v.as_string()->get()) : fail(Code::kBadConfig, "");
      if (!d || d->count() < 10) return bad("a duration of at least 10ms, like \"2s\"");
      (key == "lease_heartbeat" ? c.lease_heartbeat : c.lease_stale) = *d;
    } else if (key == "max_size") {
      Result<uint64_t> n = v.is_integer() && v.as_integer()->get() >= 0
                               ? Result<uint64_t>(static_cast<uint64_t>(v.as_integer()->get()))
                           : v.is_string() ? parse_byte_size(v.as_string()->get())
                                           : fail(Code::kBadConfig, "");
      if (!n) return bad("a size like \"10GiB\" (0: no limit)");
      c.max_bytes = *n;
    } else {
      return fail(Code::kBadConfig, where +
                                        ": unknown key (known: enabled, dir, lock, link, "
                                        "lease_heartbeat, lease_stale, max_size)");
    }
  }
  if (c.lease_stale <= c.lease_heartbeat)
    return fail(Code::kBadConfig,
                file + ": cache.lease_stale must be longer than cache.lease_heartbeat");
  return {};
}

Result<void> parse_http(const toml::table& t, const std::string& file, HttpConfig& c) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string where = file + ": http." + key;
    auto bad = [&](const char* want) {
      return fail(Code::kBadConfig, where + ": expected " + want);
    };
    if (key == "max_connections") {
      if (!v.is_integer() || v.as_integer()->get() < 8 || v.as_integer()->get() > 1'000'000)
        return bad("an integer 8-1000000");
      c.max_connections = static_cast<size_t>(v.as_integer()->get());
    } else if (key == "header_timeout" || key == "idle_timeout" || key == "io_timeout") {
      auto d = v.is_string() ? parse_duration(v.as_string()->get()) : fail(Code::kBadConfig, "");
      if (!d || d->count() < 10) return bad("a duration of at least 10ms, like \"10s\"");
      (key == "header_timeout" ? c.header_timeout
       : key == "idle_timeout" ? c.idle_timeout
                               : c.io_timeout) = *d;
    } else {
      return fail(Code::kBadConfig, where +
                                        ": unknown key (known: max_connections, header_timeout, "
                                        "idle_timeout, io_timeout)");
    }
  }
  return {};
}

Result<void> parse_env(const toml::table& t, const std::string& file, EnvConfig& c) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string where = file + ": env." + key;
    if (key == "pass" && v.is_array()) {
      c.pass.clear();
      for (auto&& el : *v.as_array()) {
        if (!el.is_string() || el.as_string()->get().empty())
          return fail(Code::kBadConfig, where + ": expected an array of variable names");
        c.pass.push_back(el.as_string()->get());
      }
    } else if (key == "set" && v.is_table()) {
      for (auto&& [name, value] : *v.as_table()) {
        if (!valid_env_name(name.str()) || !value.is_string())
          return fail(Code::kBadConfig,
                      fmt::format("{}.{}: expected NAME = \"value\"", where, name.str()));
        c.set[std::string(name.str())] = value.as_string()->get();
      }
    } else {
      return fail(Code::kBadConfig,
                  where + ": unknown key (known: pass, an array of names; [env.set])");
    }
  }
  return {};
}

}  // namespace

Result<DaemonConfig> load_daemon_config(const std::filesystem::path& home) {
  DaemonConfig c;
  c.home = home;
  auto file = home / "config.toml";
  if (std::filesystem::exists(file)) {
    toml::table t;
    try {
      t = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
      return fail(Code::kBadConfig,
                  fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line,
                              e.source().begin.column, e.description()));
    }
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      std::string where = file.string() + ": " + key;
      if (key == "cache" && v.is_table()) {
        BERTH_TRY(parse_cache(*v.as_table(), file.string(), c.cache));
      } else if (key == "metrics" && v.is_table()) {
        for (auto&& [mk, mv] : *v.as_table()) {
          if (mk.str() != "public" || !mv.is_boolean())
            return fail(Code::kBadConfig, where + "." + std::string(mk.str()) +
                                              ": unknown key or bad value (known: public = "
                                              "true|false)");
          c.metrics_public = mv.as_boolean()->get();
        }
      } else if (key == "env" && v.is_table()) {
        BERTH_TRY(parse_env(*v.as_table(), file.string(), c.env));
      } else if (key == "http" && v.is_table()) {
        BERTH_TRY(parse_http(*v.as_table(), file.string(), c.http));
      } else if (key == "api" && v.is_table()) {
        BERTH_TRY(parse_api_table(*v.as_table(), file.string(), c.api));
      } else if (key == "cluster" && v.is_table()) {
        BERTH_TRY(parse_cluster_table(*v.as_table(), file.string(), c.cluster));
      } else if (key == "daemon_log_rate" && v.is_integer() && v.as_integer()->get() >= 1 &&
                 v.as_integer()->get() <= 100'000) {
        c.daemon_log_rate = static_cast<int>(v.as_integer()->get());
      } else if (key == "port" && v.is_integer()) {
        auto p = parse_port(std::to_string(v.as_integer()->get()), where);
        BERTH_TRY(p);
        c.port = *p;
      } else if (key == "cgroup" && v.is_string()) {
        BERTH_TRY(apply_cgroup(v.as_string()->get(), where, c));
      } else if (key == "lease_range" && v.is_string()) {
        BERTH_TRY(parse_lease_range(v.as_string()->get(), where, c));
      } else if (key == "log_max_bytes" && v.is_integer() && v.as_integer()->get() >= 4096) {
        c.log_max_bytes = static_cast<uint64_t>(v.as_integer()->get());
      } else if (key == "log_files" && v.is_integer() && v.as_integer()->get() >= 0 &&
                 v.as_integer()->get() <= 100) {
        c.log_files = static_cast<int>(v.as_integer()->get());
      } else if (key == "log_ring_lines" && v.is_integer() && v.as_integer()->get() >= 10) {
        c.log_ring_lines = static_cast<size_t>(v.as_integer()->get());
      } else if (key == "upload_limit" && v.is_integer() && v.as_integer()->get() >= 1024) {
        c.upload_limit = static_cast<uint64_t>(v.as_integer()->get());
      } else if (key == "extract_max_bytes" && v.is_integer() && v.as_integer()->get() >= 1024) {
        c.extract_max_bytes = static_cast<uint64_t>(v.as_integer()->get());
      } else if (key == "extract_max_entries" && v.is_integer() && v.as_integer()->get() >= 1) {
        c.extract_max_entries = static_cast<uint64_t>(v.as_integer()->get());
      } else if (key == "healthy_for" && v.is_string() && parse_duration(v.as_string()->get())) {
        c.healthy_for = *parse_duration(v.as_string()->get());
      } else if (key == "releases_keep" && v.is_integer() && v.as_integer()->get() >= 1 &&
                 v.as_integer()->get() <= 1000) {
        c.releases_keep = static_cast<int>(v.as_integer()->get());
      } else {
        return fail(Code::kBadConfig,
                    where +
                        ": unknown key or bad value (known: port, cgroup, lease_range, "
                        "log_max_bytes >= 4096, log_files 0-100, log_ring_lines >= 10, "
                        "upload_limit >= 1024, extract_max_bytes >= 1024, "
                        "extract_max_entries >= 1, releases_keep 1-1000, healthy_for (a duration), "
                        "daemon_log_rate "
                        "1-100000, [cache], [env], [http], [api], [cluster], [metrics])");
      }
    }
  }
  if (const char* d = std::getenv("BERTH_CACHE_DIR"); d && *d) c.cache.dir = d;
  if (c.cache.dir.empty()) c.cache.dir = "cache";
  if (c.cache.dir.is_relative()) c.cache.dir = home / c.cache.dir;
  if (const char* p = std::getenv("BERTH_PORT"); p && *p) {
    auto port = parse_port(p, "BERTH_PORT");
    BERTH_TRY(port);
    c.port = *port;
  }
  if (const char* v = std::getenv("BERTH_CGROUP"); v && *v)
    BERTH_TRY(apply_cgroup(v, "BERTH_CGROUP", c));
  if (const char* v = std::getenv("BERTH_HEALTHY_FOR"); v && *v) {
    auto d = parse_duration(v);
    if (!d) return fail(Code::kBadConfig, std::string("BERTH_HEALTHY_FOR: ") + d.error().message);
    c.healthy_for = *d;
  }
  if (const char* v = std::getenv("BERTH_LEASE_RANGE"); v && *v)
    BERTH_TRY(parse_lease_range(v, "BERTH_LEASE_RANGE", c));
  BERTH_TRY(finish_network_config(c.api, c.cluster, home));
  // One install per cluster unless told otherwise; outside a cluster there is no etcd.
  if (c.cache.lock.empty()) c.cache.lock = c.cluster.enabled() ? "etcd" : "ofd";
  if (c.cache.lock == "etcd" && !c.cluster.enabled())
    return fail(Code::kBadConfig,
                file.string() + ": cache.lock = \"etcd\" needs a cluster ([cluster] etcd)");
  return c;
}

}  // namespace berth
