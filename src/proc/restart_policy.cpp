#include "proc/restart_policy.h"

#include <algorithm>

namespace berth {

RestartDecision RestartTracker::on_run_end(const RestartSpec& spec, bool failed,
                                           bool startup_failure, Millis ran) {
  bool stable = !startup_failure && ran >= spec.stable;
  if (stable) consecutive_unstable_ = 0;
  if (spec.policy == RestartPolicy::kNever) return {};
  if (spec.policy == RestartPolicy::kOnFailure && !failed) return {};
  // A run that ended quickly counts against the limit even if it exited 0 (policy always):
  // otherwise `exit 0` under `always` would spin without backoff.
  if (failed || !stable) ++consecutive_unstable_;
  if (consecutive_unstable_ >= spec.start_limit)
    return {RestartDecision::Kind::kCrashLoop, Millis(0)};
  int exp = std::max(0, consecutive_unstable_ - 1);
  int64_t delay = spec.backoff.count();
  for (int i = 0; i < exp && delay < spec.backoff_max.count(); ++i) delay *= 2;
  return {RestartDecision::Kind::kRestart, Millis(std::min(delay, spec.backoff_max.count()))};
}

}  // namespace berth
