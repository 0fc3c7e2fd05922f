// Puts a copy of a directory tree somewhere else as cheaply as the filesystem allows: hard
// links on the same filesystem, else a reflink (FICLONE), else copy_file_range, else a plain
// copy. Used to move installs into the cache and back out into releases.
#pragma once
#include <cstdint>
#include <filesystem>

#include "core/error.h"

namespace berth {

enum class CloneMode { kLink, kCopy };  // kLink falls back to copying where it must

struct CloneStats {
  uint64_t files = 0, bytes = 0, linked = 0, copied = 0;
  CloneStats& operator+=(const CloneStats& o) {
    files += o.files, bytes += o.bytes, linked += o.linked, copied += o.copied;
    return *this;
  }
};

// `to` must not exist. `from` is a directory, a regular file or a symlink. Regular files,
// directories and symlinks (as links, never followed) are cloned with their modes; anything
// else is skipped. On error `to` may be partly built.
Result<CloneStats> clone_tree(const std::filesystem::path& from, const std::filesystem::path& to,
                              CloneMode mode);

}  // namespace berth
