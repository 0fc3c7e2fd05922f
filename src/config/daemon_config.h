// The daemon's own settings: embedded defaults, then $BERTH_HOME/config.toml, then BERTH_*
// environment variables (highest precedence). Errors name the source and the key.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/cluster_config.h"
#include "core/duration.h"
#include "core/error.h"

namespace berth {

enum class CgroupMode { kAuto, kOff };

// [cache]: the shared install cache.
struct CacheConfig {
  bool enabled = true;
  std::filesystem::path dir;  // default HOME/cache; may be shared by several daemons
  // "ofd", "lease-file" (a filesystem without working locks) or "etcd" (one install per
  // cluster); empty until loaded: "etcd" in a cluster, else "ofd".
  std::string lock;
  Millis lease_heartbeat{2000}, lease_stale{10000};
  bool copy = false;                 // copy entries into releases instead of hard-linking
  uint64_t max_bytes = 10ULL << 30;  // least recently used entries pruned past this; 0: none
};

// [http]: the API server's limits (see http/server.h).
struct HttpConfig {
  size_t max_connections = 0;     // 0: half the process's RLIMIT_NOFILE
  Millis header_timeout{10'000};  // a request head from a client not yet authenticated
  Millis idle_timeout{60'000};    // an authenticated keep-alive connection between requests
  Millis io_timeout{30'000};      // a request body's next bytes, a response's write
};

// [env]: the base environment every component starts from (docs/daemon.md). The daemon's own
// environment is whatever shell first started it, so only these names pass through.
struct EnvConfig {
  std::vector<std::string> pass = {"PATH",     "HOME",       "USER",        "LOGNAME",
                                   "SHELL",    "LANG",       "LANGUAGE",    "LC_*",
                                   "TZ",       "TMPDIR",     "http_proxy",  "https_proxy",
                                   "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"};
  std::map<std::string, std::string> set;
};

struct DaemonConfig {
  std::filesystem::path home;
  uint16_t port = 7370;  // 0 = ephemeral (tests)
  CgroupMode cgroup = CgroupMode::kAuto;
  std::string lease_first = "127.0.0.2";  // loopback pool for `address = "lease"`
  std::string lease_last = "127.0.0.254";
  uint64_t log_max_bytes = 10 * 1024 * 1024;  // rotate output.log past this size
  int log_files = 3;                          // rotated files kept besides the live one
  size_t log_ring_lines = 2000;               // lines kept in memory per component
  uint64_t body_limit = 1024 * 1024;          // API request bodies (JSON)
  uint64_t upload_limit = 1ULL << 30;         // a deploy's payload, compressed
  uint64_t extract_max_bytes = 4ULL << 30;    // a release's contents, uncompressed
  uint64_t extract_max_entries = 200'000;     // entries in one payload
  int releases_keep = 5;                      // releases kept per component for rollback
  // [deploy] healthy_for of components whose manifest sets none (docs/manifest.md says why 5s).
  Millis healthy_for{5000};
  CacheConfig cache;
  EnvConfig env;
  HttpConfig http;
  ApiConfig api;
  ClusterConfig cluster;
  // The daemon's own log: at most this many lines a second (bursts of 10x pass), the rest
  // counted and reported; a log file on stderr is rotated past log_max_bytes.
  int daemon_log_rate = 100;
  // [metrics] public = true: GET /metrics answers without the token (for a scraper on a
  // trusted network); every other route still needs it.
  bool metrics_public = false;
};

// Default home: $BERTH_HOME, else /var/lib/berth for root, else ~/.local/state/berth.
std::filesystem::path default_home();

// `env` lookups go through `getenv`; tests pass their own values through the environment too.
Result<DaemonConfig> load_daemon_config(const std::filesystem::path& home);

}  // namespace berth
