#include "chaos/invariants.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

namespace berth::testing::chaos {
namespace fs = std::filesystem;

namespace {

constexpr int kVendorFiles = 5;

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

// What is missing or wrong in DIR/vendor, the install's outputs ("" when whole).
std::string vendor_fault(const fs::path& dir) {
  for (int i = 1; i <= kVendorFiles; ++i) {
    std::ifstream f(dir / "vendor" / std::to_string(i));
    int n = 0;
    if (!(f >> n) || n != i) return "vendor/" + std::to_string(i) + " is missing or torn";
  }
  return "";
}

// Whether byte 0 of a key's lock file (its install lock) is held by anyone.
bool install_lock_held(const fs::path& lock_file) {
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = 0;
  l.l_len = 1;
  const bool held = ::fcntl(fd, F_OFD_SETLK, &l) != 0;
  ::close(fd);  // drops the lock if this took it
  return held;
}

bool is_key(const std::string& name) {
  return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string app_toml(const std::string& extra) {
  return "[run]\ncommand = " + fixture_command({"print:up", "forever"}) + "\n" + extra +
         "\n[ready]\nmarker = \"up\"\n[deploy]\nhealthy_for = \"0s\"\n"
         "[install]\ninputs = [\"deps.txt\"]\noutputs = [\"vendor\"]\n"
         "command = \"mkdir -p vendor && for i in 1 2 3 4 5; do echo installing $i; "
         "echo $i > vendor/$i; sleep 0.04; done\"\n";
}

void next_deps(const fs::path& dir, std::mt19937_64& rng) {
  const uint64_t version = rng() % 2 ? rng() % 3 : rng();
  std::ofstream(dir / "deps.txt") << "version " << version << "\n";
}

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoull(v) : fallback;
}

void count_in_flight(TestDaemon& d, std::map<std::string, int>& phases) {
  for (auto& dep : d.api("GET", "/v1/deployments").body.value("deployments", json::array()))
    if (dep.value("status", "") == "running") ++phases[dep.value("phase", "?")];
}

std::set<pid_t> processes_of(TestDaemon& d) {
  std::set<pid_t> out;
  for (auto& c : d.api("GET", "/v1/components").body.value("components", json::array())) {
    if (c.contains("cgroup"))
      pids_under(fs::path(c["cgroup"].get<std::string>()).parent_path(), out);
    if (c["pid"].is_number()) out.insert(c["pid"].get<int>());
    for (const auto& i : c.value("instances", json::array()))
      if (i["pid"].is_number()) out.insert(i["pid"].get<int>());
  }
  return out;
}

void check_outlived(TestDaemon& d, const std::set<pid_t>& before, Violations& v) {
  const auto after = processes_of(d);
  for (pid_t p : before)
    if (!after.contains(p) && pid_alive(p))
      v.add("pid " + std::to_string(p) + " outlived its daemon");
}

bool settle(TestDaemon& d) {
  return poll_until([&] {
    auto r = d.api("GET", "/v1/deployments");
    for (auto& dep : r.body.value("deployments", json::array()))
      if (dep.value("status", "") == "running") return false;
    return r.status == 200;
  });
}

bool check_release(TestDaemon& d, const std::string& name, Violations& v) {
  const fs::path link = d.home() / "components" / name;
  std::error_code ec;
  if (!fs::is_symlink(link, ec)) return false;
  const fs::path target = fs::read_symlink(link, ec);
  const fs::path release = target.is_absolute() ? target : link.parent_path() / target;
  if (!fs::exists(release / "berth.toml", ec))
    v.add(name + " points at " + release.string() + ", which has no berth.toml");
  else if (auto fault = vendor_fault(release); !fault.empty())
    v.add(name + "'s live release " + release.filename().string() + ": " + fault);
  if (release.string().find("staging") != std::string::npos)
    v.add(name + " points at a staging directory " + release.string());
  return true;
}

void check_destroyed(TestDaemon& d, const std::string& name, Violations& v) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(d.home() / "components" / name, ec)))
    v.add(name + " was destroyed but has a link");
  if (d.api("GET", "/v1/components/" + name).status == 200)
    v.add(name + " was destroyed but is a component again");
}

void check_store(TestDaemon& d, Violations& v) {
  if (auto r = integrity(d.home() / "berth.db"); r != "ok") v.add("integrity_check: " + r);
}

void check_cache(TestDaemon& d, bool ofd_locks, Violations& v, CacheFigures& figures) {
  const fs::path dir = d.home() / "cache";
  std::error_code ec;
  for (auto& s : fs::directory_iterator(dir / ".done", ec)) {
    const std::string key = s.path().filename().string();
    if (!is_key(key)) continue;  // a sentinel's temp file
    ++figures.entries_checked;
    if (!fs::exists(dir / key / ".berth-entry.json", ec))
      v.add("cache entry " + key.substr(0, 8) + " has a sentinel but no manifest");
    else if (auto fault = vendor_fault(dir / key); !fault.empty())
      v.add("cache entry " + key.substr(0, 8) + ": " + fault);
  }
  if (ofd_locks)
    for (auto& l : fs::directory_iterator(dir / ".locks", ec))
      if (install_lock_held(l.path()))
        v.add("install lock " + l.path().filename().string() + " held with nothing installing");
  auto pruned = d.api("POST", "/v1/cache/prune", R"({"max_size": "1TiB"})");
  if (pruned.status != 200) {
    v.add("cache prune answered " + std::to_string(pruned.status));
    return;
  }
  figures.partials_swept += pruned.body.value("partials_swept", 0);
  if (fs::exists(dir / ".partial", ec) && !fs::is_empty(dir / ".partial", ec))
    v.add("a prune left partial entries of dead installers in .partial/");
  for (auto& e : fs::directory_iterator(dir, ec))
    if (const std::string key = e.path().filename().string();
        is_key(key) && !fs::exists(dir / ".done" / key, ec))
      v.add("cache entry directory " + key.substr(0, 8) + " without a sentinel after a prune");
}

void report(const std::string& summary, uint64_t seed, const Violations& v,
            const CacheFigures& cache, const std::map<std::string, int>& phases) {
  std::cout << summary << ", " << v.found.size() << " violations, " << cache.entries_checked
            << " cache entries checked, " << cache.partials_swept
            << " partial entries swept; deployments in flight at the kills:";
  for (const auto& [phase, n] : phases) std::cout << " " << phase << " " << n;
  std::cout << "\n";
  for (const auto& found : v.found)
    ADD_FAILURE() << found << " (replay: CHAOS_SEED=" << seed << ")";
}

}  // namespace berth::testing::chaos
