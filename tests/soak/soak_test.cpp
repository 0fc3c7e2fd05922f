// Soak: a real daemon under a mixed workload for SOAK_MINUTES (default 2): deploys through the
// install cache, rollbacks, restarts, watched changes, log tails and follows, status and
// metrics scrapes. A thread samples the daemon's RSS, open fds and threads once a second. After
// a warm-up (the first quarter), the last quarter may not exceed the second quarter's peak by
// more than a small bound (RSS: 8 MiB + 10%; fds: 8; threads: 2): a leak of one fd or a few
// KiB per operation crosses it within minutes. The curve is printed every 10 s and at the end.
// Not part of `make test` (a soak needs minutes): `make soak SOAK_MINUTES=30`.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "http/client.h"
#include "integration/harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Sample {
  double seconds = 0;
  uint64_t rss_kib = 0;
  size_t fds = 0, threads = 0;
};

Sample sample(pid_t pid, double seconds) {
  Sample s{seconds};
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string key; status >> key;) {
    if (key == "VmRSS:") status >> s.rss_kib;
    if (key == "Threads:") status >> s.threads;
  }
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ++s.fds;
  return s;
}

// Samples once a second until stopped (a condition variable, so stopping is immediate).
class Sampler {
 public:
  explicit Sampler(pid_t pid) : pid_(pid), thread_([this] { run(); }) {}
  ~Sampler() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Sample> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  void run() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    while (!done_) {
      const double t =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      samples_.push_back(sample(pid_, t));
      const auto& s = samples_.back();
      if (samples_.size() % 10 == 1)
        std::cout << "soak: " << static_cast<int>(t) << " s  rss " << s.rss_kib / 1024
                  << " MiB  fds " << s.fds << "  threads " << s.threads << std::endl;
      cv_.wait_for(lock, 1s, [this] { return done_; });
    }
  }

  pid_t pid_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<Sample> samples_;
  std::thread thread_;
};

std::string app_toml(int version) {
  return "[run]\ncommand = " +
         fixture_command({"print:v" + std::to_string(version), "print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n[install]\ncommand = \"mkdir -p vendor && cp deps.txt "
         "vendor/\"\ninputs = [\"deps.txt\"]\noutputs = [\"vendor\"]\n";
}

Sample peak(const std::vector<Sample>& v, size_t from, size_t to) {
  Sample p;
  for (size_t i = from; i < to; ++i) {
    p.rss_kib = std::max(p.rss_kib, v[i].rss_kib);
    p.fds = std::max(p.fds, v[i].fds);
    p.threads = std::max(p.threads, v[i].threads);
  }
  return p;
}

TEST(Soak, TheDaemonsMemoryFdsAndThreadsStayFlatUnderAMixedWorkload) {
  const char* minutes_text = std::getenv("SOAK_MINUTES");
  const double minutes = minutes_text && *minutes_text ? std::stod(minutes_text) : 2.0;
  TestDaemon d;
  auto deployed = d.component("deployed", app_toml(0));
  std::ofstream(deployed / "deps.txt") << "left-pad 1\n";
  auto watched =
      d.component("watched", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                 "\n[ready]\nmarker = \"up\"\n[watch]\nenabled = true\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", watched}}.dump()).status, 201);
  d.wait_state("watched", "ready");

  Sampler sampler(d.pid());
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double, std::ratio<60>>(minutes));
  uint64_t ops = 0;
  for (int round = 1; std::chrono::steady_clock::now() < end; ++round) {
    // A new release (dependencies changing every third round: a cache miss, else a hit).
    std::ofstream(deployed / "berth.toml") << app_toml(round);
    if (round % 3 == 0) std::ofstream(deployed / "deps.txt") << "left-pad " << round << "\n";
    ASSERT_EQ(d.cli({"deploy", deployed.string()}).code, 0) << "round " << round;
    if (round % 4 == 0) ASSERT_EQ(d.cli({"rollback", "deployed"}).code, 0);
    ASSERT_EQ(d.api("POST", "/v1/components/deployed/restart").status, 200);
    // A watched change: the component restarts on its own.
    const int restarts = d.api("GET", "/v1/components/watched").body["restarts"];
    std::ofstream(watched / "changed.txt") << round;
    d.wait_for("watched", [&](const json& s) {
      return s.value("restarts", 0) > restarts && s.value("state", "") == "ready";
    });
    ASSERT_EQ(d.api("GET", "/v1/components/deployed/logs?n=200").status, 200);
    ASSERT_EQ(d.api("GET", "/v1/logs?n=200").status, 200);
    ASSERT_EQ(d.api("GET", "/metrics").status, 200);
    ASSERT_EQ(d.cli({"ls"}).code, 0);
    ASSERT_EQ(d.api("GET", "/v1/deployments?limit=50").status, 200);
    // A log follow that ends after its first event (the client goes away mid-stream).
    http::Client c("127.0.0.1", d.port(), d.token());
    c.follow("/v1/components/deployed/logs?n=1&follow=1",
             [](const http::SseEvent&) { return false; });
    ops += 12;
  }
  sampler.stop();
  const auto v = sampler.samples();
  ASSERT_GE(v.size(), 8u) << "too short a soak to judge; SOAK_MINUTES=" << minutes;
  const size_t q = v.size() / 4;
  const Sample warm = peak(v, q, 2 * q), last = peak(v, 3 * q, v.size());
  std::cout << "soak: " << ops << " operations in " << static_cast<int>(v.back().seconds)
            << " s; second quarter peak rss " << warm.rss_kib / 1024 << " MiB, fds " << warm.fds
            << ", threads " << warm.threads << "; last quarter peak rss " << last.rss_kib / 1024
            << " MiB, fds " << last.fds << ", threads " << last.threads << std::endl;
  EXPECT_LE(last.rss_kib, warm.rss_kib + 8 * 1024 + warm.rss_kib / 10);
  EXPECT_LE(last.fds, warm.fds + 8);
  EXPECT_LE(last.threads, warm.threads + 2);
}

}  // namespace
}  // namespace berth::testing
