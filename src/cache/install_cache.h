// The shared install cache (lesson 5). An entry is the outputs of one install (node_modules,
// ...) stored under its content key; several daemons, on one machine or many sharing a mount,
// install a given key at most once at a time and never see a half-written entry.
//
// Layout under the cache dir:
//   KEY/                 the entry: its outputs plus .berth-entry.json (the entry manifest)
//   .done/KEY            the sentinel, written (temp, fsync, rename) after the entry is complete;
//                        its mtime is the entry's last use
//   .locks/KEY.lock      byte 0: the install lock (KeyLocks); byte 1: the use mark, held shared
//                        by every live release made from the entry (OFD locks, never unlinked)
//   .partial/KEY.RAND/   an entry being stored or fetched; .trash/ entries being removed
//   KEY/.berth-pack.tar.gz  in cluster mode: the entry packed, served to nodes that miss
//
// In a cluster whose nodes do not share the directory, share_through() puts the install lock
// in etcd and lets a node that misses fetch the entry from the node that installed it.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cache/cache_key.h"
#include "cache/entry_share.h"
#include "cache/key_locks.h"
#include "cache/ofd_lock.h"
#include "cache/tree_clone.h"
#include "core/error.h"

namespace berth {

struct CacheOptions {
  std::filesystem::path dir;
  std::string lock = "ofd";  // or "lease-file", or "etcd" (given by share_through())
  LeaseTiming lease;
  CloneMode link = CloneMode::kLink;
  uint64_t max_bytes = 0;  // 0: no limit; else pruned (least recently used first) after a store
  std::string who;         // how this process describes itself to waiters
};

struct CacheEntry {
  std::string key, command;
  std::vector<std::string> outputs;
  uint64_t files = 0, bytes = 0;
  int64_t created_ms = 0, last_used_ms = 0;
  bool in_use = false, busy = false;  // in use by a live release; being installed or removed
  nlohmann::json basis;
  nlohmann::json to_json() const;
};

// A live release's claim on an entry: a shared OFD lock on byte 1 of the key's lock file.
using UseMark = std::unique_ptr<OfdLock>;

struct CacheFill {
  CacheKey key;
  std::string command;
  std::filesystem::path release;          // the install runs here; outputs are linked in here
  std::vector<std::string> outputs;       // top-level paths (relative) that the install produces
  std::function<Result<void>()> install;  // runs the install in `release`; blocking
  LockWait wait;
};

struct CacheOutcome {
  bool hit = false;      // the install did not run here
  bool fetched = false;  // a hit fetched from another node (EntryShare)
  bool waited = false;   // another installer of this key was waited for
  CacheEntry entry;
  CloneStats placed;  // outputs put into the release (a hit) or into the cache (a miss)
  UseMark use;
  std::string warning;  // a miss whose install succeeded but could not be stored
};

struct PruneReport {
  std::vector<std::string> removed, kept_in_use;
  uint64_t freed_bytes = 0, remaining_bytes = 0;
  size_t partials_swept = 0;
};

class InstallCache {
 public:
  static Result<std::unique_ptr<InstallCache>> open(CacheOptions opts);

  // The cluster's lock backend and entry share (lock "etcd"). Call before any install starts.
  void share_through(std::unique_ptr<KeyLocks> locks, std::shared_ptr<EntryShare> share);

  // The whole protocol; blocking. A hit (sentinel + entry manifest) takes no install lock and
  // never waits. A miss asks the share (if any) for the entry, then takes the key's lock,
  // checks both again, installs, stores the outputs under the key (packed for the share),
  // then writes the sentinel and announces it. A failed install leaves no sentinel and no
  // partial directory. The outcome's use mark keeps the entry from being pruned while held.
  Result<CacheOutcome> get_or_install(const CacheFill& fill);
  // A filed entry's pack, for a node that fetches it; nullopt when there is none.
  std::optional<std::filesystem::path> pack_of(const std::string& key) const;
  // With a share: says again that this cache holds each filed entry it has a pack of, and
  // returns how many. In a cluster those announcements live on the node's lease, so a new
  // lease (the old one lapsed, or the daemon restarted) starts with none, and a node that
  // misses would install what this one holds. Blocking (hashes each pack, reaches etcd);
  // never on the event loop. Stops at the first announcement that fails.
  Result<size_t> announce_held();

  // Lock-free hit check.
  std::optional<CacheEntry> lookup(const std::string& key) const;
  // Marks the entry in use; fails with `cache_entry_busy` while it is being removed.
  Result<UseMark> use(const std::string& key) const;
  // Entries, newest use first, with in_use/busy measured now.
  std::vector<CacheEntry> list() const;
  // The bytes of every complete entry (what list() sums, without asking about locks or uses).
  uint64_t total_bytes() const;
  // A full key, or a unique prefix of at least 6 characters. Errors: cache_entry_not_found,
  // cache_key_ambiguous.
  Result<std::string> resolve(const std::string& key_or_prefix) const;
  // Errors: cache_entry_not_found, cache_entry_in_use (unless force: releases hold their own
  // links or copies, so they keep working), cache_entry_busy (an install or removal holds it).
  Result<CacheEntry> remove(const std::string& key, bool force);
  // Removes least recently used entries not in use until the total is at most `max_bytes`
  // (every unused entry when `max_bytes` is 0 and `all`), and sweeps what dead installers left.
  PruneReport prune(uint64_t max_bytes, bool all = false);

  const CacheOptions& options() const { return opts_; }
  const KeyLocks& locks() const { return *locks_; }
  ToolIds& tools() { return tools_; }

 private:
  explicit InstallCache(CacheOptions opts);
  std::filesystem::path entry_dir(const std::string& key) const { return opts_.dir / key; }
  std::filesystem::path sentinel(const std::string& key) const { return opts_.dir / ".done" / key; }
  std::filesystem::path lock_file(const std::string& key) const {
    return opts_.dir / ".locks" / (key + ".lock");
  }
  // The key's use byte taken exclusively (held while the returned lock lives), or nullopt
  // while some live release holds its use mark.
  Result<std::optional<OfdLock>> unused(const std::string& key) const;
  Result<CloneStats> place(const CacheEntry& e, const std::filesystem::path& release) const;
  // `packed` is set when the share packed the entry.
  Result<CacheEntry> store(const CacheFill& fill, const HeldLock& held, CloneStats& stats,
                           std::optional<PackedEntry>& packed);
  size_t sweep_dead(const std::string& key);  // under the key's lock; returns what it removed
  Result<void> discard(const std::string& key);
  Result<std::optional<CacheOutcome>> try_hit(const CacheFill& fill, bool waited);
  // A hit fetched through the share, filed here first; nullopt when no one had it.
  Result<std::optional<CacheOutcome>> try_fetch(const CacheFill& fill, bool waited);
  // Makes the complete `partial` directory the entry `key` with sentinel `manifest`.
  Result<void> file(const std::string& key, const std::filesystem::path& partial,
                    const std::string& manifest);

  CacheOptions opts_;
  std::unique_ptr<KeyLocks> locks_;
  std::shared_ptr<EntryShare> share_;
  ToolIds tools_;
};

}  // namespace berth
