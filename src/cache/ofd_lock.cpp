#include "cache/ofd_lock.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mutex>

namespace berth {

namespace {

// F_OFD_SETLKW has no timeout. A waiting thread asks for a thread-directed timer signal every
// kWakeEvery; its handler does nothing and is installed without SA_RESTART, so the wait returns
// EINTR and the loop can look at the deadline and the cancel flag. The handler is process-wide
// state by nature (a signal disposition), installed once; the signal is otherwise unused.
int wake_signal() {
  return SIGRTMIN + 1;
}

void install_wake_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(wake_signal(), &sa, nullptr);
  });
}

// A periodic timer signalling this thread, for the duration of one wait.
class WakeTimer {
 public:
  WakeTimer() {
    install_wake_handler();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, wake_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &set, &old_mask_);
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = wake_signal();
    sev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (::timer_create(CLOCK_MONOTONIC, &sev, &timer_) != 0) return;
    armed_ = true;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(OfdLock::kWakeEvery).count();
    itimerspec its{};
    its.it_interval.tv_nsec = its.it_value.tv_nsec = ns;
    ::timer_settime(timer_, 0, &its, nullptr);
  }
  ~WakeTimer() {
    if (armed_) ::timer_delete(timer_);
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  WakeTimer(const WakeTimer&) = delete;
  WakeTimer& operator=(const WakeTimer&) = delete;
  bool armed() const { return armed_; }

 private:
  timer_t timer_{};
  bool armed_ = false;
  sigset_t old_mask_{};
};

struct flock range(short type, off_t byte) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  return fl;
}

short type_of(OfdLock::Kind k) {
  return k == OfdLock::Kind::kExclusive ? F_WRLCK : F_RDLCK;
}

}  // namespace

Result<OfdLock> OfdLock::open(const std::filesystem::path& path) {
  // Lock files outlive their users, so the plain open nearly always succeeds; an O_CREAT open
  // of an existing file costs measurably more on overlay filesystems.
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd && errno == ENOENT) fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return fail(Code::kIoError, errno_message("open lock file " + path.string(), errno));
  return OfdLock(std::move(fd), path);
}

Result<bool> OfdLock::try_lock(Kind kind, off_t byte) {
  auto fl = range(type_of(kind), byte);
  if (::fcntl(fd_.get(), F_OFD_SETLK, &fl) == 0) return true;
  if (errno == EAGAIN || errno == EACCES) return false;
  return fail(Code::kLockFailed, errno_message("lock " + path_.string(), errno));
}

Result<void> OfdLock::lock(Kind kind, off_t byte, Deadline deadline,
                           const std::atomic<bool>* cancel) {
  auto now = try_lock(kind, byte);
  BERTH_TRY(now);
  if (*now) return {};
  WakeTimer wake;
  if (!wake.armed()) return fail(Code::kLockFailed, errno_message("timer_create", errno));
  auto fl = range(type_of(kind), byte);
  for (;;) {
    if (cancel && cancel->load())
      return fail(Code::kCancelled, "stopped waiting for " + path_.string());
    if (std::chrono::steady_clock::now() >= deadline)
      return fail(Code::kLockTimeout, "timed out waiting for " + path_.string());
    if (::fcntl(fd_.get(), F_OFD_SETLKW, &fl) == 0) return {};
    if (errno != EINTR)
      return fail(Code::kLockFailed, errno_message("lock " + path_.string(), errno));
  }
}

void OfdLock::unlock(off_t byte) {
  auto fl = range(F_UNLCK, byte);
  ::fcntl(fd_.get(), F_OFD_SETLK, &fl);
}

std::string OfdLock::holder() const {
  char buf[512];
  ssize_t n = ::pread(fd_.get(), buf, sizeof buf, 0);
  if (n <= 0) return {};
  std::string s(buf, static_cast<size_t>(n));
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

void OfdLock::describe_holder(const std::string& who) {
  // Readers stop at the first newline, so a longer note left by an earlier holder needs no
  // truncation: one write per acquisition.
  std::string line = who + "\n";
  (void)!::pwrite(fd_.get(), line.data(), line.size(), 0);
}

}  // namespace berth
