#include "proc/proc_stat.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "core/fs_util.h"

namespace berth {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses: parse from the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  ProcStat s;
  s.pid = pid;
  const char* p = text->c_str() + close + 2;
  // Fields 3.. : state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss
  unsigned long long fields[22] = {};
  char state = '?';
  if (std::sscanf(p, "%c", &state) != 1) return std::nullopt;
  p += 2;
  for (int i = 4; i <= 24; ++i) {
    char* end = nullptr;
    fields[i - 4] = std::strtoull(p, &end, 10);
    if (end == p) return std::nullopt;
    p = end;
    while (*p == ' ') ++p;
    if (i == 24) break;
  }
  s.state = state;
  s.ppid = static_cast<pid_t>(fields[0]);
  s.pgrp = static_cast<pid_t>(fields[1]);
  s.session = static_cast<pid_t>(fields[2]);
  s.start_time = fields[22 - 4];
  s.rss_pages = fields[24 - 4];
  s.cpu_ticks = fields[14 - 4] + fields[15 - 4] + fields[16 - 4] + fields[17 - 4];
  return s;
}

std::vector<pid_t> pgroup_members(pid_t pgid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    auto st = read_proc_stat(pid);
    if (st && st->pgrp == pgid && st->state != 'Z') out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

std::vector<pid_t> family_of(pid_t root, pid_t pgid, uint64_t not_before) {
  std::vector<ProcStat> all;
  if (DIR* d = ::opendir("/proc")) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      auto st = read_proc_stat(static_cast<pid_t>(std::atoi(e->d_name)));
      if (st && st->state != 'Z' && st->start_time >= not_before) all.push_back(*st);
    }
    ::closedir(d);
  }
  std::set<pid_t> in;
  for (auto& st : all)
    if (st.pid == root || st.pgrp == pgid) in.insert(st.pid);
  for (bool grew = true; grew;) {  // children of members are members, to a fixed point
    grew = false;
    for (auto& st : all)
      if (!in.contains(st.pid) && in.contains(st.ppid)) grew = in.insert(st.pid).second;
  }
  return {in.begin(), in.end()};
}

uint64_t rss_bytes(const std::vector<pid_t>& pids) {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t total = 0;
  for (pid_t p : pids)
    if (auto st = read_proc_stat(p)) total += st->rss_pages * page;
  return total;
}

uint64_t cpu_usec(const std::vector<pid_t>& pids) {
  static const uint64_t hz = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  uint64_t ticks = 0;
  for (pid_t p : pids)
    if (auto st = read_proc_stat(p)) ticks += st->cpu_ticks;
  return ticks * 1'000'000 / hz;
}

}  // namespace berth
