// What the chaos runs (chaos_test.cpp alone, cluster_chaos_test.cpp on three nodes) check on a
// daemon after each kill, and the workload whose installs those checks know: each check adds
// what it found broken to a Violations list instead of failing at once, so a run reports every
// violation with the kill it followed and the seed that replays it.
#pragma once
#include <sys/types.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace berth::testing::chaos {

// A component of the chaos workload: it prints "up" and runs until stopped; its install
// prints, takes ~0.2 s and writes vendor/1..5 one by one (so kills land inside it), and is
// cached on the contents of deps.txt (so deploys both hit and miss). `extra`: more [run] keys.
std::string app_toml(const std::string& extra = "");
// Writes DIR/deps.txt, the install's input, for the next deploy: half the time one of three
// versions (a cache hit once installed), else a new one (a miss: the install runs, and kills
// land inside it).
void next_deps(const std::filesystem::path& dir, std::mt19937_64& rng);

struct Violations {
  std::string when;  // "kill 3" (set by the run before its checks)
  std::vector<std::string> found;
  void add(const std::string& what) { found.push_back(when + ": " + what); }
};

// KILLS, CHAOS_SEED: a number from the environment, or `fallback`.
uint64_t env_number(const char* name, uint64_t fallback);

// Adds d's deployments running now to `phases` (what a kill interrupts, for the summary).
void count_in_flight(TestDaemon& d, std::map<std::string, int>& phases);

// Every process of d's trees and installs now: its cgroup subtree and the leaders it reports.
std::set<pid_t> processes_of(TestDaemon& d);
// After d was killed and started again: every pid of `before` that is not one of d's now is dead.
void check_outlived(TestDaemon& d, const std::set<pid_t>& before, Violations& v);

// Until d has no deployment `running` (false after 60 s).
bool settle(TestDaemon& d);
// components/NAME (if any) is a whole release: not staging, with its berth.toml and every
// file of its install's outputs. Returns whether there was a link to check.
bool check_release(TestDaemon& d, const std::string& name, Violations& v);
// A destroyed NAME: no link, and the API refuses it.
void check_destroyed(TestDaemon& d, const std::string& name, Violations& v);
// berth.db passes PRAGMA integrity_check.
void check_store(TestDaemon& d, Violations& v);

struct CacheFigures {
  int entries_checked = 0, partials_swept = 0;
};
// The install cache once d has settled:
//   - every entry with a sentinel is whole (its manifest and every output file);
//   - with local locks (`ofd_locks`), no key's install lock is held (the dead hold none);
//   - a prune sweeps every partial a dead installer left, and no entry directory is left
//     without its sentinel.
void check_cache(TestDaemon& d, bool ofd_locks, Violations& v, CacheFigures& figures);

// Prints "<summary>, N violations, the cache figures; deployments in flight at the kills: …"
// and fails the test once per violation, naming the seed that replays the run.
void report(const std::string& summary, uint64_t seed, const Violations& v,
            const CacheFigures& cache, const std::map<std::string, int>& phases);

}  // namespace berth::testing::chaos
