// A stat-based picture of a watched tree (path, size, mtime, inode of every file that
// counts), for the polling fallback and for pause/resume: comparing two snapshots says
// whether, and where, anything changed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/ignore_rules.h"

namespace berth {

struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  bool operator==(const FileStamp&) const = default;
};

using Snapshot = std::unordered_map<std::string, FileStamp>;  // root-relative path -> stamp

// Walks `root` without following symlinks, skipping ignored directories and files that do
// not count. Directories that vanish during the walk are skipped.
Snapshot scan_tree(const std::filesystem::path& root, const IgnoreRules& rules);
// A path that was added, removed or changed between `before` and `after`, if any.
std::optional<std::string> first_difference(const Snapshot& before, const Snapshot& after);

}  // namespace berth
