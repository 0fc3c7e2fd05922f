// Crash-point chaos: a real daemon driven through random deploys (with installs that print
// and take time), rollbacks, restarts, stops, starts, destroys and watched changes, SIGKILLed
// at a random moment, restarted, and checked for berth's invariants after every kill:
//   1. every deployed component's link points at a whole release (a directory of releases/
//      holding its berth.toml), never a staging one;
//   2. once the new daemon has settled, no deployment is left `running`;
//   3. no process of the dead daemon's trees (or installs) is alive;
//   4. a destroyed name has no link, no component and no process;
//   5. the store passes PRAGMA integrity_check.
// KILLS (default 12 here, `make chaos KILLS=500`) and CHAOS_SEED (printed, to replay a run).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <iostream>
#include <random>
#include <set>

#include "integration/harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoull(v) : fallback;
}

// Every pid in a cgroup subtree (the daemon's base group: components' trees and installs).
void pids_under(const fs::path& dir, std::set<pid_t>& out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  std::ifstream procs(dir / "cgroup.procs");
  for (pid_t p; procs >> p;) out.insert(p);
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec)) pids_under(e.path(), out);
}

std::string integrity(const fs::path& db) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return "cannot open";
  }
  std::string result;
  char* err = nullptr;
  sqlite3_exec(
      h, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] ? values[0] : "";
        return 0;
      },
      &result, &err);
  if (err) result = err;
  sqlite3_free(err);
  sqlite3_close(h);
  return result;
}

// The leaders of a component's trees: every instance's.
void tree_pids(const json& c, std::set<pid_t>& out) {
  if (c["pid"].is_number()) out.insert(c["pid"].get<int>());
  for (const auto& i : c.value("instances", json::array()))
    if (i["pid"].is_number()) out.insert(i["pid"].get<int>());
}

class Chaos {
 public:
  explicit Chaos(uint64_t seed) : rng_(seed) {
    for (const std::string name : {"a", "b"}) {
      // An install that prints and takes a little time, so kills land inside it too; b runs
      // two instances, so kills land inside its rolls too.
      dirs_[name] = d_.component(
          name, "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                    (name == "b" ? "\ninstances = 2" : "") +
                    "\n[ready]\nmarker = \"up\"\n[deploy]\nhealthy_for = \"0s\"\n"
                    "[install]\ncommand = \"for i in 1 2 3 4 5; do echo installing $i; sleep "
                    "0.02; done\"\n");
    }
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
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(rng_)));
    // What the kill interrupts, for the summary.
    for (auto& dep : d_.api("GET", "/v1/deployments").body.value("deployments", json::array()))
      if (dep.value("status", "") == "running") ++phases_[dep.value("phase", "?")];
    std::set<pid_t> before;
    if (auto base = base_group()) pids_under(*base, before);
    for (auto& c : components()) tree_pids(c, before);
    d_.kill9();
    ++kills_;
    d_.start();
    check(before);
  }

  int kills() const { return kills_; }
  int links_checked() const { return links_checked_; }
  // Deployments in flight at the kills, by phase.
  const std::map<std::string, int>& phases() const { return phases_; }
  const std::vector<std::string>& violations() const { return violations_; }

 private:
  void operation() {
    const std::string name = std::uniform_int_distribution<int>(0, 1)(rng_) ? "a" : "b";
    switch (std::uniform_int_distribution<int>(0, 6)(rng_)) {
      case 0:
      case 1:
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

  std::vector<json> components() {
    auto r = d_.api("GET", "/v1/components");
    std::vector<json> out;
    for (auto& c : r.body.value("components", json::array())) out.push_back(c);
    return out;
  }

  std::optional<fs::path> base_group() {
    for (auto& c : components())
      if (c.contains("cgroup")) return fs::path(c["cgroup"].get<std::string>()).parent_path();
    return std::nullopt;
  }

  void violation(const std::string& what) {
    violations_.push_back("kill " + std::to_string(kills_) + ": " + what);
  }

  void check(const std::set<pid_t>& before) {
    // 2. Nothing left running once the new daemon has settled.
    const bool settled = poll_until([&] {
      auto r = d_.api("GET", "/v1/deployments");
      for (auto& dep : r.body.value("deployments", json::array()))
        if (dep.value("status", "") == "running") return false;
      return r.status == 200;
    });
    if (!settled) violation("a deployment stayed running after the restart");
    auto now = components();
    std::set<pid_t> after;
    if (auto base = base_group()) pids_under(*base, after);
    for (auto& c : now) tree_pids(c, after);
    // 3. The dead daemon's processes are gone (the new ones are new).
    for (pid_t p : before)
      if (!after.contains(p) && pid_alive(p))
        violation("pid " + std::to_string(p) + " outlived its daemon");
    for (const std::string name : {"a", "b"}) {
      const fs::path link = d_.home() / "components" / name;
      std::error_code ec;
      const bool listed = d_.api("GET", "/v1/components/" + name).status == 200;
      if (destroyed_.contains(name)) {
        // 4. Destroyed: nothing of it.
        if (fs::exists(fs::symlink_status(link, ec)))
          violation(name + " was destroyed but has a link");
        if (listed) violation(name + " was destroyed but is a component again");
        continue;
      }
      if (!fs::is_symlink(link, ec)) continue;  // never deployed (yet)
      // 1. A whole release, never a staging one.
      ++links_checked_;
      const fs::path target = fs::read_symlink(link, ec);
      const fs::path release = target.is_absolute() ? target : link.parent_path() / target;
      if (!fs::exists(release / "berth.toml", ec))
        violation(name + " points at " + release.string() + ", which has no berth.toml");
      if (release.string().find("staging") != std::string::npos)
        violation(name + " points at a staging directory " + release.string());
    }
    // 5. The store.
    if (auto r = integrity(d_.home() / "berth.db"); r != "ok") violation("integrity_check: " + r);
  }

  TestDaemon d_;
  std::mt19937_64 rng_;
  std::map<std::string, fs::path> dirs_;
  fs::path watched_;
  std::set<std::string> destroyed_;
  int kills_ = 0, links_checked_ = 0;
  std::map<std::string, int> phases_;
  std::vector<std::string> violations_;
};

TEST(Chaos, KillsAtRandomPointsLeaveEveryInvariantWhole) {
  const uint64_t seed = env_number("CHAOS_SEED", std::random_device{}());
  const uint64_t kills = env_number("KILLS", 12);
  Chaos chaos(seed);
  for (uint64_t i = 0; i < kills; ++i) chaos.round();
  std::cout << "chaos: seed " << seed << ", " << chaos.kills() << " kills, "
            << chaos.violations().size() << " violations, " << chaos.links_checked()
            << " release links checked; deployments in flight at the kills:";
  for (const auto& [phase, n] : chaos.phases()) std::cout << " " << phase << " " << n;
  std::cout << "\n";
  for (const auto& v : chaos.violations())
    ADD_FAILURE() << v << " (replay: CHAOS_SEED=" << seed << ")";
}

}  // namespace
}  // namespace berth::testing
