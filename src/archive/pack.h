// Packs a directory into a tar.gz: a component for upload (regular files, directories and
// symlinks, skipping `.git`, `node_modules` and what the root's .gitignore and .berthignore
// exclude), or a whole tree as it is (an install cache entry sent to another node).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"

namespace berth {

struct PackStats {
  uint64_t files = 0, bytes = 0;
  // The outermost paths left out, in walk order (a directory once, as `dir/`, not its files).
  std::vector<std::string> left_out;
};

// Writes OUT (replacing it). Paths in the archive are relative to DIR.
Result<PackStats> pack_directory(const std::filesystem::path& dir,
                                 const std::filesystem::path& out);
// Everything under DIR, nothing skipped, compressed for speed (gzip level 1).
Result<PackStats> pack_tree(const std::filesystem::path& dir, const std::filesystem::path& out);

}  // namespace berth
