// What berth's HTTP API needs from the daemon, and nothing more: the resources in api/ are
// written against these interfaces, the host implements them (host/api_backend). Plain data
// comes up, the JSON is built in api/. Everything runs on the event-loop thread.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/schema.h"
#include "config/environment.h"
#include "core/error.h"
#include "proc/log_sink.h"

namespace berth {
class Deployer;
class InstallCache;
namespace cluster {
class Node;
}
}  // namespace berth

namespace berth::api {

// What one run of a process tree shows: an instance's own, and a component's (instance 0's,
// with processes, memory, CPU and warnings summed over every instance).
struct RunStatus {
  int64_t started_at_ms = 0;  // when the run started last began (0: never started)
  std::string address;
  std::optional<int> pid;
  size_t processes = 0;
  uint64_t memory_bytes = 0;
  // CPU time of the run so far, and its use as a percentage of one core since the status
  // asked for before (over the whole run the first time).
  double cpu_seconds = 0, cpu_percent = 0;
  int64_t uptime_ms = 0;
  std::optional<std::filesystem::path> cgroup;
  std::optional<int64_t> restart_in_ms;
  struct Exit {
    int code = -1;
    std::optional<std::string> signal;
    std::string description;
    std::optional<std::string> reason;  // "oom": the OOM killer ended it ([limits] memory)
  };
  std::optional<Exit> last_exit;
  std::optional<Error> last_error;
  std::vector<std::string> last_error_tail;
  std::vector<std::string> warnings;
  std::optional<std::pair<int64_t, int64_t>> last_stop_us;  // to leader exit, to tree gone
  // [health]: the serving run's state ("starting" until a check passed, "healthy",
  // "unhealthy"), its failures in a row, its last results (newest last), and how often
  // failed checks restarted it.
  struct Health {
    struct Check {
      int64_t at_ms = 0;
      bool ok = false;
      std::string message;
    };
    std::string kind, state = "starting";
    int failures = 0;
    std::vector<Check> last;
    int unhealthy_restarts = 0;
  };
  std::optional<Health> health;
  std::optional<int> replacement_pid;  // an overlapped restart's new tree, not yet ready
  std::vector<int> draining_pids;      // trees it replaced, told to stop, not yet gone
};

// One instance of a component (`[run] instances`, `berth scale`).
struct InstanceStatus : RunStatus {
  int index = 0;
  std::string state;
};

// A component's state as `GET /v1/components/{name}` shows it (docs/api.md).
struct ComponentStatus : RunStatus {
  std::string name, dir;
  std::string state;  // stopped, starting, ready, ..., or destroy_failed
  std::optional<Error> destroy_error;
  int restarts = 0;
  int watch_restarts = 0;  // of those, restarts after a watched change
  bool cgroup_isolation = false;
  struct Watch {
    std::string mode, reason;
    size_t watches = 0;
    std::optional<std::pair<std::string, int64_t>> last_change;  // path, ms since the epoch
  };
  std::optional<Watch> watch;
  std::string restart_policy;
  // The environment the run started last got: each variable's value (shown masked where it
  // looks secret, see config/environment.h) and where it came from.
  struct EnvEntry {
    std::string name, value, source;
  };
  std::vector<EnvEntry> env;
  std::string profile;               // --profile chosen, "" for none
  std::string log_file;              // the live output log
  std::vector<std::string> command;  // the argv it runs
  std::string inferred;  // without berth.toml: where its command came from (config/infer.h)
  std::optional<std::string> release;  // the live release of a deployed component
  // In a cluster: deployed here but absent from the desired state (an etcd wiped or restored
  // from an old backup). Kept, never destroyed for that; shown so someone decides.
  bool orphan = false;
  // [serve]: where berth listens for it, and whether that socket is open now.
  struct Serve {
    std::string address;
    uint16_t port = 0;
    std::string mode;
    bool listening = false;
    struct Proxy {
      std::vector<std::string> backends;  // the instances new connections go to, in turn
      size_t active = 0;
      uint64_t accepted = 0, dropped = 0;
    };
    std::optional<Proxy> proxy;
  };
  std::optional<Serve> serve;
  // `[run] instances` (or `berth scale`): how many it runs, where that number came from
  // ("manifest" or "scale"), and each of them.
  int instances_wanted = 1;
  std::string instances_source = "manifest";
  std::vector<InstanceStatus> instances;
};

struct DestroyReport {
  bool already = false;                    // destroyed before (idempotent)
  std::vector<cluster::PeerResult> peers;  // in a cluster: every other node's result
};

class ComponentApi {
 public:
  virtual ~ComponentApi() = default;
  virtual const std::string& name() const = 0;
  virtual ComponentStatus status() const = 0;
  virtual boost::asio::awaitable<Result<void>> start() = 0;
  virtual boost::asio::awaitable<Result<void>> stop() = 0;
  virtual boost::asio::awaitable<Result<void>> restart() = 0;
  // `berth signal`: `sig` to every process of the running tree, or only to its leader.
  virtual Result<void> signal(int sig, bool leader_only) = 0;
  // `berth scale`: runs `n` instances from now on (kept across restarts, deploys and daemon
  // restarts; nullopt goes back to berth.toml's `[run] instances`). Starts the missing ones
  // and waits for them; stops the extra ones, the highest first.
  virtual boost::asio::awaitable<Result<void>> scale(std::optional<int> n) = 0;
  // Checks the environment the next start would get and keeps an --env/--profile change for
  // it and later starts (an empty change only checks); does not restart.
  virtual Result<void> change_env(const EnvChange& change) = 0;
  virtual LogSink& logs() = 0;
};

struct Health {
  int pid = 0;
  uint16_t port = 0;
  bool cgroup_isolation = false;
  std::string isolation_reason;  // why not, without cgroups
  size_t components = 0;
  size_t inotify_watches = 0;
  uint64_t inotify_events = 0, inotify_overflows = 0;
};

struct ReconcileReport {
  std::vector<std::string> dropped, healed;
  std::vector<std::pair<std::string, std::string>> kept, failed;  // name, why
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::vector<std::shared_ptr<ComponentApi>> components() const = 0;
  virtual std::shared_ptr<ComponentApi> find(const std::string& name) const = 0;
  virtual bool tombstoned(const std::string& name) const = 0;
  // `berth run`: registers DIR as a component run in place, keeps the environment change and
  // starts it. `restart`: it was running already and the change must reach it by a restart.
  struct RunOutcome {
    std::shared_ptr<ComponentApi> component;
    bool restart = false;
  };
  // `source`: a command or Procfile type to run instead of berth.toml's (or the inferred) one.
  virtual Result<RunOutcome> run(const std::string& dir, const std::string& name, bool watch,
                                 const EnvChange& env, const RunSource& source) = 0;
  // What the next daemon start brings back.
  virtual Result<void> set_desired(const std::string& name, bool running) = 0;
  // On every node in a cluster (a component run in place: here only).
  virtual boost::asio::awaitable<Result<DestroyReport>> destroy(const std::string& name) = 0;
  virtual boost::asio::awaitable<ReconcileReport> reconcile(const std::set<std::string>& live) = 0;
  virtual Deployer& deployer() = 0;
  virtual InstallCache* cache() = 0;     // null: the cache is off
  virtual cluster::Node* cluster() = 0;  // null: not in a cluster
  virtual Health health() const = 0;
  virtual void request_shutdown() = 0;
  virtual bool shutting_down() const = 0;
};

}  // namespace berth::api
