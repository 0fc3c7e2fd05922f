#include "watch/ignore_rules.h"

#include <fnmatch.h>

#include <sstream>

#include "core/fs_util.h"

namespace berth {

const std::vector<std::string>& IgnoreRules::defaults() {
  static const std::vector<std::string> kDefaults = {
      ".git/",  "node_modules/", ".hg/",       ".svn/",       "*.swp",
      "*.swo",  "*.swx",         "*~",         ".#*",         "#*#",
      "4913",   "*.log",         "npm-debug*", "yarn-error*", "pnpm-debug*",
      ".tmp-*", "__pycache__/",  "*.pyc",      ".DS_Store",
  };
  return kDefaults;
}

void IgnoreRules::add(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty() || line.front() == '#') return;
  Rule r;
  if (line.front() == '!') {
    r.negate = true;
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    r.dir_only = true;
    line.remove_suffix(1);
  }
  if (!line.empty() && line.front() == '/') {
    r.anchored = true;
    line.remove_prefix(1);
  }
  if (line.empty()) return;
  r.anchored = r.anchored || line.find('/') != std::string_view::npos;
  r.deep = line.find("**") != std::string_view::npos;
  r.glob = std::string(line);
  rules_.push_back(std::move(r));
}

void IgnoreRules::add_file(const std::filesystem::path& file) {
  if (auto text = read_file(file)) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) add(line);
  }
}

IgnoreRules IgnoreRules::packing(const std::filesystem::path& root) {
  IgnoreRules rules;
  rules.add(".git/");
  rules.add("node_modules/");
  rules.add_file(root / ".berthignore");
  return rules;
}

IgnoreRules IgnoreRules::load(const std::filesystem::path& root,
                              const std::vector<std::string>& extra,
                              const std::vector<std::string>& include) {
  IgnoreRules rules;
  for (auto& d : defaults()) rules.add(d);
  for (auto& e : extra) rules.add(e);
  rules.add_file(root / ".berthignore");
  for (auto& i : include) {
    Rule r;
    r.glob = i.starts_with("/") ? i.substr(1) : i;
    r.anchored = r.glob.find('/') != std::string::npos;
    r.deep = r.glob.find("**") != std::string::npos;
    rules.include_.push_back(std::move(r));
  }
  return rules;
}

bool IgnoreRules::match(const Rule& r, std::string_view rel) {
  std::string path(rel);
  if (r.anchored) {
    // `**` may span directories: without FNM_PATHNAME, `*` crosses '/' too.
    if (r.deep) {
      std::string g = r.glob;
      // "a/**/b" must also match "a/b".
      for (size_t p; (p = g.find("/**/")) != std::string::npos;) {
        std::string collapsed = g.substr(0, p) + "/" + g.substr(p + 4);
        if (::fnmatch(collapsed.c_str(), path.c_str(), 0) == 0) return true;
        g.replace(p, 4, "/*/");
      }
      if (g.starts_with("**/") && ::fnmatch(g.substr(3).c_str(), path.c_str(), 0) == 0) return true;
      return ::fnmatch(r.glob.c_str(), path.c_str(), 0) == 0;
    }
    return ::fnmatch(r.glob.c_str(), path.c_str(), FNM_PATHNAME) == 0;
  }
  auto slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return ::fnmatch(r.glob.c_str(), base.c_str(), 0) == 0;
}

bool IgnoreRules::ignored(std::string_view rel, bool is_dir) const {
  bool out = false;
  for (const auto& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    if (out != r.negate) continue;  // only a rule that could flip the verdict matters
    if (match(r, rel)) out = !r.negate;
  }
  return out;
}

bool IgnoreRules::counts(std::string_view rel) const {
  if (ignored(rel, false)) return false;
  if (include_.empty()) return true;
  for (const auto& r : include_)
    if (match(r, rel)) return true;
  return false;
}

}  // namespace berth
