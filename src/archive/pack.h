// Packs a component directory into a tar.gz for upload: regular files, directories and
// symlinks, skipping `.git`, `node_modules` and what the root's .berthignore excludes.
#pragma once
#include <cstdint>
#include <filesystem>

#include "core/error.h"

namespace berth {

struct PackStats {
  uint64_t files = 0, bytes = 0;
};

// Writes OUT (replacing it). Paths in the archive are relative to DIR.
Result<PackStats> pack_directory(const std::filesystem::path& dir,
                                 const std::filesystem::path& out);

}  // namespace berth
