// The install cache's key locks, measured: uncontended acquire+release per second, and the time
// from a holder's SIGKILL to a waiter holding the lock. Run by bench/cache, which prints the
// same figures for npm proper-lockfile beside these.
//   lock_bench rate DIR N           -> "rate-keylock <per second>" and "rate-fcntl <per second>"
//   lock_bench recovery DIR TRIALS  -> one line per trial: "recovery-us <microseconds>"
//   lock_bench lease-recovery DIR HEARTBEAT_MS STALE_MS -> "lease-recovery-us <microseconds>"
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "cache/key_locks.h"
#include "cache/ofd_lock.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kKey(64, 'a');

double per_second(size_t n, Clock::duration d) {
  return static_cast<double>(n) / std::chrono::duration<double>(d).count();
}

int rate(const std::filesystem::path& dir, size_t n) {
  auto locks = make_ofd_locks(dir, "bench");
  auto t0 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    auto held = locks->acquire(kKey, {});  // open, lock, write holder, unlock, close
    if (!held) return fmt::print(stderr, "{}\n", held.error().message), 1;
  }
  fmt::print("rate-keylock {:.0f}\n", per_second(n, Clock::now() - t0));
  auto raw = OfdLock::open(dir / "raw.lock");
  t0 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    (void)raw->try_lock(OfdLock::Kind::kExclusive, 0);
    raw->unlock(0);
  }
  fmt::print("rate-fcntl {:.0f}\n", per_second(n, Clock::now() - t0));
  return 0;
}

// A child takes the lock and pauses; a waiter thread blocks on it; the child is SIGKILLed and
// the time until the waiter holds the lock is printed.
int recovery(const std::filesystem::path& dir, int trials, KeyLocks& waiter_locks,
             const char* label, const std::function<std::unique_ptr<KeyLocks>()>& holder_locks) {
  for (int t = 0; t < trials; ++t) {
    int ready[2];
    if (::pipe(ready) != 0) return 1;
    pid_t child = ::fork();
    if (child == 0) {
      auto held = holder_locks()->acquire(kKey, {});
      if (!held) ::_exit(1);
      (void)!::write(ready[1], "x", 1);
      ::pause();
      ::_exit(0);
    }
    char c;
    if (::read(ready[0], &c, 1) != 1) return 1;
    std::atomic<int64_t> got_at{0};
    std::thread waiter([&] {
      auto held = waiter_locks.acquire(kKey, {});
      got_at = Clock::now().time_since_epoch().count();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the waiter is blocked by now
    auto killed_at = Clock::now();
    ::kill(child, SIGKILL);
    waiter.join();
    ::waitpid(child, nullptr, 0);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::duration(got_at.load()) -
                                                                    killed_at.time_since_epoch())
                  .count();
    fmt::print("{} {}\n", label, us);
    ::close(ready[0]), ::close(ready[1]);
  }
  (void)dir;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    fmt::print(stderr, "usage: lock_bench rate|recovery|lease-recovery DIR N [STALE_MS]\n");
    return 2;
  }
  std::string mode = argv[1];
  std::filesystem::path dir = argv[2];
  std::filesystem::create_directories(dir);
  if (mode == "rate") return rate(dir, std::stoul(argv[3]));
  if (mode == "recovery") {
    auto waiter = make_ofd_locks(dir, "waiter");
    return recovery(dir, std::stoi(argv[3]), *waiter, "recovery-us",
                    [&] { return make_ofd_locks(dir, "holder"); });
  }
  if (mode == "lease-recovery" && argc >= 5) {
    LeaseTiming t{std::chrono::milliseconds(std::stoi(argv[3])),
                  std::chrono::milliseconds(std::stoi(argv[4]))};
    auto waiter = make_lease_locks(dir, "waiter", t);
    return recovery(dir, 3, *waiter, "lease-recovery-us",
                    [&] { return make_lease_locks(dir, "holder", t); });
  }
  fmt::print(stderr, "unknown mode {}\n", mode);
  return 2;
}
