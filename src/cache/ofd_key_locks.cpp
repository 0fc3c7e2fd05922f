// KeyLocks on OFD locks: byte 0 of `.locks/KEY.lock` is the key's install lock.
#include <fcntl.h>

#include "cache/key_locks.h"
#include "cache/ofd_lock.h"

namespace berth {

namespace {

class OfdHeld : public HeldLock {
 public:
  explicit OfdHeld(OfdLock lock) : lock_(std::move(lock)) {}
  // Closing the descriptor releases the lock; no separate unlock call.
  ~OfdHeld() override = default;
  bool lost() const override { return false; }

 private:
  OfdLock lock_;
};

class OfdKeyLocks : public KeyLocks {
 public:
  OfdKeyLocks(std::filesystem::path dir, std::string who)
      : dir_(std::move(dir)), who_(std::move(who)) {}

  Result<std::unique_ptr<HeldLock>> acquire(const std::string& key, const LockWait& wait) override {
    auto lock = OfdLock::open(dir_ / (key + ".lock"));
    BERTH_TRY(lock);
    auto now = lock->try_lock(OfdLock::Kind::kExclusive, 0);
    BERTH_TRY(now);
    if (!*now) {
      if (wait.on_wait) wait.on_wait(lock->holder());
      BERTH_TRY(lock->lock(OfdLock::Kind::kExclusive, 0, wait.deadline, wait.cancel));
    }
    lock->describe_holder(who_);
    return std::make_unique<OfdHeld>(std::move(*lock));
  }

  Result<std::unique_ptr<HeldLock>> try_acquire(const std::string& key) override {
    auto lock = OfdLock::open(dir_ / (key + ".lock"));
    BERTH_TRY(lock);
    auto got = lock->try_lock(OfdLock::Kind::kExclusive, 0);
    BERTH_TRY(got);
    if (!*got) return nullptr;
    return std::make_unique<OfdHeld>(std::move(*lock));
  }

  bool busy(const std::string& key) override {
    auto lock = OfdLock::open(dir_ / (key + ".lock"));
    if (!lock) return false;
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    return ::fcntl(lock->fd(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  }

  std::string name() const override { return "ofd"; }

 private:
  std::filesystem::path dir_;
  std::string who_;
};

}  // namespace

std::unique_ptr<KeyLocks> make_ofd_locks(std::filesystem::path dir, std::string who) {
  return std::make_unique<OfdKeyLocks>(std::move(dir), std::move(who));
}

}  // namespace berth
