// The component manifest, `berth.toml` at a component's root, parsed into validated structs.
// Every field but [run].command is optional; an unknown key or a bad value is an error naming
// the file, the key and why (code `bad_manifest`).
#pragma once
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/error.h"
#include "core/pattern.h"
#include "proc/specs.h"

namespace berth {

struct RunSpec {
  std::vector<std::string> argv;  // a string command becomes {"/bin/sh", "-c", command}
  std::map<std::string, std::string> env;
  // `env_file`: KEY=VALUE lines read at every start (relative to the component root). Unset:
  // `.env` when the component has one; "" (`env_file = false`): none.
  std::optional<std::string> env_file;
  std::string cwd = ".";       // relative to the component root
  bool lease_address = false;  // `address = "lease"`: own 127.0.0.N in BERTH_HOST
  // `instances`: trees of the component run side by side, each with BERTH_INSTANCE (0..N-1);
  // `berth scale` overrides it. More than one needs a way to share a port: [serve], an
  // address of each one's own, or the app's SO_REUSEPORT.
  int instances = 1;
  static constexpr int kMaxInstances = 64;
};

struct WatchSpec {
  bool enabled = false;              // also enabled by `berth run --watch`
  std::vector<std::string> ignore;   // globs added to the defaults and .berthignore
  std::vector<std::string> include;  // when set, only matching files count as changes
  Millis debounce{50};               // quiet period ending a burst of changes
  Millis max_wait{1000};             // ceiling for a drizzle (a dense burst: up to 10x)
  Millis poll_interval{2000};        // polling fallback when inotify is refused
  int retries = 10;                  // root missing: retries before giving up
};

struct InstallSpec {
  std::optional<std::string> command;  // run with /bin/sh -c; "" skips; unset: detected
  Millis timeout{600'000};
  // The install cache: on unless `cache = false`. `inputs` (files whose contents decide the
  // result) and `outputs` (what the install produces) default per package manager; a custom
  // command is cached only when both are given.
  bool cache = true;
  std::optional<std::vector<std::string>> inputs, outputs;
};

// [deploy]: how a cluster deploy reaches the nodes.
struct DeploySpec {
  // rollout = "rolling": at most `max_parallel` nodes restart at a time, each waiting for the
  // one before to be ready, and the first failure stops the rollout ("parallel": all at once).
  bool rolling = false;
  int max_parallel = 1;
  // After the new release is ready it must stay up (not exit) this long before the deploy
  // counts as a success; a crash inside it rolls back. Unset: the daemon's default.
  std::optional<Millis> healthy_for;
};

struct LifecycleSpec {
  bool keep = false;  // reconcile never drops it, even when not in the live set
};

struct Manifest {
  std::string name;  // empty when the manifest names none
  // Without a berth.toml (or with a command given to `berth run`): where [run] command came
  // from, e.g. "package.json scripts.start"; empty when from berth.toml.
  std::string inferred;
  RunSpec run;
  // [env.NAME] tables: variables a start with `--profile NAME` adds over [run] env.
  std::map<std::string, std::map<std::string, std::string>> profiles;
  ReadySpec ready;
  StopSpec stop;
  RestartSpec restart;
  WatchSpec watch;
  InstallSpec install;
  DeploySpec deploy;
  LifecycleSpec lifecycle;
  std::optional<ServeSpec> serve;
  LimitsSpec limits;
  std::optional<HealthSpec> health;
};

// What `berth run` asked to run instead of berth.toml's command or an inference: a command
// line (`berth run -- CMD`, `berth run server.js`) or a Procfile process type.
struct RunSource {
  std::vector<std::string> argv;
  std::string procfile;
  bool empty() const { return argv.empty() && procfile.empty(); }
};

Result<Manifest> parse_manifest(std::string_view toml_text, const std::string& file_label);
// Reads DIR/berth.toml; `source.argv` replaces its [run] command. Without one, the command is
// `source`'s or inferred (config/infer.h) and every other key has its default.
Result<Manifest> load_manifest(const std::filesystem::path& component_dir,
                               const RunSource& source = {});

// Component names: 1-63 of [A-Za-z0-9._-], starting with a letter or digit.
bool valid_component_name(const std::string& name);

}  // namespace berth
