// At daemon start, kills what a previous daemon (SIGKILLed, crashed) left running, from the
// `trees` rows it recorded: the whole cgroup, or the process group named by the leader's PID
// and start time. A process that merely reuses a recorded PID is never touched.
#pragma once
#include <string>
#include <vector>

#include "store/tree_repo.h"

namespace berth {

struct SweepReport {
  int trees_killed = 0;
  std::vector<std::string> notes;  // one line per row, for the daemon log
};

// Blocking and bounded (waits up to ~10 s per tree for members to die).
SweepReport sweep_orphans(const std::vector<TreeRow>& rows);

}  // namespace berth
