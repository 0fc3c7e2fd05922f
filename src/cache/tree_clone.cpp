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
  if (!in) return fail("io_error", errno_message("open " + from.string(), errno));
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777));
  if (!out) return fail("io_error", errno_message("create " + to.string(), errno));
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
          return fail("io_error", errno_message("write " + to.string(), errno));
        off += w > 0 ? w : 0;
      }
    }
    if (n == 0) return {};
    if (n < 0 && errno != EINTR)
      return fail("io_error", errno_message("copy " + from.string(), errno));
  }
}

}  // namespace

Result<CloneStats> clone_tree(const fs::path& from, const fs::path& to, CloneMode mode) {
  CloneStats stats;
  struct stat root {};
  if (::lstat(from.c_str(), &root) != 0)
    return fail("io_error", errno_message("stat " + from.string(), errno));
  if (S_ISLNK(root.st_mode)) {
    std::error_code ec;
    auto target = fs::read_symlink(from, ec);
    if (ec || ::symlink(target.c_str(), to.c_str()) != 0)
      return fail("io_error", errno_message("symlink " + to.string(), errno));
    return stats;
  }
  if (S_ISREG(root.st_mode)) {
    stats.files = 1;
    stats.bytes = static_cast<uint64_t>(root.st_size);
    if (mode == CloneMode::kLink && ::link(from.c_str(), to.c_str()) == 0) {
      stats.linked = 1;
      return stats;
    }
    if (auto r = copy_file(from, to, root.st_mode); !r) return std::unexpected(r.error());
    stats.copied = 1;
    return stats;
  }
  if (!S_ISDIR(root.st_mode))
    return fail("io_error", from.string() + " is not a file or directory");
  if (::mkdir(to.c_str(), root.st_mode & 07777) != 0)
    return fail("io_error", errno_message("mkdir " + to.string(), errno));
  bool can_link = mode == CloneMode::kLink;
  std::error_code ec;
  fs::recursive_directory_iterator it(from, ec), end;
  if (ec) return fail("io_error", "cannot read " + from.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail("io_error", "cannot read " + from.string() + ": " + ec.message());
    const auto& src = it->path();
    auto dst = to / src.lexically_relative(from);
    struct stat st {};
    if (::lstat(src.c_str(), &st) != 0)
      return fail("io_error", errno_message("stat " + src.string(), errno));
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(dst.c_str(), st.st_mode & 07777) != 0)
        return fail("io_error", errno_message("mkdir " + dst.string(), errno));
    } else if (S_ISLNK(st.st_mode)) {
      auto target = fs::read_symlink(src, ec);
      if (ec || ::symlink(target.c_str(), dst.c_str()) != 0)
        return fail("io_error", errno_message("symlink " + dst.string(), errno));
    } else if (S_ISREG(st.st_mode)) {
      ++stats.files;
      stats.bytes += static_cast<uint64_t>(st.st_size);
      if (can_link && ::link(src.c_str(), dst.c_str()) == 0) {
        ++stats.linked;
        continue;
      }
      // Another filesystem, or one without hard links: stop trying for the rest of the tree.
      if (can_link && errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
        return fail("io_error", errno_message("link " + dst.string(), errno));
      if (can_link && errno != EMLINK) can_link = false;
      if (auto r = copy_file(src, dst, st.st_mode); !r) return std::unexpected(r.error());
      ++stats.copied;
    }
  }
  return stats;
}

}  // namespace berth
