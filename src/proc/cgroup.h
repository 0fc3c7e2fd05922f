// cgroup v2 support: find the v2 hierarchy (hybrid or pure), decide whether berth may create
// groups there, and operate one group per process tree (list, signal, kill, populated, remove).
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "proc/specs.h"

namespace berth {

// Where this daemon creates its per-tree cgroups, or nothing when the host does not allow it.
struct CgroupBase {
  std::filesystem::path dir;  // e.g. /sys/fs/cgroup/unified/berth-<id>
  // Started in a group of its own (a systemd unit with Delegate=yes), the daemon moved into
  // this leaf beside `dir`: cgroup v2 lets a group that holds processes hand no controllers
  // down, so the group it was started in must hold none for [limits] to work.
  std::optional<std::filesystem::path> leaf;
};

// Locates the cgroup2 mount through /proc/self/mountinfo and the daemon's own group through
// /proc/self/cgroup, then proves it can create (and remove) a child group under `base_name`.
// Returns nullopt, with the reason in `why`, when cgroups cannot be used.
std::optional<CgroupBase> detect_cgroup_base(const std::string& base_name, std::string& why);
// At exit: back into the group it was started in, and the leaf removed.
void leave_leaf(const CgroupBase& base);

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
// The controllers a group may use (its cgroup.controllers: what its parent hands down).
std::vector<std::string> controllers(const std::filesystem::path& dir);
// Makes [limits] possible in `base`'s children: checks that base may use every controller
// `limits` needs and turns those on in base/cgroup.subtree_control. limits_unavailable, saying
// which controller is missing where and why, when the host does not delegate it.
Result<void> enable_for(const std::filesystem::path& base, const LimitsSpec& limits);
// Writes memory.max, cpu.max (quota per 100 ms period) and pids.max of a group before any
// process joins it; limits_unavailable naming the file when the kernel refuses one.
Result<void> apply_limits(const std::filesystem::path& dir, const LimitsSpec& limits);
// How many processes of the group the kernel's OOM killer ended (memory.events oom_kill).
uint64_t oom_kills(const std::filesystem::path& dir);
}  // namespace cgroup

}  // namespace berth
