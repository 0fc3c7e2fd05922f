#include "proc/cgroup.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <sstream>

#include "core/fs_util.h"
#include "core/unique_fd.h"

namespace berth {
namespace fs = std::filesystem;

namespace {

std::optional<fs::path> cgroup2_mount() {
  auto text = read_file("/proc/self/mountinfo");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    // "... mount_point options - fstype source super_options"
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, mount;
    head >> id >> parent >> devno >> root >> mount;
    return fs::path(mount);
  }
  return std::nullopt;
}

// The daemon's own group in the v2 hierarchy: the "0::/path" line of /proc/self/cgroup.
std::string own_cgroup() {
  auto text = read_file("/proc/self/cgroup");
  if (!text) return "/";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return "/";
}

bool write_text(const fs::path& p, const std::string& s) {
  UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return false;
  return ::write(fd.get(), s.data(), s.size()) == static_cast<ssize_t>(s.size());
}

}  // namespace

std::optional<CgroupBase> detect_cgroup_base(const std::string& base_name, std::string& why) {
  auto mount = cgroup2_mount();
  if (!mount) {
    why = "no cgroup2 filesystem is mounted";
    return std::nullopt;
  }
  std::string own = own_cgroup();
  // An own group of "/" under a hybrid mount means the root of the unified hierarchy.
  fs::path parent = *mount / fs::path(own).relative_path();
  std::error_code ec;
  if (!fs::exists(parent / "cgroup.procs", ec)) {
    why = "own cgroup " + parent.string() + " is not visible";
    return std::nullopt;
  }
  fs::path base = parent / base_name;
  if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
    why = errno_message("mkdir " + base.string(), errno);
    return std::nullopt;
  }
  fs::path probe = base / ("probe-" + std::to_string(::getpid()));
  if (::mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) {
    why = errno_message("mkdir " + probe.string(), errno);
    return std::nullopt;
  }
  // Moving a process needs write access to cgroup.procs of the target (and the common parent).
  bool writable = ::access((probe / "cgroup.procs").c_str(), W_OK) == 0;
  ::rmdir(probe.c_str());
  if (!writable) {
    why = "cannot write " + (probe / "cgroup.procs").string();
    return std::nullopt;
  }
  CgroupBase found{base, std::nullopt};
  if (own != "/") {
    fs::path leaf = parent / (base_name + ".daemon");
    if ((::mkdir(leaf.c_str(), 0755) == 0 || errno == EEXIST) &&
        write_text(leaf / "cgroup.procs", "0"))
      found.leaf = leaf;
    else
      ::rmdir(leaf.c_str());  // not ours to move (no delegation): stay where it started
  }
  return found;
}

void leave_leaf(const CgroupBase& base) {
  if (!base.leaf) return;
  if (write_text(base.leaf->parent_path() / "cgroup.procs", "0")) ::rmdir(base.leaf->c_str());
}

namespace cgroup {

Result<void> create(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(Code::kCgroupError, errno_message("mkdir " + dir.string(), errno));
  return {};
}

std::vector<pid_t> procs(const fs::path& dir) {
  std::vector<pid_t> out;
  auto text = read_file(dir / "cgroup.procs");
  if (!text) return out;
  std::istringstream in(*text);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

bool populated(const fs::path& dir) {
  auto text = read_file(dir / "cgroup.events");
  if (!text) return false;
  auto pos = text->find("populated ");
  return pos != std::string::npos && (*text)[pos + 10] == '1';
}

void signal_all(const fs::path& dir, int sig) {
  for (pid_t p : procs(dir)) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, p, 0)));
    if (!pidfd) continue;
    // With the pidfd held, the PID cannot be recycled; confirm it is still a member.
    auto cg = read_file("/proc/" + std::to_string(p) + "/cgroup");
    if (!cg || cg->find(dir.filename().string()) == std::string::npos) continue;
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0);
  }
}

void kill_all(const fs::path& dir) {
  if (!write_text(dir / "cgroup.kill", "1")) signal_all(dir, SIGKILL);
}

Result<void> remove(const fs::path& dir) {
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return fail(Code::kCgroupError, errno_message("rmdir " + dir.string(), errno));
  return {};
}

std::optional<uint64_t> cpu_usec(const fs::path& dir) {
  auto text = read_file(dir / "cpu.stat");
  if (!text) return std::nullopt;
  auto pos = text->find("usage_usec ");
  if (pos == std::string::npos) return std::nullopt;
  uint64_t v = 0;
  const char* b = text->data() + pos + 11;
  auto r = std::from_chars(b, text->data() + text->size(), v);
  if (r.ec != std::errc()) return std::nullopt;
  return v;
}

std::vector<std::string> controllers(const fs::path& dir) {
  std::vector<std::string> out;
  auto text = read_file(dir / "cgroup.controllers");
  if (!text) return out;
  std::istringstream in(*text);
  for (std::string c; in >> c;) out.push_back(c);
  return out;
}

namespace {
std::vector<std::string> needed(const LimitsSpec& limits) {
  std::vector<std::string> out;
  if (limits.memory) out.push_back("memory");
  if (limits.cpu) out.push_back("cpu");
  if (limits.pids) out.push_back("pids");
  return out;
}
}  // namespace

Result<void> enable_for(const fs::path& base, const LimitsSpec& limits) {
  // The group the daemon started in hands them down once it holds no process (the leaf).
  for (const auto& c : needed(limits)) {
    auto now = controllers(base);
    if (std::find(now.begin(), now.end(), c) == now.end())
      (void)write_text(base.parent_path() / "cgroup.subtree_control", "+" + c);
  }
  const auto have = controllers(base);
  const auto on = read_file(base / "cgroup.subtree_control").value_or("");
  for (const auto& c : needed(limits)) {
    if (std::find(have.begin(), have.end(), c) == have.end())
      return fail(Code::kLimitsUnavailable,
                  fmt::format("[limits] needs the cgroup v2 {} controller, which berth's group {} "
                              "is not given (it has: {}); enable it in {}/cgroup.subtree_control, "
                              "or run the daemon under systemd with Delegate=yes",
                              c, base.string(),
                              have.empty() ? "none" : fmt::format("{}", fmt::join(have, " ")),
                              base.parent_path().string()));
    if (on.find(c) != std::string::npos) continue;
    if (!write_text(base / "cgroup.subtree_control", "+" + c))
      return fail(Code::kLimitsUnavailable,
                  errno_message(fmt::format("[limits] cannot enable the {} controller in {}", c,
                                            (base / "cgroup.subtree_control").string()),
                                errno));
  }
  return {};
}

Result<void> apply_limits(const fs::path& dir, const LimitsSpec& limits) {
  std::vector<std::pair<std::string, std::string>> files;
  if (limits.memory) {
    files.emplace_back("memory.max", std::to_string(*limits.memory));
    // Swap would let a hog outlive its limit, slowly: the limit is on memory, not RAM.
    files.emplace_back("memory.swap.max", "0");
  }
  if (limits.cpu)
    files.emplace_back("cpu.max",
                       fmt::format("{} 100000", static_cast<uint64_t>(*limits.cpu * 100000)));
  if (limits.pids) files.emplace_back("pids.max", std::to_string(*limits.pids));
  for (const auto& [file, value] : files) {
    std::error_code ec;
    // memory.swap.max is absent without swap accounting: nothing to limit then.
    if (file == "memory.swap.max" && !fs::exists(dir / file, ec)) continue;
    if (!write_text(dir / file, value))
      return fail(
          Code::kLimitsUnavailable,
          errno_message(fmt::format("[limits] cannot write {} to {}", value, (dir / file).string()),
                        errno));
  }
  return {};
}

uint64_t oom_kills(const fs::path& dir) {
  auto text = read_file(dir / "memory.events");
  if (!text) return 0;
  auto pos = text->find("oom_kill ");
  if (pos == std::string::npos) return 0;
  uint64_t v = 0;
  std::from_chars(text->data() + pos + 9, text->data() + text->size(), v);
  return v;
}

}  // namespace cgroup
}  // namespace berth
