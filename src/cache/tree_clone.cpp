#include "cache/tree_clone.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/unique_fd.h"

namespace berth {
namespace fs = std::filesystem;

namespace {

Result<void> copy_file(const fs::path& from, const fs::path& to, mode_t mode) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return fail(Code::kIoError, errno_message("open " + from.string(), errno));
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777));
  if (!out) return fail(Code::kIoError, errno_message("create " + to.string(), errno));
  if (::ioctl(out.get(), FICLONE, in.get()) == 0) return {};
  for (bool fallback = false;;) {
    ssize_t n = 0;
    if (!fallback) {
      n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        fallback = true;
        continue;
      }
    } else {
      char buf[65536];
      n = ::read(in.get(), buf, sizeof buf);
      for (ssize_t off = 0; n > 0 && off < n;) {
        ssize_t w = ::write(out.get(), buf + off, static_cast<size_t>(n - off));
        if (w < 0 && errno != EINTR)
          return fail(Code::kIoError, errno_message("write " + to.string(), errno));
        off += w > 0 ? w : 0;
      }
    }
    if (n == 0) return {};
    if (n < 0 && errno != EINTR)
      return fail(Code::kIoError, errno_message("copy " + from.string(), errno));
  }
}

// Clones one entry at a time; the root and every entry beneath it go through `entry`.
struct Cloner {
  bool can_link;
  CloneStats stats;

  Result<void> entry(const fs::path& src, const fs::path& dst, const struct stat& st) {
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(dst.c_str(), st.st_mode & 07777) != 0)
        return fail(Code::kIoError, errno_message("mkdir " + dst.string(), errno));
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      auto target = fs::read_symlink(src, ec);
      if (ec || ::symlink(target.c_str(), dst.c_str()) != 0)
        return fail(Code::kIoError, errno_message("symlink " + dst.string(), errno));
    } else if (S_ISREG(st.st_mode)) {
      ++stats.files;
      stats.bytes += static_cast<uint64_t>(st.st_size);
      if (can_link && ::link(src.c_str(), dst.c_str()) == 0) {
        ++stats.linked;
        return {};
      }
      // Another filesystem, or one without hard links: stop trying for the rest of the tree.
      if (can_link && errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
        return fail(Code::kIoError, errno_message("link " + dst.string(), errno));
      if (can_link && errno != EMLINK) can_link = false;
      BERTH_TRY(copy_file(src, dst, st.st_mode));
      ++stats.copied;
    }
    return {};
  }
};

}  // namespace

Result<CloneStats> clone_tree(const fs::path& from, const fs::path& to, CloneMode mode) {
  struct stat st {};
  if (::lstat(from.c_str(), &st) != 0)
    return fail(Code::kIoError, errno_message("stat " + from.string(), errno));
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
    return fail(Code::kIoError, from.string() + " is not a file, directory or symlink");
  Cloner c{mode == CloneMode::kLink, {}};
  BERTH_TRY(c.entry(from, to, st));
  if (!S_ISDIR(st.st_mode)) return c.stats;
  std::error_code ec;
  fs::recursive_directory_iterator it(from, ec), end;
  if (ec) return fail(Code::kIoError, "cannot read " + from.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(Code::kIoError, "cannot read " + from.string() + ": " + ec.message());
    const auto& src = it->path();
    if (::lstat(src.c_str(), &st) != 0)
      return fail(Code::kIoError, errno_message("stat " + src.string(), errno));
    BERTH_TRY(c.entry(src, to / src.lexically_relative(from), st));
  }
  return c.stats;
}

}  // namespace berth
