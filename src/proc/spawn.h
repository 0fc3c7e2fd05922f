// Starts one process as the leader of a new session (and so of a new process group), optionally
// inside a cgroup it joins before exec and holding inherited listening sockets, with
// stdout/stderr on pipes and a pidfd held.
// Exec failures are reported synchronously through a CLOEXEC error pipe.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth {

struct SpawnSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // the complete environment of the child
  std::filesystem::path cwd;
  std::optional<std::filesystem::path> cgroup;  // joined before exec, so no fork escapes it
  // Sockets handed over as fds 3, 4, ... with systemd's socket-activation variables
  // LISTEN_FDS, LISTEN_PID (the child's own pid) and LISTEN_FDNAMES (`listen_names`).
  std::vector<int> listen_fds;
  std::string listen_names;
};

struct Spawned {
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd out;  // read ends, non-blocking
  UniqueFd err;
};

// Contract: the caller reaps the child (the daemon's Reaper does).
Result<Spawned> spawn_process(const SpawnSpec& spec);

// The daemon's environment as a map, the base that component env is layered on.
std::map<std::string, std::string> current_environment();

}  // namespace berth
