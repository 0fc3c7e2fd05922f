// A lock file with open-file-description (OFD) byte-range locks. The kernel ties each lock to
// this object's open file description, so it is released the moment the holder closes it or
// dies, SIGKILL included; the fd is O_CLOEXEC so no child can keep it alive. Lock files are
// never unlinked: two holders of two inodes of "the same" lock would both believe they hold it.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth {

class OfdLock {
 public:
  enum class Kind { kExclusive, kShared };
  using Deadline = std::chrono::steady_clock::time_point;

  // Opens (creating, mode 0644) the lock file. Takes no lock.
  static Result<OfdLock> open(const std::filesystem::path& path);

  // Takes the lock on one byte of the file without waiting. false: another open file
  // description holds a conflicting lock.
  Result<bool> try_lock(Kind kind, off_t byte);
  // Waits for the lock. Ends with `lock_timeout` past `deadline`, or `cancelled` once
  // `*cancel` is set (both noticed within kWakeEvery); the lock itself is granted by the
  // kernel the moment it is free. Blocks the calling thread.
  Result<void> lock(Kind kind, off_t byte, Deadline deadline,
                    const std::atomic<bool>* cancel = nullptr);
  void unlock(off_t byte);

  // Who holds it, as written by the holder with `describe_holder` (best effort, may be stale).
  std::string holder() const;
  void describe_holder(const std::string& who);
  const std::filesystem::path& path() const { return path_; }
  int fd() const { return fd_.get(); }

  static constexpr std::chrono::milliseconds kWakeEvery{20};

 private:
  OfdLock(UniqueFd fd, std::filesystem::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::filesystem::path path_;
};

}  // namespace berth
