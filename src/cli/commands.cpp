#include "cli/commands.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/cache_commands.h"
#include "cli/cluster_commands.h"
#include "cli/completion.h"
#include "cli/connection.h"
#include "cli/deploy_commands.h"
#include "cli/format.h"
#include "cli/logs_commands.h"
#include "cli/run_plan.h"
#include "cli/startup_commands.h"
#include "cli/suggest.h"
#include "cli/top_command.h"
#include "config/daemon_config.h"
#include "http/async_client.h"
#include "proc/proc_stat.h"

namespace berth::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Options {
  bool json_out = false;
  bool color = false;  // a terminal, NO_COLOR unset, no --no-color
  std::string name;
  std::string dir;
  bool wait = false;
  bool watch = false;
  std::vector<std::string> env, unset_env;  // --env KEY=VALUE, --unset-env KEY
  std::optional<std::string> profile;       // --profile NAME ("" clears it)
};

// The environment change a run, start or restart carries (an empty object when none).
json env_body(const Options& o) {
  json body = json::object();
  if (!o.env.empty()) {
    json set = json::object();
    for (auto& kv : o.env) {
      auto eq = kv.find('=');
      set[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    body["env"] = set;
  }
  if (!o.unset_env.empty()) body["unset_env"] = o.unset_env;
  if (o.profile) body["profile"] = *o.profile;
  return body;
}

void add_env_options(CLI::App* c, Options& o) {
  c->add_option("-e,--env", o.env,
                "set KEY=VALUE for this and every later start (repeatable; kept until changed)")
      ->check(CLI::Validator(
          [](std::string& v) {
            auto eq = v.find('=');
            return eq != std::string::npos && eq > 0 ? std::string()
                                                     : "expects KEY=VALUE (got " + v + ")";
          },
          "KEY=VALUE"));
  c->add_option("--unset-env", o.unset_env, "drop a KEY set before with --env (repeatable)");
  c->add_option("--profile", o.profile,
                "use the [env.NAME] profile of berth.toml from now on (\"\" for none)");
}

// A component's command as typed: a shell line (a string command, a Procfile's) as it was.
std::string shown_command(const json& c) {
  auto argv = c.value("command", std::vector<std::string>{});
  if (argv.size() == 3 && argv[0] == "/bin/sh" && argv[1] == "-c") return argv[2];
  std::string out;
  for (auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

void print_status(const json& c) {
  auto line = [](const std::string& k, const std::string& v) {
    fmt::print("{:<12}{}\n", k + ":", v);
  };
  line("name", c.value("name", ""));
  line("state", state_cell(c));
  line("dir", c.value("dir", ""));
  if (c.contains("inferred") && c["inferred"].is_string()) {
    line("command", shown_command(c) + "  (" + c["inferred"].get<std::string>() + ")");
  }
  if (c.contains("release") && c["release"].is_string())
    line("release", c["release"].get<std::string>() +
                        (c.value("orphan", false)
                             ? "  (orphan: deployed here, absent from the cluster's desired state)"
                             : ""));
  line("pid", c["pid"].is_null() ? "-" : std::to_string(c["pid"].get<int>()));
  const auto instances = c.value("instances", json::array());
  if (instances.size() > 1 || c.value("instances_wanted", 1) != 1) {
    line("instances",
         fmt::format("{} of {} wanted{}", instances.size(), c.value("instances_wanted", 1),
                     c.value("instances_source", "") == "scale" ? " (berth scale)" : ""));
    for (auto& i : instances)
      fmt::print("  #{:<3} {:<14} pid {:<8} {:>9}  {:.1f}% cpu  up {}\n", i.value("index", 0),
                 i.value("state", "?"),
                 i["pid"].is_number() ? std::to_string(i["pid"].get<int>()) : "-",
                 human_bytes(i.value("memory_bytes", uint64_t{0})), i.value("cpu_percent", 0.0),
                 i.value("uptime_ms", 0) ? human_uptime(i["uptime_ms"].get<int64_t>()) : "-");
  }
  line("processes", std::to_string(c.value("processes", 0)));
  line("uptime", c.value("uptime_ms", 0) ? human_uptime(c["uptime_ms"].get<int64_t>()) : "-");
  line("restarts", std::to_string(c.value("restarts", 0)));
  line("memory", human_bytes(c.value("memory_bytes", uint64_t{0})));
  line("cpu", fmt::format("{:.1f}% of a core, {:.2f}s in all", c.value("cpu_percent", 0.0),
                          c.value("cpu_seconds", 0.0)));
  line("isolation", c.value("isolation", "") +
                        (c.contains("cgroup") ? " (" + c["cgroup"].get<std::string>() + ")" : ""));
  line("address", c.value("address", ""));
  line("policy", c.value("restart_policy", ""));
  if (c.contains("last_exit")) line("last exit", c["last_exit"].value("description", ""));
  if (c.contains("last_error")) {
    line("last error",
         c["last_error"].value("message", "") + " (" + c["last_error"].value("code", "") + ")");
    if (c["last_error"].contains("tail"))
      for (auto& t : c["last_error"]["tail"]) fmt::print("  | {}\n", t.get<std::string>());
  }
  if (c.contains("watch") && c["watch"].is_object()) {
    auto& w = c["watch"];
    std::string text =
        w.value("mode", "?") + ", " + std::to_string(w.value("watches", 0)) + " watches";
    if (w.contains("reason")) text += " (" + w["reason"].get<std::string>() + ")";
    line("watch", text);
    if (w.contains("last_change")) line("changed", w["last_change"].value("path", ""));
  }
  if (c.contains("serve") && c["serve"].is_object()) {
    auto& sv = c["serve"];
    line("serve",
         fmt::format("{}:{} ({} mode, {})", sv.value("address", ""), sv.value("port", 0),
                     sv.value("mode", ""), sv.value("listening", false) ? "listening" : "closed"));
    if (sv.contains("proxy") && sv["proxy"].is_object()) {
      auto& p = sv["proxy"];
      std::string to;
      for (auto& b : p.value("backends", json::array()))
        to += (to.empty() ? "" : ", ") + b.get<std::string>();
      line("relaying", fmt::format("to {}, {} connections open, {} accepted, {} dropped",
                                   to.empty() ? "no instance yet" : to, p.value("active", 0),
                                   p.value("accepted", 0), p.value("dropped", 0)));
    }
  }
  if (c.contains("replacement_pid") && c["replacement_pid"].is_number())
    line("replacing", fmt::format("pid {} starts beside it", c["replacement_pid"].get<int>()));
  for (auto& p : c.value("draining_pids", json::array()))
    line("draining", fmt::format("pid {} (replaced, stopping)", p.get<int>()));
  if (c.contains("health") && c["health"].is_object()) {
    auto& h = c["health"];
    std::string text = fmt::format("{} ({} check)", h.value("state", "?"), h.value("kind", "?"));
    if (h.value("failures", 0)) text += fmt::format(", {} failed in a row", h.value("failures", 0));
    if (h.value("unhealthy_restarts", 0))
      text += fmt::format(", {} restarts when unhealthy", h.value("unhealthy_restarts", 0));
    line("health", text);
    auto last = h.value("last", json::array());
    if (!last.empty() && !last.back().value("ok", true))
      fmt::print("  | {}\n", last.back().value("message", ""));
  }
  if (c.contains("last_exit") && c["last_exit"].value("reason", json()).is_string())
    line("killed", "out of memory ([limits] memory)");
  if (c.contains("log_file")) line("log file", c.value("log_file", ""));
  if (c.contains("profile") && c["profile"].is_string()) line("profile", c["profile"]);
  // What the process got, and from where: the daemon's base is summed up, the rest listed.
  size_t from_daemon = 0;
  std::vector<std::string> own;
  for (auto& e : c.value("env", json::array())) {
    const std::string source = e.value("source", "");
    if (source == "daemon") {
      ++from_daemon;
      continue;
    }
    own.push_back(fmt::format("{}={}  ({})", e.value("name", ""), e.value("value", ""), source));
  }
  if (from_daemon || !own.empty()) {
    line("env", fmt::format("{} from the daemon's [env] base{}", from_daemon,
                            own.empty() ? "" : ", and:"));
    for (auto& l : own) fmt::print("  {}\n", l);
  }
  for (auto& w : c.value("warnings", json::array())) line("warning", w.get<std::string>());
}

// Waits while the component is starting (or restarting), for `run --wait` and `start --wait`.
int wait_settled(http::Client& client, const std::string& name, bool json_out) {
  auto deadline = std::chrono::steady_clock::now() + 10min;
  for (;;) {
    auto got = fetch_json(client, "GET", "/v1/components/" + name, "", 60s, json_out);
    if (!got) return got.error();
    auto& c = *got;
    std::string state = c.value("state", "");
    if (state != "starting" || std::chrono::steady_clock::now() > deadline) {
      if (json_out)
        fmt::print("{}\n", c.dump());
      else
        print_status(c);
      return state == "ready" ? 0 : 1;
    }
    std::this_thread::sleep_for(50ms);
  }
}

int print_component(const http::ClientResponse& r, bool json_out) {
  auto c = answer_json(r, json_out);
  if (!c) return c.error();
  if (json_out)
    fmt::print("{}\n", c->dump());
  else
    print_status(*c);
  return 0;
}

int cmd_ls(http::Client& client, const Options& o) {
  auto got = fetch_json(client, "GET", "/v1/components", "", 60s, o.json_out);
  if (!got) return got.error();
  auto& j = *got;
  if (o.json_out) {
    fmt::print("{}\n", j.dump());  // the API's answer, as every --json prints it
    return 0;
  }
  fmt::print("{}", components_table(j["components"], o.color));
  return 0;
}

// The page at / of the daemon that answers now (connect() started it if need be).
int cmd_dashboard(const fs::path& home, bool json_out) {
  auto info = read_daemon_info(home);
  if (!info) return report(info.error(), json_out);
  const std::string url = http::Url{info->tls, info->address, info->port, ""}.str() + "/";
  const std::string token = (home / "token").string();
  if (json_out)
    fmt::print("{}\n", json{{"url", url}, {"token_file", token}}.dump());
  else
    fmt::print("{}\nsign in with the token in {}\n", url, token);
  return 0;
}

int cmd_shutdown(const fs::path& home, const Options& o) {
  auto conn = connect(home, false);
  if (!conn) {
    if (o.json_out)
      fmt::print("{}\n", json{{"ok", true}, {"running", false}}.dump());
    else
      fmt::print("berth daemon is not running\n");
    return 0;
  }
  // The daemon may close the connection before answering when it has nothing to stop.
  (void)conn->client->request("POST", "/v1/shutdown", "", 5s);
  int pid = conn->daemon_pid;
  // A zombie counts as gone: whoever started the daemon may not have reaped it yet.
  while (auto st = read_proc_stat(pid)) {
    if (st->state == 'Z' || st->state == 'X') break;
    std::this_thread::sleep_for(5ms);
  }
  if (o.json_out)
    fmt::print("{}\n", json{{"ok", true}, {"pid", pid}}.dump());
  else
    fmt::print("berth daemon (pid {}) stopped\n", pid);
  return 0;
}

// `start|stop|restart all`: each component in turn, one line each; 1 if any failed.
int cmd_all(http::Client& client, const std::string& verb, const Options& o) {
  auto got = fetch_json(client, "GET", "/v1/components", "", 60s, o.json_out);
  if (!got) return got.error();
  int code = 0;
  json out = json::array();
  for (auto& c : (*got)["components"]) {
    const std::string name = c.value("name", "");
    auto r = client.request("POST", "/v1/components/" + name + "/" + verb,
                            verb == "stop" ? std::string() : env_body(o).dump(), 10min);
    if (!r) return report(r.error(), o.json_out);
    auto j = json::parse(r->body, nullptr, false);
    const bool ok = r->status / 100 == 2 && !j.is_discarded();
    std::string line = ok ? state_cell(j) : "failed";
    if (ok && j.contains("pid") && j["pid"].is_number())
      line += fmt::format(" (pid {})", j["pid"].get<int>());
    if (!ok && j.is_object() && j.contains("error"))
      line += ": " + j["error"].value("message", "") + " (" + j["error"].value("code", "") + ")";
    code |= ok ? 0 : 1;
    if (o.json_out)
      out.push_back(ok ? j : json{{"name", name}, {"error", j.value("error", json())}});
    else
      fmt::print("{}: {}\n", name, line);
  }
  if (o.json_out) fmt::print("{}\n", out.dump());
  return code;
}

// `berth run` in its three forms (cli/run_plan.h): one component, or one per Procfile type.
int cmd_run(http::Client& client, const Options& o, const std::vector<std::string>& command) {
  auto plan = plan_run({o.dir, command, o.name, o.watch}, fs::current_path());
  if (!plan) return report(plan.error(), o.json_out);
  const json env = env_body(o);
  int code = 0;
  json out = json::array();
  for (auto body : *plan) {
    body.update(env);
    auto r = client.request("POST", "/v1/components", body.dump());
    if (!r) return report(r.error(), o.json_out);
    auto c = answer_json(*r, o.json_out);
    if (!c) return c.error();
    const std::string name = c->value("name", "");
    if (!body.contains("command") && (*c)["inferred"].is_string() && !o.json_out) {
      fmt::print(stderr, "{}: no berth.toml; runs `{}` (from {}; `berth init` writes it down)\n",
                 name, shown_command(*c), (*c)["inferred"].get<std::string>());
    }
    if (o.wait) {
      code |= wait_settled(client, name, o.json_out);
      continue;
    }
    if (o.json_out)
      out.push_back(*c);
    else if (plan->size() == 1)
      print_status(*c);
    else
      fmt::print("{}: {}\n", name, state_cell(*c));
  }
  if (o.json_out && !o.wait) fmt::print("{}\n", plan->size() == 1 ? out[0].dump() : out.dump());
  return code;
}

// A first word that is no command: say so, and name the nearest one. nullopt when the word
// is a command or an option.
std::optional<int> unknown_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  const std::string word = argv[1];
  std::vector<std::string> known;
  for (auto* c : app.get_subcommands({})) {
    known.push_back(c->get_name());
    for (auto& a : c->get_aliases()) known.push_back(a);
  }
  if (std::ranges::count(known, word)) return std::nullopt;
  auto near = closest(word, known);
  fmt::print(stderr, "berth: unknown command \"{}\"{} (`berth --help` lists every command)\n", word,
             near ? fmt::format("; did you mean \"{}\"?", *near) : "");
  return 2;
}

}  // namespace

int main(int argc, char** argv, const std::function<int()>& run_daemon) {
  CLI::App app{"berth: deploy, run and supervise application components", "berth"};
  app.require_subcommand(1);
  app.fallthrough();  // --no-color anywhere on the line
  app.set_version_flag("--version", BERTH_VERSION);
  Options o;
  auto add_json = [&](CLI::App* c) {
    c->add_flag("--json", o.json_out, "machine-readable output");
  };

  auto* daemon = app.add_subcommand("daemon", "run the berth daemon in the foreground");
  add_json(daemon);
  auto* run = app.add_subcommand(
      "run", "run DIR (berth.toml, or inferred), a script file, or -- COMMAND in place");
  run->add_option("target", o.dir,
                  "component directory (default: .), or a script like server.js or app.py");
  run->add_option("--name", o.name, "component name (default: manifest name, else directory name)");
  run->add_flag("--wait", o.wait, "wait until it is ready (exit 1 if it fails to start)");
  run->add_flag("--watch", o.watch, "restart it when files under DIR change");
  add_env_options(run, o);
  add_json(run);
  auto* init = app.add_subcommand("init", "write the berth.toml berth would infer for DIR");
  init->add_option("dir", o.dir, "component directory (default: .)");
  init->add_option("--name", o.name, "component name (default: the directory's)");
  // pm2's words work too: list, describe, delete, reload (a restart here).
  auto* ls = app.add_subcommand("ls", "list components (also: list)")->alias("list");
  add_json(ls);
  auto* top =
      app.add_subcommand("top", "a live table of every component (also: monit)")->alias("monit");
  auto* status =
      app.add_subcommand("status", "show one component, or list them all (also: describe)")
          ->alias("describe");
  status->add_option("name", o.name);
  add_json(status);
  std::vector<CLI::App*> lifecycle;
  for (const char* verb : {"start", "stop", "restart"}) {
    auto* c = app.add_subcommand(verb, std::string(verb) + " a component, or every one with all");
    if (std::string(verb) == "restart") c->alias("reload");
    c->add_option("name", o.name, "component name, or all")->required();
    if (std::string(verb) != "stop") {
      c->add_flag("--wait", o.wait, "wait until it is ready");
      add_env_options(c, o);
    }
    add_json(c);
    lifecycle.push_back(c);
  }
  std::string sig;
  bool leader = false;
  auto* signal = app.add_subcommand("signal", "send a signal to every process of a component");
  signal->add_option("name", o.name)->required();
  signal->add_option("signal", sig, "HUP, USR1, TERM, ... (or a number)")->required();
  signal->add_flag("--leader", leader, "only to the process berth started, not its children");
  add_json(signal);
  std::string instances;
  auto* scale = app.add_subcommand(
      "scale", "run N instances of a component (kept across restarts and deploys)");
  scale->add_option("name", o.name)->required();
  scale
      ->add_option("instances", instances,
                   "how many (1 to 64), or \"reset\" for berth.toml's [run] instances")
      ->required()
      ->check(CLI::Validator(
          [](std::string& v) {
            if (v == "reset") return std::string();
            return v.find_first_not_of("0123456789") == std::string::npos && !v.empty() &&
                           v.size() < 4
                       ? std::string()
                       : "expects a number of instances or reset (got " + v + ")";
          },
          "N|reset"));
  add_json(scale);
  LogsOptions lo;
  bool no_color = false;
  app.add_flag("--no-color", no_color, "no colour, even on a terminal (NO_COLOR does the same)");
  auto* logs = app.add_subcommand("logs", "show a component's output, or every component's");
  logs->add_option("name", lo.name, "component (default: all, each line prefixed)");
  logs->add_flag("-t,--timestamps", lo.timestamps, "show when each line was written");
  logs->add_option("--since", lo.since, "lines from then on: 10m (ago), 2026-12-03 07:00:00");
  logs->add_option("--until", lo.until, "lines up to then, in the same forms");
  logs->add_option("-n,--lines", lo.lines, "number of recent lines")
      ->check(CLI::Validator(
          [](std::string& v) {
            return !v.empty() && v.find_first_not_of("0123456789") == std::string::npos
                       ? std::string()
                       : "must be a whole number of lines, 0 or more (got " + v + ")";
          },
          "N"));
  logs->add_flag("-f,--follow", lo.follow, "keep streaming new lines");
  add_json(logs);
  DeployOptions d;
  bool no_follow = false;
  auto* deploy =
      app.add_subcommand("deploy", "upload DIR (or a .tar.gz) as a new release and follow it");
  std::string attach;
  deploy->add_option("path", d.path, "component directory, or a .tar.gz of one");
  deploy->add_option("--attach", attach, "follow deployment ID, running or ended, instead");
  deploy->add_option("--name", d.name,
                     "component name (default: manifest name, else directory name)");
  deploy->add_flag("--no-follow", no_follow, "print the deployment id and return at once");
  add_env_options(deploy, o);
  add_json(deploy);
  std::string to;
  auto* rollback = app.add_subcommand("rollback", "go back to an earlier release");
  rollback->add_option("name", o.name)->required();
  rollback->add_option("id", to, "deployment whose release to restore (default: the one before)");
  rollback->add_flag("--no-follow", no_follow, "print the deployment id and return at once");
  add_json(rollback);
  auto* deployments = app.add_subcommand("deployments", "list a component's deployments");
  deployments->add_option("name", o.name, "component (default: all)");
  add_json(deployments);
  std::string follow_id;
  auto* follow = deployments->add_subcommand(
      "follow", "follow a deployment's events to its end (after a Ctrl-C, say)");
  follow->add_option("id", follow_id, "deployment id")->required();
  add_json(follow);
  auto* rm = app.add_subcommand("rm",
                                "destroy a component: stop it, remove its releases, tombstone it "
                                "(also: delete)")
                 ->alias("delete");
  rm->add_option("name", o.name)->required();
  add_json(rm);
  std::vector<std::string> live;
  auto* reconcile = app.add_subcommand(
      "reconcile", "destroy idle components not in the live set; heal tombstones of live names");
  reconcile->add_option("--live", live, "the names that should exist (comma-separated)")
      ->delimiter(',')
      ->required();
  add_json(reconcile);
  auto* cache = app.add_subcommand("cache", "the shared install cache");
  cache->require_subcommand(1);
  auto* cache_ls = cache->add_subcommand("ls", "list cache entries, most recently used first");
  add_json(cache_ls);
  std::string cache_key, max_size;
  bool force = false, all = false;
  auto* cache_rm = cache->add_subcommand("rm", "remove one cache entry");
  cache_rm->add_option("key", cache_key, "the key, or a unique prefix of 6+ characters")
      ->required();
  cache_rm->add_flag("--force", force, "even if a live release uses it (it keeps its own links)");
  add_json(cache_rm);
  auto* cache_prune = cache->add_subcommand(
      "prune", "remove least recently used entries no release uses; sweep dead installers' work");
  cache_prune->add_option("--max-size", max_size,
                          "shrink to this size (default: [cache] max_size)");
  cache_prune->add_flag("--all", all, "remove every entry no release uses");
  add_json(cache_prune);
  auto* nodes = app.add_subcommand("nodes", "list the cluster's nodes, up and down");
  add_json(nodes);
  auto* dashboard =
      app.add_subcommand("dashboard", "print the web dashboard's address (and start the daemon)");
  add_json(dashboard);
  auto* shutdown = app.add_subcommand("shutdown", "stop every component and the daemon");
  add_json(shutdown);
  StartupOptions so;
  std::string unit_dir;
  auto* startup = app.add_subcommand(
      "startup", "start the daemon at boot: write and enable a systemd unit (Type=notify)");
  auto* unstartup = app.add_subcommand("unstartup", "disable and remove the unit of startup");
  for (auto* c : {startup, unstartup}) {
    c->add_flag("--user", so.user, "a user unit (the default when not root)");
    c->add_option("--unit-dir", unit_dir, "write the unit here and enable nothing");
  }
  startup->add_flag("--print", so.print, "print the unit, write nothing");
  startup->add_option("--bin", so.bin, "the berth the unit runs (default: this one)");

  std::string shell;
  auto* completion = app.add_subcommand(
      "completion", "print a completion script: source <(berth completion bash)");
  completion->add_option("shell", shell, "bash, zsh or fish")->required();
  // For the completion scripts: the component names, from a daemon that runs (none started).
  auto* names = app.add_subcommand("__names", "")->group("");

  if (auto code = unknown_command(app, argc, argv)) return *code;
  // `berth run [DIR] -- COMMAND ARGS...`: what follows `--` is the command, never berth's.
  std::vector<char*> args(argv, argv + argc);
  std::vector<std::string> run_command;
  if (argc > 1 && std::string(argv[1]) == "run")
    if (auto dash =
            std::find_if(args.begin(), args.end(), [](char* a) { return std::string(a) == "--"; });
        dash != args.end()) {
      run_command.assign(dash + 1, args.end());
      args.erase(dash, args.end());
    }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (daemon->parsed()) return run_daemon();
  if (completion->parsed()) {
    auto script = completion_script(app, shell);
    if (!script) return report(script.error());
    fmt::print("{}", *script);
    return 0;
  }
  o.color = use_color(no_color);
  if (init->parsed()) {
    const fs::path dir = o.dir.empty() ? fs::path(".") : fs::path(o.dir);
    auto how = init_manifest(dir, o.name);
    if (!how) return report(how.error());
    fmt::print("wrote {} (from {}); edit it, then `berth run` or `berth deploy`\n",
               (dir / "berth.toml").string(), *how);
    return 0;
  }
  fs::path home = default_home();
  if (shutdown->parsed()) return cmd_shutdown(home, o);
  if (startup->parsed() || unstartup->parsed()) {
    so.home = home;
    so.unit_dir = unit_dir;
    so.user = so.user || ::geteuid() != 0;
    return startup->parsed() ? cmd_startup(so) : cmd_unstartup(so);
  }

  if (names->parsed()) {
    auto quiet = connect(home, false);
    if (!quiet) return 1;
    auto got = quiet->client->request("GET", "/v1/components");
    auto j = got ? json::parse(got->body, nullptr, false) : json();
    if (!j.is_object()) return 1;
    for (auto& c : j.value("components", json::array())) fmt::print("{}\n", c.value("name", ""));
    return 0;
  }
  auto conn = connect(home, true);
  if (!conn) return report(conn.error(), o.json_out);
  auto& client = *conn->client;

  if (run->parsed()) return cmd_run(client, o, run_command);
  if (ls->parsed()) return cmd_ls(client, o);
  if (top->parsed()) return cmd_top(client, o.color);
  if (nodes->parsed()) return cmd_nodes(client, o.json_out);
  if (dashboard->parsed()) return cmd_dashboard(home, o.json_out);
  if (status->parsed() && o.name.empty()) return cmd_ls(client, o);
  if (status->parsed()) {
    auto r = client.request("GET", "/v1/components/" + o.name);
    if (!r) return report(r.error(), o.json_out);
    return print_component(*r, o.json_out);
  }
  for (auto* c : lifecycle) {
    if (!c->parsed()) continue;
    if (o.name == "all") return cmd_all(client, c->get_name(), o);
    const std::string verb = c->get_name();
    auto r = client.request("POST", "/v1/components/" + o.name + "/" + verb,
                            verb == "stop" ? std::string() : env_body(o).dump(), 10min);
    if (!r) return report(r.error(), o.json_out);
    if (o.wait && r->status / 100 == 2) return wait_settled(client, o.name, o.json_out);
    if (o.json_out) return print_component(*r, true);
    // One line, as for `all`; `berth status` has the whole block.
    auto j = answer_json(*r, o.json_out);
    if (!j) return j.error();
    fmt::print("{}: {}{}\n", o.name, state_cell(*j),
               (*j)["pid"].is_number() ? fmt::format(" (pid {})", (*j)["pid"].get<int>()) : "");
    for (auto& w : j->value("warnings", json::array()))
      fmt::print(stderr, "warning: {}\n", w.get<std::string>());
    return 0;
  }
  if (signal->parsed()) {
    auto got = fetch_json(client, "POST", "/v1/components/" + o.name + "/signal",
                          json{{"signal", sig}, {"leader", leader}}.dump(), 30s, o.json_out);
    if (!got) return got.error();
    if (o.json_out)
      fmt::print("{}\n", got->dump());
    else
      fmt::print("{}: sent {} to {}\n", o.name, sig, leader ? "its leader" : "every process");
    return 0;
  }
  if (scale->parsed()) {
    const json body =
        instances == "reset" ? json{{"reset", true}} : json{{"instances", std::stoi(instances)}};
    // Waits for the new instances to be ready: as long as their starts take.
    auto got = fetch_json(client, "POST", "/v1/components/" + o.name + "/scale", body.dump(), 10min,
                          o.json_out);
    if (!got) return got.error();
    if (o.json_out) {
      fmt::print("{}\n", got->dump());
      return 0;
    }
    fmt::print("{}: {} instance{} ({})\n", o.name, got->value("instances_wanted", 1),
               got->value("instances_wanted", 1) == 1 ? "" : "s", state_cell(*got));
    return 0;
  }
  if (logs->parsed()) {
    lo.json_out = o.json_out;
    lo.color = use_color(no_color);
    return cmd_logs(client, lo);
  }
  if (follow->parsed()) return follow_deployment(client, follow_id, o.json_out);
  if (deploy->parsed() && !attach.empty()) return follow_deployment(client, attach, o.json_out);
  if (deploy->parsed()) {
    if (d.path.empty()) {
      fmt::print(stderr, "berth: deploy needs a directory or a .tar.gz (or --attach ID)\n");
      return 2;
    }
    d.follow = !no_follow;
    d.json_out = o.json_out;
    d.env = env_body(o);
    return cmd_deploy(client, d);
  }
  if (rollback->parsed()) return cmd_rollback(client, o.name, to, !no_follow, o.json_out);
  if (deployments->parsed()) return cmd_deployments(client, o.name, o.json_out);
  if (cache_ls->parsed()) return cmd_cache_ls(client, o.json_out);
  if (cache_rm->parsed()) return cmd_cache_rm(client, cache_key, force, o.json_out);
  if (cache_prune->parsed()) return cmd_cache_prune(client, max_size, all, o.json_out);
  if (rm->parsed()) {
    auto got = fetch_json(client, "DELETE", "/v1/components/" + o.name, "", 10min, o.json_out);
    if (!got) return got.error();
    auto& j = *got;
    if (o.json_out)
      fmt::print("{}\n", j.dump());
    else
      fmt::print("{}: {}\n", o.name, j.value("already", false) ? "already destroyed" : "destroyed");
    // In a cluster, each other node: a node that was down destroys it when it is back; one
    // that was up and failed or never answered fails the command.
    int code = 0;
    for (auto& n : j.value("nodes", json::array())) {
      const std::string status = n.value("status", "");
      if (status != "success" && status != "down") code = 1;
      if (o.json_out) continue;
      std::string line = status == "success" ? "destroyed" : status;
      if (n.value("error", json()).is_object()) line += ": " + n["error"].value("message", "");
      fmt::print("  {}: {}\n", n.value("node", ""), line);
    }
    return code;
  }
  if (reconcile->parsed()) {
    auto got =
        fetch_json(client, "POST", "/v1/reconcile", json{{"live", live}}.dump(), 10min, o.json_out);
    if (!got) return got.error();
    auto& j = *got;
    if (o.json_out) {
      fmt::print("{}\n", j.dump());
    } else {
      for (auto& n : j["dropped"]) fmt::print("dropped  {}\n", n.get<std::string>());
      for (auto& k : j["kept"])
        fmt::print("kept     {} ({})\n", k.value("name", ""), k.value("why", ""));
      for (auto& n : j["healed"]) fmt::print("healed   {}\n", n.get<std::string>());
      for (auto& f : j["failed"])
        fmt::print("failed   {} ({})\n", f.value("name", ""), f.value("error", ""));
    }
    return j["failed"].empty() ? 0 : 1;
  }
  return 2;
}

}  // namespace berth::cli
