#include "proc/spawn.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "core/failpoint.h"

extern char** environ;

namespace berth {
namespace {

// Only async-signal-safe calls between fork and exec: the daemon has threads.
[[noreturn]] void child_fail(int errfd, int stage) {
  int payload[2] = {stage, errno};
  (void)!::write(errfd, payload, sizeof payload);
  ::_exit(127);
}

// fork(), born inside the cgroup `cgroup_dir` when the kernel can (clone3 with
// CLONE_INTO_CGROUP, Linux 5.7+): moving a running process into a cgroup instead takes the
// kernel's global cgroup lock and an RCU grace period, milliseconds during which the parent
// waits for the child's exec, and far more when several daemons spawn at once. `*inside` says
// which happened; the child then joins by hand if it must.
pid_t fork_into(int cgroup_dir, bool* inside) {
  *inside = false;
  if (cgroup_dir >= 0) {
    clone_args args{};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup_dir);
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    if (r >= 0) {
      *inside = true;
      return static_cast<pid_t>(r);
    }
    // ENOSYS, E2BIG (an older kernel), EPERM under some seccomp filters: the old way.
  }
  return ::fork();
}

}  // namespace

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Result<Spawned> spawn_process(const SpawnSpec& spec) {
  if (spec.argv.empty()) return fail(Code::kSpawnFailed, "empty command");
  // Everything the child needs is prepared before fork.
  std::vector<std::string> env_strings;
  for (auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // LISTEN_PID is the child's pid, known only after fork: written into this buffer there.
  std::string listen_pid(40, '\0');
  const int nfds = static_cast<int>(spec.listen_fds.size());
  if (nfds > 0) {
    std::erase_if(env_strings, [](const std::string& e) { return e.starts_with("LISTEN_"); });
    env_strings.push_back("LISTEN_FDS=" + std::to_string(nfds));
    if (!spec.listen_names.empty()) env_strings.push_back("LISTEN_FDNAMES=" + spec.listen_names);
    std::memcpy(listen_pid.data(), "LISTEN_PID=", 11);
  }
  for (auto& e : env_strings) envp.push_back(e.data());
  if (nfds > 0) envp.push_back(listen_pid.data());
  envp.push_back(nullptr);
  std::string cwd = spec.cwd.string();
  std::string procs_path = spec.cgroup ? (*spec.cgroup / "cgroup.procs").string() : std::string();

  int out[2], err[2], status[2];
  if (BERTH_FAIL("proc.spawn") || ::pipe2(out, O_CLOEXEC) != 0)
    return fail(Code::kSpawnFailed, errno_message("pipe", errno));
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return fail(Code::kSpawnFailed, errno_message("pipe", errno));
  UniqueFd err_r(err[0]), err_w(err[1]);
  if (::pipe2(status, O_CLOEXEC) != 0)
    return fail(Code::kSpawnFailed, errno_message("pipe", errno));
  UniqueFd st_r(status[0]), st_w(status[1]);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  UniqueFd null_fd(devnull);

  UniqueFd cgroup_dir;
  if (spec.cgroup)
    cgroup_dir.reset(::open(spec.cgroup->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  bool inside = false;
  pid_t pid = fork_into(cgroup_dir ? cgroup_dir.get() : -1, &inside);
  if (pid < 0) return fail(Code::kSpawnFailed, errno_message("fork", errno));
  if (pid == 0) {
    int sfd = st_w.get();
    // Join the cgroup first: anything forked from here on is born inside it.
    if (!procs_path.empty() && !inside) {
      int cfd = ::open(procs_path.c_str(), O_WRONLY | O_CLOEXEC);
      if (cfd < 0 || ::write(cfd, "0", 1) != 1) child_fail(sfd, 1);
      ::close(cfd);
    }
    if (::setsid() < 0) child_fail(sfd, 2);
    // Undo what the daemon set up for itself: ignored SIGPIPE and a blocked mask are inherited.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s)
      if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    if (::dup2(null_fd.get(), 0) < 0 || ::dup2(out_w.get(), 1) < 0 || ::dup2(err_w.get(), 2) < 0)
      child_fail(sfd, 3);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) child_fail(sfd, 4);
    if (nfds > 0) {
      // Out of the way first (a source may sit where another one goes), then into 3, 4, ...;
      // dup2 clears CLOEXEC on the copies.
      int moved[16];
      if (nfds > 16) child_fail(sfd, 3);
      for (int i = 0; i < nfds; ++i)
        if ((moved[i] =
                 ::fcntl(spec.listen_fds[static_cast<size_t>(i)], F_DUPFD_CLOEXEC, 3 + nfds)) < 0)
          child_fail(sfd, 3);
      for (int i = 0; i < nfds; ++i)
        if (::dup2(moved[i], 3 + i) < 0) child_fail(sfd, 3);
      char digits[16];
      int n = 0;
      for (unsigned v = static_cast<unsigned>(::getpid()); v; v /= 10)
        digits[n++] = char('0' + v % 10);
      for (int i = 0; i < n; ++i) listen_pid[11 + static_cast<size_t>(i)] = digits[n - 1 - i];
    }
    // Asio opens its sockets without CLOEXEC; no daemon fd (listener, database, home lock)
    // may leak into a component.
    ::close_range(3 + static_cast<unsigned>(nfds), ~0U, CLOSE_RANGE_CLOEXEC);
    ::execvpe(argv[0], argv.data(), envp.data());
    child_fail(sfd, 5);
  }
  st_w.reset();
  out_w.reset();
  err_w.reset();
  int payload[2] = {0, 0};
  ssize_t n;
  do n = ::read(st_r.get(), payload, sizeof payload);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    // The child is a zombie (or about to be); the Reaper collects it.
    static constexpr const char* kStage[] = {"",         "join cgroup", "setsid", "set up stdio",
                                             "chdir to", "exec"};
    std::string what = kStage[payload[0] >= 1 && payload[0] <= 5 ? payload[0] : 5];
    if (payload[0] == 4) what += " " + cwd;
    if (payload[0] == 5) what += " " + spec.argv[0];
    return fail(Code::kSpawnFailed, fmt::format("cannot {}: {}", what, std::strerror(payload[1])));
  }
  Spawned s;
  s.pid = pid;
  s.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  s.out = std::move(out_r);
  s.err = std::move(err_r);
  return s;
}

}  // namespace berth
