#include "config/daemon_config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cstdlib>

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
    return fail("bad_config", where + ": expected a port 0-65535");
  for (char c : text) {
    if (c < '0' || c > '9') return fail("bad_config", where + ": expected a port 0-65535");
    v = v * 10 + (c - '0');
  }
  if (v > 65535) return fail("bad_config", where + ": expected a port 0-65535");
  return static_cast<uint16_t>(v);
}

Result<void> parse_lease_range(std::string_view text, const std::string& where, DaemonConfig& c) {
  auto dash = text.find('-');
  auto bad =
      fail("bad_config", where + ": expected \"127.0.0.2-127.0.0.254\" (two loopback addresses)");
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
    return fail("bad_config", where + ": expected \"auto\" or \"off\"");
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
      return fail("bad_config", fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line,
                                            e.source().begin.column, e.description()));
    }
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      std::string where = file.string() + ": " + key;
      if (key == "port" && v.is_integer()) {
        auto p = parse_port(std::to_string(v.as_integer()->get()), where);
        if (!p) return std::unexpected(p.error());
        c.port = *p;
      } else if (key == "cgroup" && v.is_string()) {
        if (auto r = apply_cgroup(v.as_string()->get(), where, c); !r)
          return std::unexpected(r.error());
      } else if (key == "lease_range" && v.is_string()) {
        if (auto r = parse_lease_range(v.as_string()->get(), where, c); !r)
          return std::unexpected(r.error());
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
      } else if (key == "releases_keep" && v.is_integer() && v.as_integer()->get() >= 1 &&
                 v.as_integer()->get() <= 1000) {
        c.releases_keep = static_cast<int>(v.as_integer()->get());
      } else {
        return fail("bad_config",
                    where +
                        ": unknown key or bad value (known: port, cgroup, lease_range, "
                        "log_max_bytes >= 4096, log_files 0-100, log_ring_lines >= 10, "
                        "upload_limit >= 1024, extract_max_bytes >= 1024, "
                        "extract_max_entries >= 1, releases_keep 1-1000)");
      }
    }
  }
  if (const char* p = std::getenv("BERTH_PORT"); p && *p) {
    auto port = parse_port(p, "BERTH_PORT");
    if (!port) return std::unexpected(port.error());
    c.port = *port;
  }
  if (const char* v = std::getenv("BERTH_CGROUP"); v && *v)
    if (auto r = apply_cgroup(v, "BERTH_CGROUP", c); !r) return std::unexpected(r.error());
  if (const char* v = std::getenv("BERTH_LEASE_RANGE"); v && *v)
    if (auto r = parse_lease_range(v, "BERTH_LEASE_RANGE", c); !r)
      return std::unexpected(r.error());
  return c;
}

}  // namespace berth
