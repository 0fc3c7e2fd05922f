// How a process tree becomes ready, stops, restarts, serves and is limited: the [ready],
// [stop], [restart], [serve] and [limits] parts of a manifest as proc/ uses them
// (config/manifest fills them from berth.toml).
#pragma once
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/pattern.h"

namespace berth {

enum class RestartPolicy { kOnFailure, kAlways, kNever };
const char* to_string(RestartPolicy p);

struct ReadySpec {
  std::optional<std::string> marker;    // substring, matched across chunk boundaries
  std::optional<Pattern> marker_regex;  // RE2 syntax, matched per line
  std::optional<uint16_t> port;         // ready when a TCP connect succeeds
  bool notify = false;                  // systemd NOTIFY_SOCKET, READY=1
  Millis idle_timeout{10'000};          // reset by every chunk of output
  Millis max{120'000};                  // absolute cap
  Millis settle{500};                   // with no other condition: quiet this long = ready
  bool has_condition() const { return marker || marker_regex || port || notify; }
};

struct StopSpec {
  int signal = SIGTERM;
  Millis grace{10'000};
};

struct RestartSpec {
  RestartPolicy policy = RestartPolicy::kOnFailure;
  Millis backoff{100};         // first delay; doubles per consecutive failure
  Millis backoff_max{30'000};  // ceiling of the delay
  Millis stable{10'000};       // a run this long resets the backoff and the failure count
  int start_limit = 5;         // consecutive failed runs before `crash-looping`
  // Crash-looping waits this long, then tries again from a clean history (so a short outage
  // of something it needs does not end service for good). nullopt ("never"): until asked.
  std::optional<Millis> cooldown = Millis(120'000);
};

// [serve]: the daemon binds the component's listening socket and keeps it across restarts.
enum class ServeMode {
  kSocket,  // every instance inherits it as fd 3 (systemd socket activation: LISTEN_FDS)
  kProxy,   // berth accepts and relays to instances listening on their own addresses
};
const char* to_string(ServeMode m);

struct ServeSpec {
  uint16_t port = 0;
  std::string address = "127.0.0.1";
  ServeMode mode = ServeMode::kSocket;
  // Proxy mode: the port each instance binds on its own leased address (its PORT).
  uint16_t instance_port = 0;
  bool operator==(const ServeSpec&) const = default;
};

// [health]: a check repeated while a tree runs; `retries` failures in a row restart it.
struct HealthSpec {
  enum class Kind { kHttp, kTcp, kCommand };
  Kind kind = Kind::kHttp;
  std::string path = "/";         // http: GET this; a 2xx or 3xx answer is healthy
  std::vector<std::string> argv;  // command: healthy when it exits 0
  uint16_t port = 0;              // http, tcp: on the tree's address (BERTH_HOST)
  Millis interval{10'000};
  Millis timeout{2'000};
  Millis start_period{0};  // after ready, failures in this long do not count
  int retries = 3;
};
const char* to_string(HealthSpec::Kind k);

// [limits]: cgroup v2 limits of every process of a tree (memory.max, cpu.max, pids.max).
struct LimitsSpec {
  std::optional<uint64_t> memory;  // bytes
  std::optional<double> cpu;       // cores, e.g. 0.5
  std::optional<uint64_t> pids;
  bool any() const { return memory || cpu || pids; }
};

}  // namespace berth
