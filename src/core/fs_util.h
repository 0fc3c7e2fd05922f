// Small file helpers with explicit error values and crash-safe writes.
#pragma once
#include <filesystem>
#include <string>

#include "core/error.h"

namespace berth {

Result<std::string> read_file(const std::filesystem::path& p);
// Writes via a temp file, fsync and rename, so readers see the old or the new content only.
Result<void> write_file_atomic(const std::filesystem::path& p, std::string_view data,
                               int mode = 0644);
// Last `max_bytes` of a file (whole lines only), for log tails.
std::string read_tail(const std::filesystem::path& p, size_t max_bytes);

}  // namespace berth
