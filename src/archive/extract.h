// Safe extraction of an uploaded tar archive (any compression libarchive reads) into a
// staging directory. Every path is resolved by the kernel beneath the staging root with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so no entry, and no symlink an attacker
// planted before, can make berth write outside it or through a link. Link targets, sizes,
// counts, depth and the compression ratio are checked as the archive streams.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/error.h"

namespace berth {

struct ExtractLimits {
  uint64_t max_bytes = 4ULL << 30;  // sum of file contents
  uint64_t max_entries = 200'000;
  size_t max_path = 1024;           // bytes of one entry's path
  size_t max_depth = 64;            // directories deep
  double max_ratio = 200;           // uncompressed tar bytes per compressed byte
  uint64_t ratio_floor = 64 << 20;  // the ratio is only judged past this many bytes
};

struct ExtractStats {
  uint64_t entries = 0, files = 0, bytes = 0;
  uint64_t setid_stripped = 0;     // setuid/setgid/sticky bits removed
  std::optional<std::string> top;  // the single top-level directory holding everything
};

// Extracts ARCHIVE into DEST (an existing directory), then makes it durable with one syncfs.
// Contract: on error nothing exists outside DEST, and the caller removes DEST. Error codes:
// archive_absolute_path, archive_path_traversal, archive_symlink_escape,
// archive_hardlink_escape, archive_through_symlink, archive_entry_conflict,
// archive_special_file, archive_too_large, archive_too_many_entries, archive_path_too_long,
// archive_too_deep, archive_bomb, archive_truncated, archive_invalid, archive_empty,
// extract_failed (I/O), cancelled (when *cancel became true).
Result<ExtractStats> extract_archive(const std::filesystem::path& archive,
                                     const std::filesystem::path& dest, const ExtractLimits& limits,
                                     const std::atomic<bool>* cancel = nullptr);

}  // namespace berth
