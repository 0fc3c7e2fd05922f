#include "cache/install_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "core/duration.h"
#include "core/fs_util.h"
#include "core/random_id.h"
#include "core/unique_fd.h"

namespace berth {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr off_t kUseByte = 1;
constexpr const char* kEntryManifest = ".berth-entry.json";

bool is_key(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void fsync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

CacheEntry entry_from(const json& j) {
  CacheEntry e;
  e.key = j.value("key", "");
  e.command = j.value("command", "");
  e.outputs = j.value("outputs", std::vector<std::string>{});
  e.files = j.value("files", uint64_t{0});
  e.bytes = j.value("bytes", uint64_t{0});
  e.created_ms = j.value("created_ms", int64_t{0});
  e.basis = j.value("basis", json::object());
  return e;
}

}  // namespace

json CacheEntry::to_json() const {
  return {{"key", key},         {"command", command},
          {"outputs", outputs}, {"files", files},
          {"bytes", bytes},     {"created_ms", created_ms},
          {"basis", basis},     {"last_used_ms", last_used_ms},
          {"in_use", in_use},   {"busy", busy}};
}

InstallCache::InstallCache(CacheOptions opts) : opts_(std::move(opts)) {}

Result<std::unique_ptr<InstallCache>> InstallCache::open(CacheOptions opts) {
  if (opts.lock != "ofd" && opts.lock != "lease-file" && opts.lock != "etcd")
    return fail(Code::kBadConfig, "[cache] lock: expected \"ofd\", \"lease-file\" or \"etcd\"");
  if (opts.lease.stale <= opts.lease.heartbeat)
    return fail(Code::kBadConfig, "[cache] lease_stale must be longer than lease_heartbeat");
  for (const char* sub : {"", ".done", ".locks", ".partial", ".trash"}) {
    std::error_code ec;
    fs::create_directories(opts.dir / sub, ec);
    if (ec)
      return fail(Code::kIoError, "cannot create the cache directory " + (opts.dir / sub).string() +
                                      ": " + ec.message());
  }
  std::unique_ptr<InstallCache> c(new InstallCache(std::move(opts)));
  auto& o = c->opts_;
  // "etcd" locks on this machine's OFD locks until share_through() gives it the cluster's.
  c->locks_ = o.lock == "lease-file" ? make_lease_locks(o.dir / ".locks", o.who, o.lease)
                                     : make_ofd_locks(o.dir / ".locks", o.who);
  return c;
}

void InstallCache::share_through(std::unique_ptr<KeyLocks> locks,
                                 std::shared_ptr<EntryShare> share) {
  locks_ = std::move(locks);
  share_ = std::move(share);
}

std::optional<fs::path> InstallCache::pack_of(const std::string& key) const {
  if (!lookup(key)) return std::nullopt;
  auto p = EntryShare::pack_path(entry_dir(key));
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  return p;
}

Result<size_t> InstallCache::announce_held() {
  if (!share_) return size_t{0};
  size_t announced = 0;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(opts_.dir / ".done", ec)) {
    const std::string key = d.path().filename().string();
    auto pack = pack_of(key);
    if (!pack) continue;  // filed before the cache was shared: nothing to serve
    auto packed = share_->describe(*pack);
    if (!packed) {
      spdlog::warn("install cache: cannot announce {}: {}", key.substr(0, 12),
                   packed.error().message);
      continue;
    }
    BERTH_TRY(share_->announce(key, *packed));
    ++announced;
  }
  return announced;
}

std::optional<CacheEntry> InstallCache::lookup(const std::string& key) const {
  if (!is_key(key)) return std::nullopt;
  struct stat st {};
  if (::stat(sentinel(key).c_str(), &st) != 0) return std::nullopt;
  std::error_code ec;
  if (!fs::exists(entry_dir(key) / kEntryManifest, ec)) return std::nullopt;
  auto text = read_file(sentinel(key));
  if (!text) return std::nullopt;
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("key", "") != key) return std::nullopt;
  auto e = entry_from(j);
  e.last_used_ms = st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
  return e;
}

Result<UseMark> InstallCache::use(const std::string& key) const {
  auto lock = OfdLock::open(lock_file(key));
  BERTH_TRY(lock);
  auto got = lock->try_lock(OfdLock::Kind::kShared, kUseByte);
  BERTH_TRY(got);
  if (!*got) return fail(Code::kCacheEntryBusy, "cache entry " + key + " is being removed");
  return std::make_unique<OfdLock>(std::move(*lock));
}

Result<std::optional<OfdLock>> InstallCache::unused(const std::string& key) const {
  auto lock = OfdLock::open(lock_file(key));
  BERTH_TRY(lock);
  auto free = lock->try_lock(OfdLock::Kind::kExclusive, kUseByte);
  BERTH_TRY(free);
  if (!*free) return std::nullopt;
  return std::move(*lock);
}

Result<CloneStats> InstallCache::place(const CacheEntry& e, const fs::path& release) const {
  CloneStats total;
  for (const auto& out : e.outputs) {
    auto src = entry_dir(e.key) / out;
    auto dst = release / out;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(src, ec))) continue;
    fs::remove_all(dst, ec);
    fs::create_directories(dst.parent_path(), ec);
    auto s = clone_tree(src, dst, opts_.link);
    BERTH_TRY(s);
    total += *s;
  }
  return total;
}

Result<std::optional<CacheOutcome>> InstallCache::try_hit(const CacheFill& fill, bool waited) {
  const auto& key = fill.key.key;
  if (!lookup(key)) return std::nullopt;
  // The use mark first, then look again: a removal takes the mark exclusively before it
  // deletes the sentinel, so an entry seen after the mark is taken stays whole.
  auto mark = use(key);
  if (!mark) return std::nullopt;
  auto e = lookup(key);
  if (!e) return std::nullopt;
  auto placed = place(*e, fill.release);
  BERTH_TRY(placed);
  ::utimensat(AT_FDCWD, sentinel(key).c_str(), nullptr, 0);
  CacheOutcome out;
  out.hit = true;
  out.waited = waited;
  out.entry = std::move(*e);
  out.placed = *placed;
  out.use = std::move(*mark);
  return out;
}

Result<std::optional<CacheOutcome>> InstallCache::try_fetch(const CacheFill& fill, bool waited) {
  if (!share_) return std::nullopt;
  const auto& key = fill.key.key;
  auto partial = opts_.dir / ".partial" / (key + "." + random_hex(4));
  std::error_code ec;
  if (::mkdir(partial.c_str(), 0755) != 0)
    return fail(Code::kIoError, errno_message("mkdir " + partial.string(), errno));
  auto got = share_->fetch(key, partial);
  if (!got || !*got) {
    fs::remove_all(partial, ec);
    if (!got) return std::unexpected(got.error());
    return std::nullopt;
  }
  // A pack that verified against its digest but is not this key's entry is not filed.
  auto manifest = read_file(partial / kEntryManifest);
  auto j = manifest ? json::parse(*manifest, nullptr, false) : json();
  if (!j.is_object() || j.value("key", "") != key) {
    fs::remove_all(partial, ec);
    return std::nullopt;
  }
  if (auto r = file(key, partial, *manifest); !r) {
    fs::remove_all(partial, ec);
    // Another daemon sharing this directory filed it first: a plain hit then.
    return try_hit(fill, waited);
  }
  (void)share_->announce(key, **got);  // best effort: the next node asks etcd again anyway
  auto hit = try_hit(fill, waited);
  if (hit && *hit) (*hit)->fetched = true;
  return hit;
}

Result<CacheOutcome> InstallCache::get_or_install(const CacheFill& fill) {
  const auto& key = fill.key.key;
  auto hit = try_hit(fill, false);
  BERTH_TRY(hit);
  if (*hit) return std::move(**hit);
  hit = try_fetch(fill, false);
  BERTH_TRY(hit);
  if (*hit) return std::move(**hit);

  bool waited = false;
  LockWait wait = fill.wait;
  wait.on_wait = [&waited, &fill](const std::string& holder) {
    waited = true;
    if (fill.wait.on_wait) fill.wait.on_wait(holder);
  };
  auto held = locks_->acquire(key, wait);
  BERTH_TRY(held);
  hit = try_hit(fill, waited);
  BERTH_TRY(hit);
  if (*hit) return std::move(**hit);
  sweep_dead(key);
  hit = try_fetch(fill, waited);  // the holder we waited for announced its pack before it let go
  BERTH_TRY(hit);
  if (*hit) return std::move(**hit);

  BERTH_TRY(fill.install());
  CacheOutcome out;
  out.waited = waited;
  std::optional<PackedEntry> packed;
  auto entry = store(fill, **held, out.placed, packed);
  if (!entry) {
    out.warning = "installed, but not cached: " + entry.error().message;
    return out;
  }
  // Said while the lock is still held, so whoever takes it next finds the pack.
  if (packed) (void)share_->announce(key, *packed);
  out.entry = std::move(*entry);
  if (auto mark = use(key)) out.use = std::move(*mark);
  held->reset();
  if (opts_.max_bytes) prune(opts_.max_bytes);
  return out;
}

Result<CacheEntry> InstallCache::store(const CacheFill& fill, const HeldLock& held,
                                       CloneStats& stats, std::optional<PackedEntry>& packed) {
  const auto& key = fill.key.key;
  auto partial = opts_.dir / ".partial" / (key + "." + random_hex(4));
  std::error_code ec;
  auto give_up = [&](Error e) -> Result<CacheEntry> {
    fs::remove_all(partial, ec);
    return std::unexpected(std::move(e));
  };
  if (::mkdir(partial.c_str(), 0755) != 0)
    return fail(Code::kIoError, errno_message("mkdir " + partial.string(), errno));
  CacheEntry e;
  e.key = key;
  e.command = fill.command;
  e.basis = fill.key.basis;
  for (const auto& out : fill.outputs) {
    auto src = fill.release / out;
    if (!fs::exists(fs::symlink_status(src, ec))) continue;
    auto dst = partial / out;
    fs::create_directories(dst.parent_path(), ec);
    auto s = clone_tree(src, dst, opts_.link);
    if (!s) return give_up(s.error());
    stats += *s;
    e.outputs.push_back(out);
  }
  e.files = stats.files;
  e.bytes = stats.bytes;
  e.created_ms = e.last_used_ms = now_ms();
  json j = e.to_json();
  j.erase("in_use"), j.erase("busy"), j.erase("last_used_ms");
  if (auto r = write_file_atomic(partial / kEntryManifest, j.dump()); !r) return give_up(r.error());
  if (share_) {
    auto p = share_->pack(partial);
    if (!p) return give_up(p.error());
    packed = *p;
  }
  {
    UniqueFd fd(::open(partial.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::syncfs(fd.get()) != 0)
      return give_up(Error{Code::kIoError, errno_message("sync " + partial.string(), errno)});
  }
  // The fencing check: a holder that lost its lock (a lease file taken over, an etcd key gone
  // with a lapsed lease) files nothing, since someone else may be installing the same key.
  if (held.lost())
    return give_up(
        Error{Code::kLockLost, "the install lock on " + key + " was lost during the install"});
  if (auto r = file(key, partial, j.dump()); !r) return give_up(r.error());
  return e;
}

Result<void> InstallCache::file(const std::string& key, const fs::path& partial,
                                const std::string& manifest) {
  if (::rename(partial.c_str(), entry_dir(key).c_str()) != 0)
    return fail(Code::kIoError, errno_message("rename into " + entry_dir(key).string(), errno));
  fsync_dir(opts_.dir);
  if (auto r = write_file_atomic(sentinel(key), manifest); !r) {
    (void)discard(key);
    return std::unexpected(r.error());
  }
  fsync_dir(opts_.dir / ".done");
  return {};
}

// Under the key's install lock: whatever an earlier holder of the key left is dead.
size_t InstallCache::sweep_dead(const std::string& key) {
  size_t swept = 0;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(opts_.dir / ".partial", ec))
    if (d.path().filename().string().starts_with(key + ".") && fs::remove_all(d.path(), ec) > 0)
      ++swept;
  if (!fs::exists(sentinel(key), ec) && fs::exists(entry_dir(key), ec) && discard(key)) ++swept;
  auto tmp = sentinel(key);
  tmp += ".tmp";
  fs::remove(tmp, ec);
  return swept;
}

Result<void> InstallCache::discard(const std::string& key) {
  auto trash = opts_.dir / ".trash" / (key + "." + random_hex(4));
  if (::rename(entry_dir(key).c_str(), trash.c_str()) != 0)
    return fail(Code::kIoError,
                errno_message("move " + entry_dir(key).string() + " to trash", errno));
  std::error_code ec;
  fs::remove_all(trash, ec);
  return {};
}

std::vector<CacheEntry> InstallCache::list() const {
  std::vector<CacheEntry> out;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(opts_.dir / ".done", ec)) {
    auto e = lookup(d.path().filename().string());
    if (!e) continue;
    auto free = unused(e->key);
    e->in_use = free && !*free;
    e->busy = locks_->busy(e->key);
    out.push_back(std::move(*e));
  }
  std::sort(out.begin(), out.end(), [](const CacheEntry& a, const CacheEntry& b) {
    return a.last_used_ms > b.last_used_ms;
  });
  return out;
}

uint64_t InstallCache::total_bytes() const {
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(opts_.dir / ".done", ec))
    if (auto e = lookup(d.path().filename().string())) bytes += e->bytes;
  return bytes;
}

Result<std::string> InstallCache::resolve(const std::string& prefix) const {
  if (prefix.size() < 6 || prefix.size() > 64 ||
      !std::all_of(prefix.begin(), prefix.end(), [](char c) { return std::isxdigit(c); }))
    return fail(Code::kCacheEntryNotFound,
                "\"" + prefix + "\" is not a cache key (64 hex digits, or a prefix of 6 or more)");
  std::vector<std::string> found;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(opts_.dir / ".done", ec)) {
    auto name = d.path().filename().string();
    if (is_key(name) && name.starts_with(prefix)) found.push_back(name);
  }
  if (found.empty()) return fail(Code::kCacheEntryNotFound, "no cache entry " + prefix);
  if (found.size() > 1)
    return fail(Code::kCacheKeyAmbiguous,
                "\"" + prefix + "\" matches " + std::to_string(found.size()) + " entries");
  return found.front();
}

Result<CacheEntry> InstallCache::remove(const std::string& key, bool force) {
  auto e = lookup(key);
  if (!e) return fail(Code::kCacheEntryNotFound, "no cache entry " + key);
  auto held = locks_->try_acquire(key);
  BERTH_TRY(held);
  if (!*held)
    return fail(Code::kCacheEntryBusy, "cache entry " + key + " is being installed or removed");
  auto free = unused(key);  // held until the entry is gone, so no release can claim it meanwhile
  BERTH_TRY(free);
  if (!*free && !force)
    return fail(Code::kCacheEntryInUse,
                "cache entry " + key.substr(0, 12) +
                    " is in use by a live release (releases hold their own links; force to "
                    "remove it anyway)");
  ::unlink(sentinel(key).c_str());
  fsync_dir(opts_.dir / ".done");
  BERTH_TRY(discard(key));
  e->in_use = !free->has_value();
  return *e;
}

PruneReport InstallCache::prune(uint64_t max_bytes, bool all) {
  PruneReport report;
  auto entries = list();
  uint64_t total = 0;
  for (auto& e : entries) total += e.bytes;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (!all && total <= max_bytes) break;
    auto gone = remove(it->key, false);  // checks use marks and the install lock itself
    if (!gone) {
      if (gone.error().code == Code::kCacheEntryInUse) report.kept_in_use.push_back(it->key);
      continue;
    }
    total -= gone->bytes;
    report.freed_bytes += gone->bytes;
    report.removed.push_back(it->key);
  }
  report.remaining_bytes = total;
  // What dead installers and removers left: partial entries whose key nobody is installing,
  // entry directories without a sentinel, trash.
  std::set<std::string> leftovers;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(opts_.dir / ".partial", ec)) {
    auto name = d.path().filename().string();
    leftovers.insert(name.substr(0, name.find('.')));
  }
  for (auto& d : fs::directory_iterator(opts_.dir, ec))
    if (auto key = d.path().filename().string(); is_key(key) && !fs::exists(sentinel(key), ec))
      leftovers.insert(key);
  for (const auto& key : leftovers)
    if (auto held = locks_->try_acquire(key); held && *held)
      report.partials_swept += sweep_dead(key);
  for (auto& d : fs::directory_iterator(opts_.dir / ".trash", ec)) fs::remove_all(d.path(), ec);
  return report;
}

}  // namespace berth
