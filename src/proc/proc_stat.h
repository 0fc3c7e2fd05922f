// Reading /proc: a process's identity (start time guards against PID reuse), its group and
// session, and the members of a process group.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace berth {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  uint64_t start_time = 0;  // field 22, clock ticks since boot: (pid, start_time) names one process
  uint64_t rss_pages = 0;   // field 24
  uint64_t cpu_ticks = 0;   // fields 14-17: utime + stime, and cutime + cstime (reaped children)
};

std::optional<ProcStat> read_proc_stat(pid_t pid);
// Live (non-zombie) processes whose process group is `pgid`.
std::vector<pid_t> pgroup_members(pid_t pgid);
// Live processes in `pgid`'s group or descending from `root` by parent links, started at or
// after `not_before` (so a recycled PID is never counted), `root` included.
std::vector<pid_t> family_of(pid_t root, pid_t pgid, uint64_t not_before);
// Resident memory of the given processes in bytes.
uint64_t rss_bytes(const std::vector<pid_t>& pids);
// CPU time the given processes (and the children they reaped) used, in microseconds.
uint64_t cpu_usec(const std::vector<pid_t>& pids);

}  // namespace berth
