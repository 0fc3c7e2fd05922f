#include "cli/run_plan.h"

#include <fmt/format.h>

#include <fstream>

#include "config/infer.h"
#include "config/manifest.h"
#include "core/fs_util.h"

namespace berth::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

Result<std::vector<json>> plan_run(const RunTarget& t, const fs::path& cwd) {
  std::error_code ec;
  fs::path target = t.target.empty() ? cwd : fs::absolute(cwd / t.target, ec).lexically_normal();
  auto body = [&](const fs::path& dir) {
    json b = {{"dir", dir.string()}, {"watch", t.watch}};
    if (!t.name.empty()) b["name"] = t.name;
    return b;
  };
  if (!t.command.empty()) {
    if (!t.target.empty() && !fs::is_directory(target, ec))
      return fail(Code::kBadDir, target.string() + " is not a directory (to run a command in)");
    json b = body(target);
    b["command"] = t.command;
    if (t.name.empty()) b["name"] = name_from_command(t.command);
    return std::vector<json>{b};
  }
  if (fs::is_regular_file(target, ec)) {
    auto argv = script_command(target);
    BERTH_TRY(argv);
    if (argv->size() == 2) (*argv)[1] = target.filename().string();  // run from its directory
    json b = body(target.parent_path());
    b["command"] = *argv;
    if (t.name.empty()) b["name"] = target.stem().string();
    return std::vector<json>{b};
  }
  if (!fs::is_directory(target, ec))
    return fail(Code::kBadDir, target.string() + " is neither a directory nor a file");
  if (fs::exists(target / "berth.toml", ec) || !fs::exists(target / "Procfile", ec))
    return std::vector<json>{body(target)};
  // A Procfile and no berth.toml: every process type is a component of its own.
  auto text = read_file(target / "Procfile");
  BERTH_TRY(text);
  auto entries = parse_procfile(*text, (target / "Procfile").string());
  BERTH_TRY(entries);
  const std::string base = t.name.empty() ? target.filename().string() : t.name;
  std::vector<json> out;
  for (auto& e : *entries) {
    json b = body(target);
    b["name"] = base + "-" + e.type;
    b["procfile"] = e.type;
    out.push_back(b);
  }
  if (out.empty())
    return fail(Code::kBadManifest, (target / "Procfile").string() + " lists no process type");
  return out;
}

Result<std::string> init_manifest(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(Code::kBadDir, dir.string() + " is not a directory");
  const auto path = dir / "berth.toml";
  if (fs::exists(path, ec))
    return fail(Code::kBadManifest,
                path.string() + " exists already; berth init writes only a new one");
  auto inferred = infer_run(dir);
  BERTH_TRY(inferred);
  const std::string text = commented_manifest(
      name.empty() ? fs::absolute(dir).lexically_normal().filename().string() : name, *inferred);
  // What init writes must load: a name that is not valid is refused before anything is written.
  BERTH_TRY(parse_manifest(text, path.string()));
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return fail(Code::kBadDir, "cannot write " + path.string());
  return inferred->how;
}

}  // namespace berth::cli
