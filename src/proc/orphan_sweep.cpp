#include "proc/orphan_sweep.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/syscall.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/unique_fd.h"
#include "proc/cgroup.h"
#include "proc/proc_stat.h"

namespace berth {
namespace {

using namespace std::chrono_literals;

template <class Pred>
bool poll_until(Pred done, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    // Not our children: no SIGCHLD, no pidfd wait worth the plumbing at start-up.
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

void kill_pid_checked(pid_t pid, uint64_t not_before) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) return;
  auto st = read_proc_stat(pid);
  // Members of the old tree were all started at or after its leader.
  if (st && st->start_time >= not_before)
    ::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0);
}

}  // namespace

SweepReport sweep_orphans(const std::vector<LeftTree>& rows) {
  SweepReport rep;
  for (const auto& row : rows) {
    std::string who = fmt::format("{} (pid {})", row.label, row.pid);
    std::error_code ec;
    if (row.cgroup && std::filesystem::exists(*row.cgroup, ec)) {
      std::filesystem::path dir(*row.cgroup);
      bool had = cgroup::populated(dir);
      if (had) cgroup::kill_all(dir);
      bool gone = poll_until([&] { return !cgroup::populated(dir); }, 10s);
      (void)cgroup::remove(dir);
      if (had) ++rep.trees_killed;
      rep.notes.push_back(
          fmt::format("{}: {}", who,
                      had ? (gone ? "killed leftover cgroup" : "cgroup members survive SIGKILL")
                          : "cgroup already empty"));
      continue;
    }
    if (row.pgid <= 0) {  // recorded just before a spawn that never happened or never finished
      rep.notes.push_back(fmt::format("{}: never started", who));
      continue;
    }
    auto leader = read_proc_stat(row.pgid);
    if (leader && leader->start_time != row.start_time) {
      // The PID now names a different process, so our group died with its leader earlier and
      // the number was recycled: our group cannot exist any more.
      rep.notes.push_back(fmt::format("{}: PID reused by an unrelated process; not touched", who));
      continue;
    }
    auto members = pgroup_members(row.pgid);
    if (members.empty()) {
      rep.notes.push_back(fmt::format("{}: already gone", who));
      continue;
    }
    for (pid_t p : members) kill_pid_checked(p, row.start_time);
    bool gone = poll_until(
        [&] {
          for (pid_t p : pgroup_members(row.pgid)) {
            auto st = read_proc_stat(p);
            if (st && st->start_time >= row.start_time) return false;
          }
          return true;
        },
        10s);
    ++rep.trees_killed;
    rep.notes.push_back(fmt::format("{}: killed leftover process group ({} members){}", who,
                                    members.size(), gone ? "" : "; some survive SIGKILL"));
  }
  return rep;
}

}  // namespace berth
