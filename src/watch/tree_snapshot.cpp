#include "watch/tree_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <vector>

#include "core/unique_fd.h"

namespace berth {

Snapshot scan_tree(const std::filesystem::path& root, const IgnoreRules& rules) {
  Snapshot snap;
  std::vector<std::string> stack = {""};
  while (!stack.empty()) {
    std::string rel = std::move(stack.back());
    stack.pop_back();
    auto full = rel.empty() ? root : root / rel;
    UniqueFd dfd(::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!dfd) continue;
    DIR* dir = ::fdopendir(::dup(dfd.get()));
    if (!dir) continue;
    while (auto* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string child = rel.empty() ? std::string(name) : rel + "/" + std::string(name);
      struct stat st {};
      if (::fstatat(dfd.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (!rules.ignored(child, true)) stack.push_back(std::move(child));
      } else if (rules.counts(child)) {
        snap[child] = {static_cast<uint64_t>(st.st_size),
                       static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                       static_cast<uint64_t>(st.st_ino)};
      }
    }
    ::closedir(dir);
  }
  return snap;
}

std::optional<std::string> first_difference(const Snapshot& before, const Snapshot& after) {
  for (const auto& [path, stamp] : after) {
    auto it = before.find(path);
    if (it == before.end() || !(it->second == stamp)) return path;
  }
  for (const auto& [path, stamp] : before)
    if (!after.contains(path)) return path;
  return std::nullopt;
}

}  // namespace berth
