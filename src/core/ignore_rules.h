// Which paths a component's watcher ignores: sensible defaults (.git, node_modules at any
// depth, editor swap files, logs, caches), the manifest's [watch] ignore globs and the root's
// .berthignore (gitignore syntax: `#` comments, `!` negation, trailing `/` for directories,
// a leading or inner `/` anchors to the root, `**` crosses directories). [watch] include,
// when set, narrows which files count as changes; directories are still walked. Every glob is
// a Pattern (RE2): matching a path is linear in its length whatever the glob.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/pattern.h"

namespace berth {

class IgnoreRules {
 public:
  // Defaults + `extra` (manifest globs) + ROOT/.berthignore if present. A glob that does not
  // compile is skipped, as git skips a bad .gitignore line; the manifest has refused bad
  // [watch] globs already.
  static IgnoreRules load(const std::filesystem::path& root, const std::vector<std::string>& extra,
                          const std::vector<std::string>& include);
  // What `berth deploy` leaves out of an upload: .git, node_modules, ROOT/.gitignore, then
  // ROOT/.berthignore (whose `!` lines can take back what .gitignore left out).
  static IgnoreRules packing(const std::filesystem::path& root);
  // `rel` is relative to the root, '/'-separated, no leading '/'.
  bool ignored(std::string_view rel, bool is_dir) const;
  // A file change that counts (not ignored and, with includes, matching one).
  bool counts(std::string_view rel) const;

  static const std::vector<std::string>& defaults();

 private:
  struct Rule {
    Pattern pattern;
    bool negate = false, dir_only = false;
    bool anchored = false;  // matched against the whole relative path, else the base name
  };
  struct Parsed {
    std::string glob;
    bool negate = false, dir_only = false, anchored = false;
  };
  static std::optional<Parsed> parse(std::string_view line);
  void add(std::string_view line);
  void add_file(const std::filesystem::path& file);
  static bool match(const Rule& r, std::string_view rel);

  std::vector<Rule> rules_;
  std::vector<Rule> include_;
};

}  // namespace berth
