#include "deploy/release_store.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/random_id.h"
#include "core/unique_fd.h"

namespace berth {
namespace fs = std::filesystem;

Result<void> fsync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0)
    return fail(Code::kIoError, errno_message("fsync " + dir.string(), errno));
  return {};
}

ReleaseStore::ReleaseStore(fs::path home) : home_(fs::absolute(home).lexically_normal()) {}

fs::path ReleaseStore::link(const std::string& name) const {
  return home_ / "components" / name;
}
fs::path ReleaseStore::releases_of(const std::string& name) const {
  return home_ / "releases" / name;
}
fs::path ReleaseStore::release_dir(const std::string& name, const std::string& id) const {
  return releases_of(name) / id;
}
fs::path ReleaseStore::staging_dir(const std::string& name, const std::string& id) const {
  return releases_of(name) / (".staging-" + id);
}

std::optional<std::string> ReleaseStore::current(const std::string& name) const {
  std::error_code ec;
  auto target = fs::read_symlink(link(name), ec);
  if (ec || target.parent_path() != releases_of(name)) return std::nullopt;
  return target.filename().string();
}

bool ReleaseStore::has_release(const std::string& name, const std::string& id) const {
  std::error_code ec;
  return !id.empty() && fs::is_directory(release_dir(name, id), ec);
}

Result<void> ReleaseStore::activate(const std::string& name, const std::string& id) {
  auto dir = home_ / "components";
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto tmp = dir / ("." + name + ".link-" + random_hex(4));
  fs::create_directory_symlink(release_dir(name, id), tmp, ec);
  if (ec)
    return fail(Code::kActivateFailed, "cannot create link " + tmp.string() + ": " + ec.message());
  if (::rename(tmp.c_str(), link(name).c_str()) != 0) {
    int err = errno;
    fs::remove(tmp, ec);
    return fail(Code::kActivateFailed, errno_message("cannot replace " + link(name).string(), err));
  }
  return fsync_dir(dir);
}

Result<void> ReleaseStore::promote(const std::string& name, const std::string& id,
                                   const std::optional<std::string>& top) {
  auto staging = staging_dir(name, id);
  auto root = top ? staging / *top : staging;
  if (::rename(root.c_str(), release_dir(name, id).c_str()) != 0)
    return fail(Code::kIoError,
                errno_message("cannot move " + root.string() + " into place", errno));
  std::error_code ec;
  if (top) fs::remove(staging, ec);  // now empty
  return fsync_dir(releases_of(name));
}

size_t ReleaseStore::prune_releases(const std::string& name,
                                    const std::set<std::string>& keep) const {
  size_t n = 0;
  std::error_code ec;
  for (auto& d : fs::directory_iterator(releases_of(name), ec)) {
    auto id = d.path().filename().string();
    if (id.starts_with('.') || keep.contains(id)) continue;
    fs::remove_all(d.path(), ec);
    ++n;
  }
  fs::remove(releases_of(name), ec);  // only if empty (rmdir)
  return n;
}

size_t ReleaseStore::sweep_partials() const {
  size_t n = 0;
  std::error_code ec;
  for (auto& c : fs::directory_iterator(home_ / "releases", ec))
    for (auto& d : fs::directory_iterator(c.path(), ec))
      if (d.path().filename().string().starts_with(".staging-")) {
        fs::remove_all(d.path(), ec);
        ++n;
      }
  for (auto& d : fs::directory_iterator(home_ / "components", ec))
    if (d.path().filename().string().starts_with('.')) n += fs::remove(d.path(), ec);
  return n;
}

}  // namespace berth
