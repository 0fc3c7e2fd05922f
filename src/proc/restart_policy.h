// Restart decisions after a run ends: policy, exponential backoff with a ceiling, a stable run
// resetting both, and a start limit after which the component is crash-looping.
#pragma once
#include "proc/specs.h"

namespace berth {

struct RestartDecision {
  enum class Kind { kNone, kRestart, kCrashLoop } kind = Kind::kNone;
  Millis delay{0};
};

class RestartTracker {
 public:
  // `failed`: non-zero exit, death by signal or a startup failure. `ran`: time the run lasted
  // (from start; a startup failure never counts as stable).
  RestartDecision on_run_end(const RestartSpec& spec, bool failed, bool startup_failure,
                             Millis ran);
  // An explicit start/restart from a user clears the history.
  void reset() { consecutive_unstable_ = 0; }
  int consecutive_unstable() const { return consecutive_unstable_; }

 private:
  int consecutive_unstable_ = 0;
};

}  // namespace berth
