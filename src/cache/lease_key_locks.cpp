// KeyLocks on lease files, for filesystems without working byte-range locks: `.locks/KEY.lease`
// is created with O_EXCL and holds a random token; the holder touches it every heartbeat. A
// waiter takes it over once its mtime has not moved for the stale window by the waiter's own
// clock. The takeover renames the file aside and checks it moved the stale lease it inspected
// (same token, still unchanged); if it moved a live one it puts it back, so two waiters can
// never both take over one lease (proper-lockfile issue 121). A holder whose token is gone
// from the path reports `lost()` at its next heartbeat.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "cache/key_locks.h"
#include "core/random_id.h"
#include "core/unique_fd.h"

namespace berth {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Seen {
  std::string token, holder;  // the file's first and second lines
  ino_t ino = 0;
  timespec mtime{};
  // The same lease, untouched: holder notes are not compared (the token decides).
  bool operator==(const Seen& o) const {
    return token == o.token && ino == o.ino && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

// The lease at `p` as one inode: its lines, inode and mtime. nullopt if absent.
std::optional<Seen> look(const fs::path& p) {
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::nullopt;
  char buf[512];
  ssize_t n = ::pread(fd.get(), buf, sizeof buf, 0);
  std::istringstream text(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0));
  Seen seen{{}, {}, st.st_ino, st.st_mtim};
  std::getline(text, seen.token);
  std::getline(text, seen.holder);
  return seen;
}

class LeaseHeld : public HeldLock {
 public:
  LeaseHeld(fs::path path, std::string token, std::chrono::milliseconds heartbeat)
      : path_(std::move(path)), token_(std::move(token)) {
    beat_ = std::jthread([this, heartbeat](std::stop_token stop) {
      std::unique_lock lk(mu_);
      for (;;) {
        cv_.wait_for(lk, stop, heartbeat, [] { return false; });
        if (stop.stop_requested()) return;
        auto now = look(path_);
        if (!now || now->token != token_) {
          lost_ = true;
          return;
        }
        ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);
      }
    });
  }
  ~LeaseHeld() override {
    beat_.request_stop();
    beat_.join();
    if (auto now = look(path_); now && now->token == token_) ::unlink(path_.c_str());
  }
  bool lost() const override { return lost_; }

 private:
  fs::path path_;
  std::string token_;
  std::atomic<bool> lost_{false};
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::jthread beat_;
};

class LeaseKeyLocks : public KeyLocks {
 public:
  LeaseKeyLocks(fs::path dir, std::string who, LeaseTiming t)
      : dir_(std::move(dir)), who_(std::move(who)), timing_(t) {}

  Result<std::unique_ptr<HeldLock>> acquire(const std::string& key, const LockWait& wait) override {
    const auto path = dir_ / (key + ".lease");
    bool told = false;
    std::optional<Seen> watching;
    Clock::time_point since;
    const auto poll = std::min(std::chrono::milliseconds(50), timing_.heartbeat / 4);
    for (;;) {
      auto made = create(path);
      BERTH_TRY(made);
      if (*made) return std::move(*made);
      auto seen = look(path);
      if (!told && wait.on_wait) wait.on_wait(seen ? seen->holder : "");
      told = true;
      if (seen) {
        if (!watching || !(*watching == *seen)) {
          watching = seen;
          since = Clock::now();
        } else if (Clock::now() - since > timing_.stale) {
          take_over(path, *seen);
          watching.reset();
          continue;
        }
      }
      if (wait.cancel && wait.cancel->load())
        return fail(Code::kCancelled, "stopped waiting for " + path.string());
      if (Clock::now() >= wait.deadline)
        return fail(Code::kLockTimeout, "timed out waiting for " + path.string());
      std::this_thread::sleep_for(poll);
    }
  }

  Result<std::unique_ptr<HeldLock>> try_acquire(const std::string& key) override {
    auto made = create(dir_ / (key + ".lease"));
    BERTH_TRY(made);
    return std::move(*made);
  }

  bool busy(const std::string& key) override {
    std::error_code ec;
    return fs::exists(dir_ / (key + ".lease"), ec);
  }

  std::string name() const override { return "lease-file"; }

 private:
  // nullptr when the lease exists.
  Result<std::unique_ptr<HeldLock>> create(const fs::path& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) {
      if (errno == EEXIST) return nullptr;
      return fail(Code::kLockFailed, errno_message("create lease " + path.string(), errno));
    }
    auto token = random_hex(16);
    std::string text = token + "\n" + who_ + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(fd.get()) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      return fail(Code::kLockFailed, errno_message("write lease " + path.string(), err));
    }
    return std::make_unique<LeaseHeld>(path, token, timing_.heartbeat);
  }

  // Removes the lease only if it is still exactly the stale one we watched.
  void take_over(const fs::path& path, const Seen& stale) {
    auto aside = path;
    aside += ".stale-" + random_hex(6);
    if (::rename(path.c_str(), aside.c_str()) != 0) return;
    auto moved = look(aside);
    if (!moved || !(*moved == stale)) {
      // A live lease (a heartbeat, or a new holder): put it back unless someone already
      // created a new one, in which case its holder sees `lost()` at its next heartbeat.
      (void)::link(aside.c_str(), path.c_str());
    }
    ::unlink(aside.c_str());
  }

  fs::path dir_;
  std::string who_;
  LeaseTiming timing_;
};

}  // namespace

std::unique_ptr<KeyLocks> make_lease_locks(fs::path dir, std::string who, LeaseTiming timing) {
  return std::make_unique<LeaseKeyLocks>(std::move(dir), std::move(who), timing);
}

}  // namespace berth
