// Entries that other daemons hold but this cache's directory does not: cluster nodes with
// separate cache directories install a key once between them, and the rest fetch what that
// install produced. The cache calls this from its protocol thread (blocking calls), never on
// the event loop. The cluster implements it (cluster/cache_share.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/error.h"

namespace berth {

// An entry packed for others: the pack's sha256 (lowercase hex) and size.
struct PackedEntry {
  std::string digest;
  uint64_t size = 0;
};

class EntryShare {
 public:
  virtual ~EntryShare() = default;
  // Fills `into` (an empty directory) with entry `key` (its outputs, its entry manifest and
  // its pack) fetched from a holder and verified against the digest the holder announced.
  // nullopt when nobody holds it or no holder could serve it: the caller installs instead.
  virtual Result<std::optional<PackedEntry>> fetch(const std::string& key,
                                                   const std::filesystem::path& into) = 0;
  // Before the entry at `dir` (complete, not yet visible) is filed: packs it into `dir` for
  // the others to fetch.
  virtual Result<PackedEntry> pack(const std::filesystem::path& dir) = 0;
  // The entry `key` is filed and its pack (from pack(), or fetched) can be served: says so,
  // so the next node that misses fetches it instead of installing.
  virtual Result<void> announce(const std::string& key, const PackedEntry& packed) = 0;
  // The digest and size of a pack made or fetched before (to announce it again).
  virtual Result<PackedEntry> describe(const std::filesystem::path& pack) = 0;
  // The pack inside a filed entry's directory (served to peers).
  static std::filesystem::path pack_path(const std::filesystem::path& entry_dir) {
    return entry_dir / ".berth-pack.tar.gz";
  }
};

}  // namespace berth
