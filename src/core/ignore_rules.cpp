#include "core/ignore_rules.h"

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

std::optional<IgnoreRules::Parsed> IgnoreRules::parse(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty() || line.front() == '#') return std::nullopt;
  Parsed p;
  if (line.front() == '!') {
    p.negate = true;
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    p.dir_only = true;
    line.remove_suffix(1);
  }
  if (!line.empty() && line.front() == '/') {
    p.anchored = true;
    line.remove_prefix(1);
  }
  if (line.empty()) return std::nullopt;
  p.anchored = p.anchored || line.find('/') != std::string_view::npos;
  p.glob = std::string(line);
  return p;
}

void IgnoreRules::add(std::string_view line) {
  auto p = parse(line);
  if (!p) return;
  auto compiled = Pattern::glob(p->glob);
  if (!compiled) return;
  rules_.push_back({std::move(*compiled), p->negate, p->dir_only, p->anchored});
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
  // What git would not commit (.env, secrets, build output) stays here too; .berthignore comes
  // last so a `!dist/` there sends back what .gitignore keeps out.
  rules.add_file(root / ".gitignore");
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
    std::string_view glob = i;
    if (glob.starts_with('/')) glob.remove_prefix(1);
    if (auto compiled = Pattern::glob(glob))
      rules.include_.push_back(
          {std::move(*compiled), false, false, glob.find('/') != std::string_view::npos});
  }
  return rules;
}

bool IgnoreRules::match(const Rule& r, std::string_view rel) {
  if (r.anchored) return r.pattern.full_match(rel);
  auto slash = rel.rfind('/');
  return r.pattern.full_match(slash == std::string_view::npos ? rel : rel.substr(slash + 1));
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
