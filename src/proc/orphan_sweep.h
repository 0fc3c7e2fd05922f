// At daemon start, kills what a previous daemon (SIGKILLed, crashed) left running, from the
// `trees` rows it recorded: the whole cgroup, or the process group named by the leader's PID
// and start time. A process that merely reuses a recorded PID is never touched.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth {

// What a previous daemon recorded of one tree (the host reads it from the store).
struct LeftTree {
  std::string label;  // "NAME#instance", for the notes
  int pid = 0;
  uint64_t start_time = 0;  // the leader's, from /proc/PID/stat
  int pgid = 0;             // 0: recorded before a spawn that never finished
  std::optional<std::string> cgroup;
};

struct SweepReport {
  int trees_killed = 0;
  std::vector<std::string> notes;  // one line per row, for the daemon log
};

// Blocking and bounded (waits up to ~10 s per tree for members to die).
SweepReport sweep_orphans(const std::vector<LeftTree>& trees);

}  // namespace berth
