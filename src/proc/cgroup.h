// cgroup v2 support: find the v2 hierarchy (hybrid or pure), decide whether berth may create
// groups there, and operate one group per process tree (list, signal, kill, populated, remove).
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace berth {

// Where this daemon creates its per-tree cgroups, or nothing when the host does not allow it.
struct CgroupBase {
  std::filesystem::path dir;  // e.g. /sys/fs/cgroup/unified/berth-<id>
};

// Locates the cgroup2 mount through /proc/self/mountinfo and the daemon's own group through
// /proc/self/cgroup, then proves it can create (and remove) a child group under `base_name`.
// Returns nullopt, with the reason in `why`, when cgroups cannot be used.
std::optional<CgroupBase> detect_cgroup_base(const std::string& base_name, std::string& why);

// A group's operations. All are safe on a group that is already gone.
namespace cgroup {
Result<void> create(const std::filesystem::path& dir);
std::vector<pid_t> procs(const std::filesystem::path& dir);
// True while any process (in this group or a child group) is alive; false when the group is
// gone or reports `populated 0`.
bool populated(const std::filesystem::path& dir);
// SIGKILL to every member through cgroup.kill (kernel 5.14+), else member by member.
void kill_all(const std::filesystem::path& dir);
// Sends `sig` to every member, through a pidfd checked to still be in the group.
void signal_all(const std::filesystem::path& dir, int sig);
// rmdir; fails while populated.
Result<void> remove(const std::filesystem::path& dir);
// CPU time used by every process that was ever in the group (cpu.stat usage_usec, a core
// file of cgroup v2); nullopt when it cannot be read.
std::optional<uint64_t> cpu_usec(const std::filesystem::path& dir);
}  // namespace cgroup

}  // namespace berth
