// One install lock per cache key, behind an interface so the backend can be chosen per cache:
// OFD locks (the default: released by the kernel when the holder dies) or lease files (for
// filesystems without working locks). The cluster adds an etcd lease backend here.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"

namespace berth {

// A held key lock; destroying it releases the lock.
class HeldLock {
 public:
  virtual ~HeldLock() = default;
  // True once the holder can no longer be sure it is the only one (a lease file that was
  // taken over after a stall). OFD locks are never lost while held.
  virtual bool lost() const = 0;
};

struct LockWait {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancel = nullptr;
  // Called once, before waiting, if the lock is held by someone else; `holder` is what the
  // holder wrote about itself ("host pid 123 ..."), possibly empty.
  std::function<void(const std::string& holder)> on_wait;
};

class KeyLocks {
 public:
  virtual ~KeyLocks() = default;
  // Waits for the key's lock. Errors: lock_timeout, cancelled, lock_failed, io_error.
  virtual Result<std::unique_ptr<HeldLock>> acquire(const std::string& key,
                                                    const LockWait& wait) = 0;
  // Takes it only if free; nullptr when someone holds it.
  virtual Result<std::unique_ptr<HeldLock>> try_acquire(const std::string& key) = 0;
  // Whether someone holds the key's lock right now (a snapshot), without taking it.
  virtual bool busy(const std::string& key) = 0;
  // What this backend is called in config and status ("ofd", "lease-file").
  virtual std::string name() const = 0;
};

struct LeaseTiming {
  std::chrono::milliseconds heartbeat{2000};
  // A lease file whose mtime has not moved for this long (seen by the waiter's own clock, so
  // clock skew between hosts does not matter) is taken over. Must exceed `heartbeat`.
  std::chrono::milliseconds stale{10000};
};

// `dir` holds the lock files; `who` describes this holder to waiters.
std::unique_ptr<KeyLocks> make_ofd_locks(std::filesystem::path dir, std::string who);
std::unique_ptr<KeyLocks> make_lease_locks(std::filesystem::path dir, std::string who,
                                           LeaseTiming timing);

}  // namespace berth
