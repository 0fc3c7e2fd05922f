// How a process tree becomes ready, stops and restarts: the [ready], [stop] and [restart]
// parts of a manifest as proc/ uses them (config/manifest fills them from berth.toml).
#pragma once
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>

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

}  // namespace berth
