// Nothing destroyed comes back: races of a deploy from one node, a destroy from another and
// status polls on all three, on several names at once, then a last destroy of each name. In
// the end no node has a directory, a process or a component for any of them, and the desired
// state says destroyed. BERTH_RACES sets how many races (default 1,000, spread over the names;
// `make test SAN=1` sets 50 for its sanitized berth, where 200 took over the 300 s timeout).
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>

#include "cluster_harness.h"
#include "core/fs_util.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

int races_wanted() {
  const char* v = std::getenv("BERTH_RACES");
  return v && *v ? std::max(1, std::atoi(v)) : 1000;
}

// Live processes (zombies are gone: nothing reaps orphans here) whose command line has `marker`.
int processes_with(const std::string& marker) {
  int n = 0;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  while (auto* e = ::readdir(proc.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    // A process ending while it is read fails the read (ESRCH): it no longer counts.
    auto text = read_file(std::string("/proc/") + e->d_name + "/cmdline");
    if (!text || text->find(marker) == std::string::npos) continue;
    if (pid_alive(std::atoi(e->d_name))) ++n;
  }
  return n;
}

TEST(ClusterRace, DestroyPollRedeployRacesEndWithNothingResurrectedOnAnyNode) {
  TestCluster cluster;
  if (!cluster.available()) GTEST_SKIP() << cluster.why();
  const int names = 4, total = races_wanted(), per_name = (total + names - 1) / names;
  std::atomic<int> deployed{0}, destroyed{0}, polls{0};
  std::vector<std::thread> workers;
  for (int n = 0; n < names; ++n)
    workers.emplace_back([&, n] {
      const std::string name = "race" + std::to_string(n), marker = "marker-" + name;
      for (int r = 0; r < per_name; ++r) {
        auto& from = cluster.node(1 + (n + r) % 3);
        auto& by = cluster.node(1 + (n + r + 1) % 3);
        const auto dir = from.component(
            name, "[run]\ncommand = " +
                      fixture_command({"print:" + marker, "print:" + std::to_string(r), "print:up",
                                       "forever"}) +
                      "\n[ready]\nmarker = \"up\"\n[watch]\nenabled = true\n");
        std::thread deploy([&] {
          if (from.cli({"deploy", dir.string(), "--name", name, "--no-follow"}).code == 0)
            ++deployed;
        });
        if (by.cli({"rm", name}).code == 0) ++destroyed;
        for (int i = 1; i <= 3; ++i, ++polls)
          (void)cluster.node(i).api("GET", "/v1/components/" + name);
        deploy.join();
      }
    });
  for (auto& w : workers) w.join();

  // The last word on every name is a destroy (retried while it loses to a deploy in flight).
  for (int n = 0; n < names; ++n) {
    const std::string name = "race" + std::to_string(n);
    CmdResult r;
    for (int attempt = 0; attempt < 20; ++attempt)
      if ((r = cluster.node(1).cli({"rm", name})).code == 0) break;
    ASSERT_EQ(r.code, 0) << name << ": " << r.out << r.err;
  }
  int resurrected = 0;
  for (int n = 0; n < names; ++n) {
    const std::string name = "race" + std::to_string(n);
    for (int i = 1; i <= 3; ++i) {
      auto& d = cluster.node(i);
      const bool gone = poll_until([&] {
        return d.api("GET", "/v1/components/" + name).status == 410 &&
               !fs::exists(d.home() / "components" / name) &&
               !fs::exists(d.home() / "releases" / name);
      });
      EXPECT_TRUE(gone) << name << " on n" << i << ": "
                        << d.api("GET", "/v1/components/" + name).body.dump()
                        << (fs::exists(d.home() / "components" / name) ? "; its link is left" : "")
                        << (fs::exists(d.home() / "releases" / name) ? "; its releases are left"
                                                                     : "");
      resurrected += !gone;
    }
    EXPECT_TRUE(poll_until([&] { return processes_with("marker-" + name) == 0; })) << name;
  }
  std::cout << "races " << names * per_name << " (deploys accepted " << deployed
            << ", destroys that won " << destroyed << ", polls " << polls
            << "), resurrections: " << resurrected << "\n";
}

}  // namespace
}  // namespace berth::testing
