#include "deploy/installer.h"

#include <fmt/format.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "cache/cache_key.h"
#include "core/duration.h"
#include "core/fs_util.h"
#include "proc/process_tree.h"

namespace berth {
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

bool has_deps(const nlohmann::json& pkg) {
  for (const char* k : {"dependencies", "devDependencies", "optionalDependencies"})
    if (pkg.contains(k) && pkg[k].is_object() && !pkg[k].empty()) return true;
  return false;
}

// devEngines.packageManager: an object {name, version} or an array of them (first wins).
std::optional<std::string> declared_manager(const nlohmann::json& pkg) {
  if (!pkg.contains("devEngines") || !pkg["devEngines"].is_object()) return std::nullopt;
  auto pm = pkg["devEngines"].value("packageManager", nlohmann::json());
  if (pm.is_array() && !pm.empty()) pm = pm[0];
  if (pm.is_object() && pm.contains("name") && pm["name"].is_string())
    return pm["name"].get<std::string>();
  return std::nullopt;
}

// What a package manager's install depends on and produces, for the cache key.
struct ManagerFiles {
  const char* name;
  std::vector<std::string> inputs;
};

const std::vector<ManagerFiles>& manager_files() {
  static const std::vector<ManagerFiles> all = {
      {"npm", {"package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"}},
      {"pnpm",
       {"package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ".pnpmfile.cjs"}},
      {"yarn", {"package.json", "yarn.lock", ".yarnrc", ".yarnrc.yml"}},
      {"bun", {"package.json", "bun.lockb", "bun.lock", "bunfig.toml"}},
  };
  return all;
}

// Fills the plan's cache fields: the manifest's lists win, else the manager's defaults.
InstallPlan with_cache_fields(InstallPlan plan, const InstallSpec& spec) {
  if (!spec.cache) {
    plan.uncached = "[install] cache = false";
    return plan;
  }
  auto prog = fs::path(first_program(plan.command)).filename();
  for (const auto& m : manager_files())
    if (prog == m.name) {
      plan.inputs = m.inputs;
      plan.outputs = {"node_modules"};
    }
  if (spec.inputs) plan.inputs = *spec.inputs;
  if (spec.outputs) plan.outputs = *spec.outputs;
  if (plan.inputs.empty() || plan.outputs.empty())
    plan.uncached =
        "set [install] inputs and outputs in berth.toml to cache `" + plan.command + "`";
  return plan;
}

Result<std::optional<InstallPlan>> plan_for(const fs::path& dir, const InstallSpec& spec) {
  if (spec.command) {
    if (spec.command->empty()) return std::nullopt;
    return InstallPlan{*spec.command, "[install] command in berth.toml"};
  }
  std::error_code ec;
  if (!fs::exists(dir / "package.json", ec)) return std::nullopt;
  auto text = read_file(dir / "package.json");
  BERTH_TRY(text);
  auto pkg = nlohmann::json::parse(*text, nullptr, false);
  if (pkg.is_discarded() || !pkg.is_object())
    return fail(Code::kBadPackageJson, "package.json is not a JSON object");
  if (!has_deps(pkg)) return std::nullopt;
  auto exists = [&](const char* f) { return fs::exists(dir / f, ec); };
  if (auto pm = declared_manager(pkg)) {
    const std::string why = "devEngines.packageManager is " + *pm;
    if (*pm == "npm")
      return InstallPlan{exists("package-lock.json") ? "npm ci" : "npm install", why};
    if (*pm == "pnpm")
      return InstallPlan{
          exists("pnpm-lock.yaml") ? "pnpm install --frozen-lockfile" : "pnpm install", why};
    if (*pm == "yarn")
      return InstallPlan{exists("yarn.lock") ? "yarn install --frozen-lockfile" : "yarn install",
                         why};
    if (*pm == "bun") return InstallPlan{"bun install", why};
    return fail(Code::kBadPackageJson,
                fmt::format("devEngines.packageManager \"{}\" is not one berth knows (npm, pnpm, "
                            "yarn, bun); set [install] command in berth.toml",
                            *pm));
  }
  if (exists("package-lock.json") || exists("npm-shrinkwrap.json"))
    return InstallPlan{"npm ci", "lockfile present"};
  return InstallPlan{"npm install", "package.json without a lockfile"};
}

}  // namespace

Result<std::optional<InstallPlan>> plan_install(const fs::path& dir, const InstallSpec& spec) {
  auto plan = plan_for(dir, spec);
  if (!plan || !*plan) return plan;
  return with_cache_fields(std::move(**plan), spec);
}

asio::awaitable<Result<void>> run_install(InstallRun run) {
  TreeSpec spec;
  spec.label = "install";
  spec.spawn.argv = {"/bin/sh", "-c", run.plan.command};
  spec.spawn.env = current_environment();
  spec.spawn.env["BERTH_RELEASE"] = run.dir.string();
  spec.spawn.cwd = run.dir;
  spec.spawn.cgroup = run.cgroup;
  spec.run_to_exit = true;
  spec.stop.grace = std::chrono::seconds(5);
  ProcessTree::Hooks hooks;
  std::optional<TreeEnd> result;
  hooks.on_line = run.on_line;
  hooks.on_end = [&result](const TreeEnd& end) { result = end; };
  // Recorded before it exists and once it does, like a component's tree (host/component.cpp):
  // an installer the next daemon could not find is never left running.
  TreeRow row{run.record_as, 0, 0, 0, 0, std::nullopt};
  if (run.cgroup) row.cgroup = run.cgroup->string();
  if (run.trees)
    if (auto r = run.trees->put(row); !r)
      co_return fail(Code::kNotRecorded,
                     "cannot record the installer's process tree, so it was not "
                     "started: " +
                         r.error().message);
  auto tree = ProcessTree::start(run.io, run.reaper, std::move(spec), std::move(hooks));
  if (!tree) {
    if (run.trees) (void)run.trees->remove(run.record_as, 0);
    co_return std::unexpected(tree.error());
  }
  if (run.trees) {
    row.pid = row.pgid = (*tree)->pid();
    row.start_time = (*tree)->start_time();
    if (auto r = run.trees->put(row); !r)
      (*tree)->abort({Code::kNotRecorded,
                      "cannot record the installer's process tree, so it was "
                      "killed at once: " +
                          r.error().message});
  }

  bool timed_out = false;
  asio::steady_timer timer(run.io);
  timer.expires_after(run.timeout);
  std::weak_ptr<ProcessTree> weak = *tree;
  timer.async_wait([&timed_out, weak](const boost::system::error_code& ec) {
    auto t = weak.lock();
    if (ec || !t || t->ended()) return;
    timed_out = true;
    t->request_stop();
  });
  auto t = *tree;
  if (run.stop_handle)
    *run.stop_handle = [weak] {
      if (auto tree = weak.lock()) tree->request_stop();
    };
  co_await t->wait_ended();
  if (run.stop_handle) *run.stop_handle = nullptr;
  timer.cancel();
  if (run.trees) (void)run.trees->remove(run.record_as, 0);
  if (timed_out)
    co_return fail(Code::kInstallTimeout,
                   fmt::format("`{}` did not finish within {}; its process tree was killed",
                               run.plan.command, format_duration(run.timeout)));
  if (result->startup_failure) co_return std::unexpected(*result->startup_failure);
  const auto& status = result->status;
  if (status.code != 0 || status.signal != 0)
    co_return fail(Code::kInstallFailed,
                   fmt::format("`{}` {}", run.plan.command, status.describe()));
  co_return Result<void>{};
}

}  // namespace berth
