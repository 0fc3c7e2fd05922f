#include "proc/process_tree.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <set>

#include "core/line_splitter.h"
#include "proc/cgroup.h"
#include "proc/failure_line.h"
#include "proc/marker_matcher.h"
#include "proc/port_check.h"
#include "proc/port_owner.h"
#include "proc/proc_stat.h"

namespace berth {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using asio::use_awaitable;

namespace {
// Enough for a Node stack with its require chain, so the `Error:` line is still in it.
constexpr size_t kTailLines = 40;
// How often gone-ness is re-checked even without a wake-up: members of a plain process group
// that die as children of other members notify nobody.
constexpr auto kGonePoll = 20ms;
// After SIGKILL, keep re-killing this long before declaring a member unkillable (D state).
constexpr auto kKillWait = 30s;
}  // namespace

struct ProcessTree::Matchers {
  std::optional<MarkerMatcher> out_marker, err_marker;
  LineSplitter out_lines, err_lines;
  Matchers(LineSplitter::Sink out, LineSplitter::Sink err)
      : out_lines(std::move(out)), err_lines(std::move(err)) {}
};

ProcessTree::ProcessTree(asio::io_context& io, Reaper& reaper, TreeSpec spec, Hooks hooks)
    : io_(io),
      reaper_(reaper),
      spec_(std::move(spec)),
      hooks_(std::move(hooks)),
      ev_(io.get_executor()) {}

ProcessTree::~ProcessTree() {
  reaper_.remove_listener(listener_id_);
}

Result<std::shared_ptr<ProcessTree>> ProcessTree::start(asio::io_context& io, Reaper& reaper,
                                                        TreeSpec spec, Hooks hooks) {
  std::shared_ptr<ProcessTree> t(new ProcessTree(io, reaper, std::move(spec), std::move(hooks)));
  auto line_sink = [raw = t.get()](Stream stream) {
    return [raw, stream](std::string_view line) {
      raw->tail_.emplace_back(line);
      if (raw->tail_.size() > kTailLines) raw->tail_.pop_front();
      if (raw->hooks_.on_line) raw->hooks_.on_line(stream, line);
    };
  };
  t->matchers_ = std::make_unique<Matchers>(line_sink(Stream::kStdout), line_sink(Stream::kStderr));
  const auto& ready = t->spec_.ready;
  if (ready.marker) {
    auto m = MarkerMatcher::substring(*ready.marker);
    BERTH_TRY(m);
    t->matchers_->out_marker = *m;
    t->matchers_->err_marker = std::move(*m);
  } else if (ready.marker_regex) {
    t->matchers_->out_marker = MarkerMatcher::regex(*ready.marker_regex);
    t->matchers_->err_marker = MarkerMatcher::regex(*ready.marker_regex);
  }

  UniqueFd notify_fd;
  if (ready.notify) {
    notify_fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    // Abstract namespace: no file to clean up, no path length trouble.
    std::string name = t->spec_.notify_socket;
    std::memcpy(sa.sun_path + 1, name.data(), std::min(name.size(), sizeof(sa.sun_path) - 2));
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (!notify_fd || ::bind(notify_fd.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0)
      return fail(Code::kSpawnFailed, errno_message("notify socket", errno));
    t->spec_.spawn.env["NOTIFY_SOCKET"] = "@" + name;
  }

  // [ready] port is the app's own port: held by someone else already, it could only ever
  // answer for that someone (the app itself would die of EADDRINUSE).
  if (ready.port && !port_is_free(t->spec_.address, *ready.port))
    return fail(Code::kPortInUse, port_taken(t->spec_.address, *ready.port));

  auto spawned = spawn_process(t->spec_.spawn);
  BERTH_TRY(spawned);
  t->pid_ = spawned->pid;
  t->pidfd_ = std::move(spawned->pidfd);
  auto st = read_proc_stat(t->pid_);
  t->start_time_ = st ? st->start_time : 0;
  t->spawned_at_ = t->last_output_ = Clock::now();
  std::weak_ptr<ProcessTree> weak = t;
  reaper.watch(t->pid_, [weak](ExitStatus s) {
    if (auto self = weak.lock()) {
      self->main_exit_ = s;
      self->main_exit_at_ = Clock::now();
      self->ev_.notify_all();
    }
  });
  t->listener_id_ = reaper.add_listener([weak] {
    if (auto self = weak.lock()) self->ev_.notify_all();
  });

  t->pumps_open_ = 2;
  asio::co_spawn(io, t->pump(spawned->out.release(), Stream::kStdout), asio::detached);
  asio::co_spawn(io, t->pump(spawned->err.release(), Stream::kStderr), asio::detached);
  if (ready.port) asio::co_spawn(io, t->probe_port(), asio::detached);
  if (notify_fd) asio::co_spawn(io, t->read_notify(notify_fd.release()), asio::detached);
  asio::co_spawn(io, t->supervise(), asio::detached);
  return t;
}

void ProcessTree::on_output(Stream stream, std::string_view chunk) {
  last_output_ = Clock::now();
  auto& m = *matchers_;
  auto& marker = stream == Stream::kStdout ? m.out_marker : m.err_marker;
  if (!ready_ && marker && marker->feed(chunk)) ready_ = true;
  (stream == Stream::kStdout ? m.out_lines : m.err_lines).feed(chunk);
  ev_.notify_all();
}

awaitable<void> ProcessTree::pump(int fd, Stream stream) {
  auto self = shared_from_this();
  asio::posix::stream_descriptor d(io_, fd);
  // Wait for readability, then read into one buffer shared by every pump of this thread and
  // consume it at once: an idle tree holds no read buffer of its own (50 idle trees would
  // otherwise pin 1.6 MiB of buffers).
  static thread_local char buf[65536];
  for (bool open = true; open;) {
    auto [ec] = co_await d.async_wait(asio::posix::descriptor_base::wait_read,
                                      asio::as_tuple(use_awaitable));
    if (ec) break;
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        on_output(stream, std::string_view(buf, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      open = false;  // EOF or a real error
      break;
    }
  }
  (stream == Stream::kStdout ? matchers_->out_lines : matchers_->err_lines).flush();
  --pumps_open_;
  ev_.notify_all();
}

std::string ProcessTree::port_taken(const std::string& address, uint16_t port) {
  auto holder = port_holder(listening_sockets(address, port));
  return fmt::format(
      "port {}:{} ([ready] port) is already in use by {}, so it cannot tell when this app is "
      "ready: stop that process or give the app another port",
      address, port,
      holder ? fmt::format("pid {} ({})", holder->pid, holder->command)
             : std::string("a process berth cannot see"));
}

// A connection proves someone listens; the port counts only when that socket is the tree's own
// (an outsider that took the port after start answers for itself, not for the app).
bool ProcessTree::holds_port() const {
  auto sockets = listening_sockets(spec_.address, *spec_.ready.port);
  return sockets.empty() || holds_any(members(), sockets);
}

awaitable<void> ProcessTree::probe_port() {
  using namespace asio::experimental::awaitable_operators;
  auto self = shared_from_this();
  asio::ip::tcp::endpoint ep(asio::ip::make_address(spec_.address), *spec_.ready.port);
  asio::steady_timer pause(io_);
  while (!ready_ && !main_exit_ && !stop_requested_) {
    asio::ip::tcp::socket sock(io_);
    asio::steady_timer limit(io_, 1s);
    auto result = co_await (sock.async_connect(ep, asio::as_tuple(use_awaitable)) ||
                            limit.async_wait(asio::as_tuple(use_awaitable)));
    if (result.index() == 0 && !std::get<0>(std::get<0>(result)) && holds_port()) {
      ready_ = true;
      ev_.notify_all();
      break;
    }
    pause.expires_after(50ms);
    co_await pause.async_wait(asio::as_tuple(use_awaitable));
  }
}

awaitable<void> ProcessTree::read_notify(int fd) {
  auto self = shared_from_this();
  asio::posix::stream_descriptor d(io_, fd);
  char buf[4096];
  while (!main_exit_ && !ended_) {
    auto [ec] = co_await d.async_wait(asio::posix::descriptor_base::wait_read,
                                      asio::as_tuple(use_awaitable));
    if (ec) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) continue;
    std::string_view msg(buf, static_cast<size_t>(n));
    size_t start = 0;
    while (start < msg.size()) {
      size_t nl = msg.find('\n', start);
      auto line =
          msg.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
      if (line == "READY=1" && !ready_) {
        ready_ = true;
        ev_.notify_all();
      }
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
    if (ready_) break;
  }
}

bool ProcessTree::tree_gone() const {
  if (!main_exit_) return false;
  if (spec_.spawn.cgroup) {
    if (cgroup::populated(*spec_.spawn.cgroup)) return false;
    // A pidfd polls readable once its process has exited (a zombie or reaped).
    for (const auto& [pid, fd] : ending_) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) == 0) return false;
    }
    return true;
  }
  // A process group with only zombies left still answers kill(): gone means reaped.
  return ::kill(-pid_, 0) != 0 && errno == ESRCH;
}

void ProcessTree::track_members() {
  if (!spec_.spawn.cgroup) return;
  for (pid_t p : cgroup::procs(*spec_.spawn.cgroup)) {
    if (ending_.contains(p)) continue;
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, p, 0)));
    if (fd) ending_.emplace(p, std::move(fd));
  }
}

std::vector<pid_t> ProcessTree::members() const {
  if (spec_.spawn.cgroup) return cgroup::procs(*spec_.spawn.cgroup);
  return pgroup_members(pid_);
}

void ProcessTree::send_signal(int sig, bool leader_only) {
  if (ended_) return;
  if (!leader_only) return signal_tree(sig);
  if (!main_exit_ && pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
}

void ProcessTree::signal_tree(int sig) {
  if (spec_.spawn.cgroup) {
    track_members();  // before cgroup.kill empties cgroup.procs
    const auto members = cgroup::procs(*spec_.spawn.cgroup);
    const bool leader_inside = std::find(members.begin(), members.end(), pid_) != members.end();
    if (sig == SIGKILL)
      cgroup::kill_all(*spec_.spawn.cgroup);
    else
      cgroup::signal_all(*spec_.spawn.cgroup, sig);
    // A leader that left the cgroup is still ours to signal; one inside got it already (a
    // second SIGHUP or SIGUSR1 would be a second reload).
    if (!main_exit_ && pidfd_ && (!leader_inside || sig == SIGKILL))
      ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
    return;
  }
  // The group id is our leader's PID. While the leader is unreaped, or any member lives, the
  // kernel will not hand that number to a new group, so signalling the group is safe. Once the
  // leader is reaped, a process *named* by that PID can only be a stranger: then our group is
  // empty and must not be signalled.
  if (main_exit_ && ::kill(pid_, 0) == 0) return;
  // Unexited and unreaped, the leader's pid is still its own: it left its group only if
  // its group id changed (then the group signal missed it).
  const bool leader_in_group = !main_exit_ && ::getpgid(pid_) == pid_;
  ::kill(-pid_, sig);
  if (!main_exit_ && pidfd_ && (!leader_in_group || sig == SIGKILL))
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
}

awaitable<bool> ProcessTree::wait_gone(Clock::time_point deadline) {
  for (;;) {
    track_members();
    if (tree_gone()) co_return true;
    auto now = Clock::now();
    if (now >= deadline) co_return false;
    const std::function<bool()> gone = [this] { return tree_gone(); };
    co_await ev_.wait_until(gone, std::min(deadline, now + kGonePoll));
  }
}

std::vector<UniqueFd> ProcessTree::escapees() const {
  std::vector<UniqueFd> out;
  if (!spec_.spawn.cgroup) return out;
  auto in_cgroup = members();
  std::set<pid_t> inside(in_cgroup.begin(), in_cgroup.end());
  for (pid_t p : family_of(pid_, pid_, start_time_)) {
    if (inside.contains(p) || (p == pid_ && main_exit_)) continue;
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, p, 0)));
    if (fd) out.push_back(std::move(fd));
  }
  return out;
}

awaitable<bool> ProcessTree::terminate(bool graceful) {
  if (graceful) {
    signal_tree(spec_.stop.signal);
    // Stopped (SIGSTOP'd) members cannot act on the signal until continued.
    if (spec_.stop.signal != SIGKILL) signal_tree(SIGCONT);
    if (co_await wait_gone(Clock::now() + spec_.stop.grace)) co_return false;
  }
  auto give_up = Clock::now() + kKillWait;
  for (;;) {
    signal_tree(SIGKILL);
    if (co_await wait_gone(std::min(give_up, Clock::now() + 1s))) co_return true;
    if (Clock::now() >= give_up) {
      spdlog::error("{}: tree members survive SIGKILL for {}s (uninterruptible sleep?)",
                    spec_.label,
                    std::chrono::duration_cast<std::chrono::seconds>(kKillWait).count());
      co_return true;
    }
  }
}

awaitable<void> ProcessTree::supervise() {
  auto self = shared_from_this();
  const auto& ready = spec_.ready;
  const bool settle_mode = !ready.has_condition();
  const auto cap = spawned_at_ + ready.max;
  TreeEnd end;
  if (spec_.run_to_exit) ready_ = true;

  // Startup: wait for ready, exit, a stop request, idle expiry or the absolute cap.
  const std::function<bool()> decided = [this] {
    return ready_ || main_exit_.has_value() || stop_requested_ || aborted_;
  };
  for (;;) {
    if (aborted_) {
      end.startup_failure = aborted_;
      break;
    }
    if (decided()) break;
    auto now = Clock::now();
    auto quiet_limit = last_output_ + (settle_mode ? ready.settle : ready.idle_timeout);
    if (settle_mode && now >= quiet_limit) {
      ready_ = true;
      break;
    }
    if (!settle_mode && now >= quiet_limit) {
      end.startup_failure =
          Error{Code::kStartupIdleTimeout,
                fmt::format("no output and not ready for {}", format_duration(ready.idle_timeout))};
      break;
    }
    if (now >= cap) {
      end.startup_failure = Error{Code::kStartupMaxExceeded,
                                  fmt::format("not ready within {}", format_duration(ready.max))};
      break;
    }
    co_await ev_.wait_until(decided, std::min(quiet_limit, cap));
  }
  if (!end.startup_failure && !ready_ && main_exit_ && !stop_requested_) {
    // Output written just before exit may still be in the pipes and may hold the marker.
    const std::function<bool()> drained_or_ready = [this] { return pumps_open_ == 0 || ready_; };
    co_await ev_.wait_until(drained_or_ready, Clock::now() + 1s);
    if (!ready_)
      end.startup_failure =
          Error{Code::kExitedBeforeReady, "exited before ready: " + main_exit_->describe()};
  }

  end.reached_ready = ready_ && !end.startup_failure;
  if (end.reached_ready && !main_exit_ && !stop_requested_) {
    if (hooks_.on_ready) hooks_.on_ready();
    const std::function<bool()> exited_or_stopping = [this] {
      return main_exit_.has_value() || stop_requested_;
    };
    co_await ev_.wait_until(exited_or_stopping, Clock::time_point::max());
  }

  // End: a startup failure kills at once; a stop or an exited leader ends the rest gracefully.
  end.stop_requested = stop_requested_;
  // Members that moved themselves out of the tree's cgroup (root may) are not reached by
  // cgroup.kill and do not keep it populated: find them by group and parentage, and end them
  // by pidfd (no PID-reuse risk) with the rest.
  auto escaped = escapees();
  for (auto& fd : escaped)
    ::syscall(SYS_pidfd_send_signal, fd.get(), spec_.stop.signal, nullptr, 0);
  track_members();
  if (!tree_gone()) {
    bool graceful = !end.startup_failure;
    bool needed_kill = co_await terminate(graceful);
    end.killed_after_grace = graceful && needed_kill;
  }
  for (auto& fd : escaped) ::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0);
  // Every member is dead, so every write end of the pipes is closed: drain what is left.
  const std::function<bool()> drained = [this] { return pumps_open_ == 0; };
  co_await ev_.wait_until(drained, Clock::now() + 2s);
  end.status = main_exit_.value_or(ExitStatus{});
  end.ran = std::chrono::duration_cast<std::chrono::milliseconds>(
      (main_exit_ ? main_exit_at_ : Clock::now()) - spawned_at_);
  if (end.startup_failure || end.status.code != 0 || end.status.signal != 0) {
    end.tail.assign(tail_.begin(), tail_.end());
    end.summary = failure_summary(tail_);
    if (end.startup_failure && end.startup_failure->code == Code::kExitedBeforeReady &&
        !end.summary.empty())
      end.startup_failure->message += "; " + end.summary;
  }
  if (!escaped.empty())
    end.warnings.push_back(fmt::format(
        "{} process(es) had left the tree's cgroup (a process running as root can move itself "
        "out); berth found them by process group and parentage and killed them",
        escaped.size()));
  if (ready.port && !port_is_free(spec_.address, *ready.port))
    end.warnings.push_back(
        fmt::format("port {}:{} is still taken after the tree was stopped: something "
                    "escaped the tree",
                    spec_.address, *ready.port));
  if (spec_.spawn.cgroup) {
    end.oom_killed = cgroup::oom_kills(*spec_.spawn.cgroup) > 0;
    (void)cgroup::remove(*spec_.spawn.cgroup);
  }
  if (stop_requested_) {
    using std::chrono::microseconds, std::chrono::duration_cast;
    end.stop_to_gone = duration_cast<microseconds>(Clock::now() - stop_requested_at_);
    if (main_exit_ && main_exit_at_ >= stop_requested_at_)
      end.stop_to_exit = duration_cast<microseconds>(main_exit_at_ - stop_requested_at_);
  }
  ended_ = true;
  if (hooks_.on_end) hooks_.on_end(end);
  ev_.notify_all();
}

void ProcessTree::abort(Error why) {
  if (aborted_ || ready_ || ended_) return;
  aborted_ = std::move(why);
  ev_.notify_all();
}

void ProcessTree::request_stop() {
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_requested_at_ = Clock::now();
  ev_.notify_all();
}

awaitable<void> ProcessTree::wait_ended() {
  auto self = shared_from_this();
  const std::function<bool()> ended = [this] { return ended_; };
  co_await ev_.wait_until(ended, Clock::time_point::max());
}

}  // namespace berth
