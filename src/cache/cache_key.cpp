#include "cache/cache_key.h"

#include <gnu/libc-version.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <sstream>

#include "core/fs_util.h"
#include "core/sha256.h"

namespace berth {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::optional<fs::path> on_path(const std::string& tool) {
  if (tool.find('/') != std::string::npos) return fs::path(tool);
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    auto p = fs::path(d.empty() ? "." : d) / tool;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

// A JS tool lives in a package: name@version of the nearest package.json that has both.
std::optional<std::string> package_identity(const fs::path& real) {
  auto dir = real.parent_path();
  for (int up = 0; up < 4 && !dir.empty() && dir != dir.root_path();
       ++up, dir = dir.parent_path()) {
    auto text = read_file(dir / "package.json");
    if (!text) continue;
    auto pkg = json::parse(*text, nullptr, false);
    if (pkg.is_object() && pkg.value("name", json()).is_string() &&
        pkg.value("version", json()).is_string())
      return pkg["name"].get<std::string>() + "@" + pkg["version"].get<std::string>();
  }
  return std::nullopt;
}

std::string file_digest(const fs::path& p) {
  auto text = read_file(p);
  return text ? "sha256:" + Sha256::of(*text) : "unreadable";
}

std::string platform() {
  utsname u{};
  ::uname(&u);
  return std::string(u.sysname) + "-" + u.machine + "-glibc" + gnu_get_libc_version();
}

}  // namespace

std::string first_program(const std::string& command) {
  std::stringstream words(command);
  for (std::string w; words >> w;)
    if (w.find('=') == std::string::npos) return w;
  return {};
}

std::string ToolIds::identify(const std::string& tool) {
  auto where = on_path(tool);
  if (!where) return "missing";
  std::error_code ec;
  auto real = fs::canonical(*where, ec);
  if (ec) return "missing";
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0) return "missing";
  auto memo_key = real.string() + " " + std::to_string(st.st_size) + " " +
                  std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  {
    std::lock_guard lk(mu_);
    if (auto it = memo_.find(memo_key); it != memo_.end()) return it->second;
  }
  auto id = package_identity(real).value_or(file_digest(real));
  std::lock_guard lk(mu_);
  memo_[memo_key] = id;
  return id;
}

Result<CacheKey> cache_key(const std::string& command, const fs::path& dir,
                           const std::vector<std::string>& files, ToolIds& tools) {
  json basis = {{"version", 1}, {"command", command}, {"platform", platform()}};
  json& used = basis["tools"] = json::object();
  if (auto prog = first_program(command); !prog.empty()) {
    used[prog] = tools.identify(prog);
    // JS package managers run on node; native modules are built for its ABI.
    for (const char* js : {"npm", "npx", "pnpm", "yarn"})
      if (fs::path(prog).filename() == js) used["node"] = tools.identify("node");
  }
  json& inputs = basis["inputs"] = json::object();
  for (const auto& f : files) {
    auto norm = fs::path(f).lexically_normal();
    if (f.empty() || norm.is_absolute() || *norm.begin() == "..")
      return fail(Code::kBadManifest,
                  "[install] inputs: \"" + f + "\" must be a path inside the release");
    std::error_code ec;
    if (!fs::is_regular_file(dir / f, ec)) {
      inputs[f] = nullptr;
      continue;
    }
    auto text = read_file(dir / f);
    BERTH_TRY(text);
    inputs[f] = Sha256::of(*text);
  }
  return CacheKey{Sha256::of(basis.dump()), basis};
}

}  // namespace berth
