#include "config/infer.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/fs_util.h"

namespace berth {
namespace fs = std::filesystem;

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

bool valid_type(std::string_view t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-';
  });
}

// As TOML: a shell line as a string, else an argv array (JSON's escapes are TOML's too).
std::string toml_command(const std::vector<std::string>& argv) {
  if (argv.size() == 3 && argv[0] == "/bin/sh" && argv[1] == "-c")
    return nlohmann::json(argv[2]).dump();
  return nlohmann::json(argv).dump();
}

}  // namespace

Result<std::vector<ProcfileEntry>> parse_procfile(std::string_view text,
                                                  const std::string& origin) {
  std::vector<ProcfileEntry> out;
  std::set<std::string> seen;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    auto colon = t.find(':');
    std::string type = colon == std::string::npos ? "" : trim(t.substr(0, colon));
    if (!valid_type(type))
      return fail(Code::kBadManifest,
                  fmt::format("{}:{}: expected `TYPE: command` (TYPE of letters, digits, - or _)",
                              origin, n));
    std::string command = trim(t.substr(colon + 1));
    if (command.empty())
      return fail(Code::kBadManifest, fmt::format("{}:{}: `{}:` has no command", origin, n, type));
    if (!seen.insert(type).second)
      return fail(Code::kBadManifest,
                  fmt::format("{}:{}: process type `{}` appears twice", origin, n, type));
    out.push_back({type, command});
  }
  std::stable_partition(out.begin(), out.end(), [](auto& e) { return e.type == "web"; });
  return out;
}

Result<Inference> infer_run(const fs::path& dir, const std::string& proc_type) {
  std::error_code ec;
  if (auto procfile = dir / "Procfile"; fs::exists(procfile, ec)) {
    auto text = read_file(procfile);
    BERTH_TRY(text);
    auto entries = parse_procfile(*text, procfile.string());
    BERTH_TRY(entries);
    if (entries->empty())
      return fail(Code::kBadManifest, procfile.string() + " lists no process type");
    const ProcfileEntry* pick = nullptr;
    if (!proc_type.empty()) {
      for (auto& e : *entries)
        if (e.type == proc_type) pick = &e;
      if (!pick)
        return fail(Code::kBadManifest,
                    fmt::format("{} has no process type `{}`", procfile.string(), proc_type));
    } else if (entries->front().type == "web" || entries->size() == 1) {
      pick = &entries->front();
    } else {
      return fail(
          Code::kBadManifest,
          fmt::format("{} has no `web:` and several process types; name one", procfile.string()));
    }
    return Inference{{"/bin/sh", "-c", pick->command}, "Procfile " + pick->type};
  }
  if (!proc_type.empty())
    return fail(Code::kBadManifest, fmt::format("{} has no Procfile (asked for its `{}` type)",
                                                dir.string(), proc_type));

  if (auto pkg = dir / "package.json"; fs::exists(pkg, ec)) {
    auto text = read_file(pkg);
    BERTH_TRY(text);
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return fail(Code::kBadManifest, pkg.string() + " is not a JSON object");
    if (j.contains("scripts") && j["scripts"].is_object() && j["scripts"].contains("start") &&
        j["scripts"]["start"].is_string())
      return Inference{{"npm", "start"}, "package.json scripts.start"};
    if (j.contains("main") && j["main"].is_string() && !j["main"].get<std::string>().empty())
      return Inference{{"node", j["main"].get<std::string>()}, "package.json main"};
  }

  std::vector<std::string> found;
  for (const char* f : {"app.py", "main.py", "server.js", "index.js"})
    if (fs::is_regular_file(dir / f, ec)) found.push_back(f);
  if (found.size() == 1) {
    auto argv = script_command(dir / found[0]);
    BERTH_TRY(argv);
    (*argv).back() = found[0];  // relative: the component runs in its own directory
    return Inference{*argv, found[0]};
  }
  if (found.size() > 1) {
    std::string list;
    for (auto& f : found) list += (list.empty() ? "" : ", ") + f;
    return fail(Code::kBadManifest,
                fmt::format("{} has no berth.toml and several entry files ({}); run one with "
                            "`berth run {}`, or write a berth.toml (`berth init`)",
                            dir.string(), list, found[0]));
  }
  return fail(Code::kBadManifest,
              fmt::format("{}: no berth.toml, and nothing to infer a command from (a Procfile, "
                          "package.json with scripts.start or main, or one of app.py, main.py, "
                          "server.js, index.js); `berth init` writes a berth.toml to fill in, or "
                          "run a command with `berth run -- COMMAND`",
                          dir.string()));
}

Result<std::vector<std::string>> script_command(const fs::path& file) {
  const std::string ext = file.extension().string();
  const std::string path = file.string();
  if (ext == ".js" || ext == ".mjs" || ext == ".cjs") return std::vector<std::string>{"node", path};
  if (ext == ".py") return std::vector<std::string>{"python3", path};
  if (ext == ".sh") return std::vector<std::string>{"/bin/sh", path};
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
    return std::vector<std::string>{fs::absolute(file).string()};
  return fail(Code::kBadManifest,
              fmt::format("{}: berth runs .js/.mjs/.cjs with node, .py with python3, .sh with sh, "
                          "or an executable file; for anything else use `berth run -- COMMAND`",
                          path));
}

std::string name_from_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return "";
  static const std::set<std::string> interpreters = {
      "node", "nodejs", "python", "python3", "deno", "bun", "ruby", "perl", "php", "sh", "bash"};
  auto stem = [](const std::string& s) { return fs::path(s).stem().string(); };
  const std::string program = fs::path(argv[0]).filename().string();
  if (interpreters.contains(program))
    for (size_t i = 1; i < argv.size(); ++i) {
      if (argv[i] == "-m" && i + 1 < argv.size()) return argv[i + 1];
      if (!argv[i].starts_with("-")) return stem(argv[i]);
    }
  return stem(program);
}

std::string commented_manifest(const std::string& name, const Inference& inferred) {
  return fmt::format(
      "# Written by `berth init` from {how}. Every key: docs/manifest.md.\n"
      "name = \"{name}\"\n"
      "\n"
      "[run]\n"
      "command = {argv}\n"
      "# env = {{ NODE_ENV = \"production\" }}  # over the daemon's [env] base\n"
      "# env_file = \".env\"                   # the default when there; read at every start\n"
      "\n"
      "# When is it up? Without [ready] it is ready once its output is quiet for a moment.\n"
      "# [ready]\n"
      "# port = 3000             # ready once the app itself listens on this port\n"
      "# marker = \"listening\"    # or once a line matching this pattern appears\n"
      "\n"
      "# [watch]\n"
      "# enabled = true          # restart when files change (like berth run --watch)\n"
      "\n"
      "# [env.staging]           # chosen with --profile staging\n"
      "# API_URL = \"https://staging.example.com\"\n",
      fmt::arg("how", inferred.how), fmt::arg("name", name),
      fmt::arg("argv", toml_command(inferred.argv)));
}

}  // namespace berth
