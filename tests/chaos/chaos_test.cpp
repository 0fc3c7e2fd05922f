// Crash-point chaos: a real daemon driven through random deploys (with installs that print,
// take time and go through the install cache), rollbacks, restarts, stops, starts, destroys
// and watched changes, SIGKILLed at a random moment, restarted, and checked for berth's
// invariants after every kill (invariants.h):
//   1. every deployed component's link points at a whole release (a directory of releases/
//      holding its berth.toml and all its install's outputs), never a staging one;
//   2. once the new daemon has settled, no deployment is left `running`;
//   3. no process of the dead daemon's trees (or installs) is alive;
//   4. a destroyed name has no link, no component and no process;
//   5. the store passes PRAGMA integrity_check;
//   6. no install lock is held, every cache entry with a sentinel is whole, and a prune sweeps
//      every partial entry a dead installer left.
// KILLS (default 12 here, `make chaos KILLS=500`) and CHAOS_SEED (printed, to replay a run).
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>

#include "chaos/invariants.h"
#include "integration/harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

class Chaos {
 public:
  explicit Chaos(uint64_t seed) : rng_(seed) {
    // b runs two instances, so kills land inside its rolls too.
    for (const std::string name : {"a", "b"})
      dirs_[name] = d_.component(name, chaos::app_toml(name == "b" ? "instances = 2" : ""));
    watched_ = d_.component("w", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                     "\n[ready]\nmarker = \"up\"\n[watch]\nenabled = true\n");
    EXPECT_EQ(d_.cli({"run", watched_.string(), "--wait"}).code, 0);
  }

  // One round: a few operations in flight, a kill at a random moment, a restart, the checks.
  void round() {
    const int ops = std::uniform_int_distribution<int>(1, 4)(rng_);
    for (int i = 0; i < ops; ++i) operation();
    // Where the kill lands: a random moment while those operations run (not a wait for them).
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng_)));
    // What the kill interrupts, for the summary.
    chaos::count_in_flight(d_, phases_);
    const auto before = chaos::processes_of(d_);
    d_.kill9();
    ++kills_;
    d_.start();
    v_.when = "kill " + std::to_string(kills_);
    check(before);
  }

  void report(uint64_t seed) const {
    chaos::report("chaos: seed " + std::to_string(seed) + ", " + std::to_string(kills_) +
                      " kills, " + std::to_string(links_checked_) + " release links checked",
                  seed, v_, cache_, phases_);
  }

 private:
  void operation() {
    const std::string name = std::uniform_int_distribution<int>(0, 1)(rng_) ? "a" : "b";
    switch (std::uniform_int_distribution<int>(0, 6)(rng_)) {
      case 0:
      case 1:
        chaos::next_deps(dirs_[name], rng_);
        d_.cli({"deploy", dirs_[name].string(), "--name", name, "--no-follow"});
        destroyed_.erase(name);
        break;
      case 2:
        d_.cli({"rollback", name, "--no-follow"});
        break;
      case 3:
        d_.api("POST", "/v1/components/" + name + "/restart");
        break;
      case 4:
        d_.api("POST", "/v1/components/" + name + (rng_() % 2 ? "/stop" : "/start"));
        break;
      case 5:
        if (d_.api("DELETE", "/v1/components/" + name).status / 100 == 2) destroyed_.insert(name);
        break;
      case 6:
        std::ofstream(watched_ / ("f" + std::to_string(rng_() % 5) + ".js")) << rng_();
        break;
    }
  }

  void check(const std::set<pid_t>& before) {
    if (!chaos::settle(d_)) v_.add("a deployment stayed running after the restart");
    chaos::check_outlived(d_, before, v_);
    for (const std::string name : {"a", "b"}) {
      if (destroyed_.contains(name))
        chaos::check_destroyed(d_, name, v_);
      else
        links_checked_ += chaos::check_release(d_, name, v_);
    }
    chaos::check_store(d_, v_);
    chaos::check_cache(d_, /*ofd_locks=*/true, v_, cache_);
  }

  TestDaemon d_;
  std::mt19937_64 rng_;
  std::map<std::string, fs::path> dirs_;
  fs::path watched_;
  std::set<std::string> destroyed_;
  int kills_ = 0, links_checked_ = 0;
  chaos::CacheFigures cache_;
  std::map<std::string, int> phases_;
  chaos::Violations v_;
};

TEST(Chaos, KillsAtRandomPointsLeaveEveryInvariantWhole) {
  const uint64_t seed = chaos::env_number("CHAOS_SEED", std::random_device{}());
  const uint64_t kills = chaos::env_number("KILLS", 12);
  Chaos chaos(seed);
  for (uint64_t i = 0; i < kills; ++i) chaos.round();
  chaos.report(seed);
}

}  // namespace
}  // namespace berth::testing
