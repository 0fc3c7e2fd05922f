#include "archive/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "core/failpoint.h"
#include "core/unique_fd.h"

namespace berth {
namespace fs = std::filesystem;
namespace {

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

int openat2_fd(int dirfd, const char* path, uint64_t flags, mode_t mode, uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

using Parts = std::vector<std::string>;

// Read from /proc: umask() itself would change the process's mask, racing other threads.
mode_t current_umask() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return 022;
  char line[256];
  mode_t mask = 022;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "Umask:", 6) == 0)
      mask = static_cast<mode_t>(std::strtol(line + 6, nullptr, 8));
  std::fclose(f);
  return mask;
}

std::string join(const Parts& p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += '/';
    s += p[i];
  }
  return s.empty() ? "." : s;
}

class Extractor {
 public:
  Extractor(const fs::path& dest, const ExtractLimits& limits, const std::atomic<bool>* cancel)
      : dest_(dest), limits_(limits), cancel_(cancel) {}

  Result<ExtractStats> run(const fs::path& archive_path) {
    root_.reset(::open(dest_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!root_) return fail(Code::kExtractFailed, errno_message("open " + dest_.string(), errno));
    // A checker reads only the headers, on its own thread, ahead of the writer: the limits
    // and most refusals are judged before much is written (a million-entry archive is
    // refused after a few hundred files, not after 200,000), at no cost in wall time.
    std::optional<Error> verdict;
    std::atomic<bool> refused{false};
    {
      std::jthread checker([&] {
        Extractor dry(dest_, limits_, cancel_);
        dry.dry_ = true;
        auto r = dry.pass(archive_path);
        if (!r) {
          verdict = r.error();
          refused = true;
        }
      });
      stop_ = &refused;
      auto r = pass(archive_path);
      checker.join();
      if (verdict) return std::unexpected(*verdict);
      BERTH_TRY(r);
    }
    if (stats_.entries == 0) return fail(Code::kArchiveEmpty, "the archive holds no entries");
    BERTH_TRY(verify_symlinks());
    UniqueFd sync_fd(::open(dest_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!sync_fd || BERTH_FAIL("archive.sync") || ::syncfs(sync_fd.get()) != 0)
      return fail(io_code(errno, Code::kExtractFailed),
                  errno_message("syncfs " + dest_.string(), errno));
    stats_.top = single_top();
    return stats_;
  }

 private:
  Result<void> pass(const fs::path& archive_path) {
    a_ = archive_read_new();
    archive_read_support_filter_all(a_);
    archive_read_support_format_tar(a_);
    Result<void> r;
    if (archive_read_open_filename(a_, archive_path.c_str(), 1 << 16) != ARCHIVE_OK)
      r = std::unexpected(read_error("cannot open the archive"));
    else
      r = loop();
    archive_read_free(a_);
    a_ = nullptr;
    return r;
  }

  Error read_error(const std::string& what) {
    const char* msg = archive_error_string(a_);
    std::string m = msg ? msg : "unknown error";
    bool truncated = m.find("runcated") != std::string::npos ||
                     m.find("Premature end") != std::string::npos ||
                     m.find("unexpected end") != std::string::npos;
    return Error{truncated ? Code::kArchiveTruncated : Code::kArchiveInvalid, what + ": " + m};
  }

  Result<void> loop() {
    archive_entry* e = nullptr;
    for (;;) {
      if (cancel_ && cancel_->load()) return fail(Code::kCancelled, "extraction cancelled");
      if (stop_ && stop_->load()) return fail(Code::kCancelled, "refused by the header check");
      int rc = archive_read_next_header(a_, &e);
      if (rc == ARCHIVE_EOF) return {};
      if (rc < ARCHIVE_WARN) return std::unexpected(read_error("reading the archive"));
      if (++stats_.entries > limits_.max_entries)
        return fail(Code::kArchiveTooManyEntries,
                    fmt::format("more than {} entries", limits_.max_entries));
      BERTH_TRY(check_ratio());
      BERTH_TRY(entry(e));
    }
  }

  Result<void> check_ratio() {
    auto raw = archive_filter_bytes(a_, -1), plain = archive_filter_bytes(a_, 0);
    if (plain > static_cast<int64_t>(limits_.ratio_floor) && raw > 0 &&
        static_cast<double>(plain) > limits_.max_ratio * static_cast<double>(raw))
      return fail(Code::kArchiveBomb,
                  fmt::format("compression ratio above {:.0f}:1 ({} bytes from {})",
                              limits_.max_ratio, plain, raw));
    return {};
  }

  // Splits an entry path into components, refusing absolute paths and "..".
  Result<Parts> split(const char* raw, const char* what, Code escape_code) {
    std::string_view p = raw ? raw : "";
    if (p.size() > limits_.max_path)
      return fail(Code::kArchivePathTooLong,
                  fmt::format("{} path longer than {} bytes", what, limits_.max_path));
    if (p.starts_with('/'))
      return fail(
          escape_code == Code::kArchiveHardlinkEscape ? escape_code : Code::kArchiveAbsolutePath,
          fmt::format("absolute {} path \"{}\"", what, p));
    Parts parts;
    while (!p.empty()) {
      auto slash = p.find('/');
      auto c = p.substr(0, slash);
      if (c == "..")
        return fail(
            escape_code == Code::kArchiveHardlinkEscape ? escape_code : Code::kArchivePathTraversal,
            fmt::format("{} path \"{}\" climbs out with ..", what, raw));
      if (!c.empty() && c != ".") parts.emplace_back(c);
      if (slash == std::string_view::npos) break;
      p.remove_prefix(slash + 1);
    }
    if (parts.size() > limits_.max_depth)
      return fail(Code::kArchiveTooDeep,
                  fmt::format("{} path \"{}\" deeper than {}", what, raw, limits_.max_depth));
    return parts;
  }

  static Error open_error(int err, const std::string& path, Code escape_code) {
    if (err == ELOOP)
      return Error{escape_code, fmt::format("\"{}\" would be written through a symlink", path)};
    if (err == EXDEV) return Error{escape_code, fmt::format("\"{}\" leaves the release", path)};
    if (err == ENOTDIR)
      return Error{Code::kArchiveEntryConflict,
                   fmt::format("\"{}\": a parent is not a directory", path)};
    return Error{Code::kExtractFailed, errno_message(path, err)};
  }

  // The directory holding the first `n` components, created as needed, never through a link.
  Result<int> dir_fd(const Parts& parts, size_t n, Code escape_code) {
    std::string key = join(parts, n);
    if (key == cached_key_ && cached_) return cached_.get();
    int fd = openat2_fd(root_.get(), key.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kResolve);
    if (fd < 0 && errno == ENOENT) {
      // Archives may omit directory entries: make the missing ones one step at a time.
      UniqueFd cur(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
      for (size_t i = 0; i < n; ++i) {
        if (::mkdirat(cur.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST)
          return std::unexpected(open_error(errno, join(parts, i + 1), escape_code));
        int next =
            openat2_fd(cur.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kResolve);
        if (next < 0) return std::unexpected(open_error(errno, join(parts, i + 1), escape_code));
        cur.reset(next);
      }
      fd = cur.release();
    } else if (fd < 0) {
      return std::unexpected(open_error(errno, key, escape_code));
    }
    cached_.reset(fd);
    cached_key_ = key;
    return fd;
  }

  // Removes what sits at NAME so a later entry can replace it (tar semantics: the last wins),
  // but never a directory: a link or file cannot take a directory's place.
  Result<void> make_room(int dirfd, const std::string& name, const std::string& path) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
    if (S_ISDIR(st.st_mode))
      return fail(Code::kArchiveEntryConflict,
                  fmt::format("\"{}\" would replace a directory", path));
    if (::unlinkat(dirfd, name.c_str(), 0) != 0)
      return fail(Code::kExtractFailed, errno_message("unlink " + path, errno));
    return {};
  }

  Result<void> entry(archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    auto parts = split(raw, "entry", Code::kArchiveThroughSymlink);
    BERTH_TRY(parts);
    if (parts->empty()) return {};  // "./"
    const std::string path = join(*parts, parts->size());
    const std::string& name = parts->back();

    if (const char* link = archive_entry_hardlink(e)) return hardlink(*parts, path, link);
    if (dry_) return check_only(e, *parts, path);
    auto parent = dir_fd(*parts, parts->size() - 1, Code::kArchiveThroughSymlink);
    BERTH_TRY(parent);
    mode_t mode = archive_entry_perm(e);
    if (mode & (S_ISUID | S_ISGID | S_ISVTX)) ++stats_.setid_stripped;
    mode &= 0777;

    switch (archive_entry_filetype(e)) {
      case AE_IFDIR: {
        if (::mkdirat(*parent, name.c_str(), mode | 0700) != 0) {
          if (errno != EEXIST)
            return fail(Code::kExtractFailed, errno_message("mkdir " + path, errno));
          struct stat st {};
          if (::fstatat(*parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
              !S_ISDIR(st.st_mode))
            return fail(Code::kArchiveEntryConflict,
                        fmt::format("directory \"{}\" clashes with an earlier entry", path));
          ::fchmodat(*parent, name.c_str(), mode | 0700, 0);
        }
        return {};
      }
      case AE_IFREG:
        return regular(e, *parent, name, path, mode);
      case AE_IFLNK:
        return symlink(*parts, *parent, path, archive_entry_symlink(e));
      default:
        return fail(Code::kArchiveSpecialFile,
                    fmt::format("\"{}\" is a device, FIFO or socket; refused", path));
    }
  }

  // Pass one: what can be judged from the header alone.
  Result<void> check_only(archive_entry* e, const Parts& parts, const std::string& path) {
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        return {};
      case AE_IFREG: {
        stats_.bytes += static_cast<uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)));
        if (stats_.bytes > limits_.max_bytes)
          return fail(Code::kArchiveTooLarge,
                      fmt::format("contents exceed {} bytes", limits_.max_bytes));
        if (archive_read_data_skip(a_) < ARCHIVE_WARN)
          return std::unexpected(read_error("reading " + path));
        return check_ratio();
      }
      case AE_IFLNK:
        return check_target(parts, path, archive_entry_symlink(e));
      default:
        return fail(Code::kArchiveSpecialFile,
                    fmt::format("\"{}\" is a device, FIFO or socket; refused", path));
    }
  }

  Result<void> regular(archive_entry* e, int parent, const std::string& name,
                       const std::string& path, mode_t mode) {
    if (archive_entry_size_is_set(e) &&
        stats_.bytes + static_cast<uint64_t>(archive_entry_size(e)) > limits_.max_bytes)
      return fail(Code::kArchiveTooLarge,
                  fmt::format("contents exceed {} bytes", limits_.max_bytes));
    const uint64_t flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    // Created with its final mode when the umask leaves it whole: one syscall less per file.
    const bool exact = (mode & umask_) == 0;
    const mode_t create_mode = exact ? mode | 0200 : 0600;
    int fd = openat2_fd(parent, name.c_str(), flags, create_mode, kResolve);
    if (fd < 0 && errno == EEXIST) {
      BERTH_TRY(make_room(parent, name, path));
      fd = openat2_fd(parent, name.c_str(), flags, create_mode, kResolve);
    }
    if (fd < 0) return std::unexpected(open_error(errno, path, Code::kArchiveThroughSymlink));
    UniqueFd out(fd);
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      int rc = archive_read_data_block(a_, &buf, &size, &offset);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) return std::unexpected(read_error("reading " + path));
      stats_.bytes += size;
      if (stats_.bytes > limits_.max_bytes)
        return fail(Code::kArchiveTooLarge,
                    fmt::format("contents exceed {} bytes", limits_.max_bytes));
      BERTH_TRY(check_ratio());
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        ssize_t n = BERTH_FAIL("archive.write") ? -1 : ::pwrite(out.get(), p, size, offset);
        if (n < 0) {
          if (errno == EINTR) continue;
          return fail(io_code(errno, Code::kExtractFailed), errno_message("write " + path, errno));
        }
        p += n;
        offset += n;
        size -= static_cast<size_t>(n);
      }
    }
    // Sparse entries may end in a hole.
    if (archive_entry_sparse_count(e) > 0 && archive_entry_size_is_set(e))
      (void)::ftruncate(out.get(), archive_entry_size(e));
    if (!exact || create_mode != mode) ::fchmod(out.get(), mode);
    if (archive_entry_mtime_is_set(e)) {
      timespec ts[2] = {{0, UTIME_OMIT}, {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
      ::futimens(out.get(), ts);
    }
    ++stats_.files;
    return {};
  }

  // Lexical check (cheap, clear message); the kernel re-checks every link at the end.
  static Result<void> check_target(const Parts& parts, const std::string& path,
                                   const char* target) {
    std::string_view t = target ? target : "";
    if (t.empty())
      return fail(Code::kArchiveInvalid, fmt::format("symlink \"{}\" has no target", path));
    if (t.starts_with('/'))
      return fail(Code::kArchiveSymlinkEscape,
                  fmt::format("symlink \"{}\" points to the absolute path \"{}\"", path, t));
    size_t depth = parts.size() - 1;
    for (std::string_view rest = t; !rest.empty();) {
      auto slash = rest.find('/');
      auto c = rest.substr(0, slash);
      if (c == "..") {
        if (depth == 0)
          return fail(Code::kArchiveSymlinkEscape,
                      fmt::format("symlink \"{}\" -> \"{}\" leaves the release", path, t));
        --depth;
      } else if (!c.empty() && c != ".") {
        ++depth;
      }
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    return {};
  }

  Result<void> symlink(const Parts& parts, int parent, const std::string& path,
                       const char* target) {
    BERTH_TRY(check_target(parts, path, target));
    const std::string& name = parts.back();
    if (::symlinkat(target, parent, name.c_str()) != 0) {
      if (errno != EEXIST)
        return fail(Code::kExtractFailed, errno_message("symlink " + path, errno));
      BERTH_TRY(make_room(parent, name, path));
      if (::symlinkat(target, parent, name.c_str()) != 0)
        return fail(Code::kExtractFailed, errno_message("symlink " + path, errno));
    }
    symlinks_.push_back(path);
    return {};
  }

  Result<void> hardlink(const Parts& parts, const std::string& path, const char* link) {
    auto src = split(link, "hardlink target", Code::kArchiveHardlinkEscape);
    BERTH_TRY(src);
    if (src->empty())
      return fail(Code::kArchiveHardlinkEscape, fmt::format("hardlink \"{}\" to the root", path));
    if (dry_) return {};
    auto src_dir = dir_fd(*src, src->size() - 1, Code::kArchiveHardlinkEscape);
    BERTH_TRY(src_dir);
    UniqueFd src_parent(::fcntl(*src_dir, F_DUPFD_CLOEXEC, 0));
    struct stat st {};
    if (::fstatat(src_parent.get(), src->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
      return fail(
          Code::kArchiveHardlinkEscape,
          fmt::format("hardlink \"{}\" -> \"{}\": not a file extracted before", path, link));
    auto parent = dir_fd(parts, parts.size() - 1, Code::kArchiveThroughSymlink);
    BERTH_TRY(parent);
    const std::string& name = parts.back();
    if (::linkat(src_parent.get(), src->back().c_str(), *parent, name.c_str(), 0) != 0) {
      if (errno != EEXIST) return fail(Code::kExtractFailed, errno_message("link " + path, errno));
      BERTH_TRY(make_room(*parent, name, path));
      if (::linkat(src_parent.get(), src->back().c_str(), *parent, name.c_str(), 0) != 0)
        return fail(Code::kExtractFailed, errno_message("link " + path, errno));
    }
    ++stats_.files;
    return {};
  }

  // Chains of individually harmless links can still climb out (a/b -> .., c -> a/b/..): the
  // kernel resolves each final link beneath the root and refuses any escape.
  Result<void> verify_symlinks() {
    for (auto& p : symlinks_) {
      int fd = openat2_fd(root_.get(), p.c_str(), O_PATH | O_CLOEXEC, 0,
                          RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
      if (fd >= 0) {
        ::close(fd);
      } else if (errno == EXDEV) {
        return fail(Code::kArchiveSymlinkEscape,
                    fmt::format("symlink \"{}\" resolves outside the release", p));
      }
    }
    return {};
  }

  std::optional<std::string> single_top() const {
    std::optional<std::string> top;
    std::error_code ec;
    for (auto& d : fs::directory_iterator(dest_, ec)) {
      if (top || !d.is_directory(ec) || d.is_symlink(ec)) return std::nullopt;
      top = d.path().filename().string();
    }
    return top;
  }

  fs::path dest_;
  ExtractLimits limits_;
  const std::atomic<bool>* cancel_;
  const std::atomic<bool>* stop_ = nullptr;  // set when the header check refused the archive
  mode_t umask_ = current_umask();
  archive* a_ = nullptr;
  bool dry_ = false;
  UniqueFd root_;
  UniqueFd cached_;
  std::string cached_key_;
  std::vector<std::string> symlinks_;
  ExtractStats stats_;
};

}  // namespace

Result<ExtractStats> extract_archive(const fs::path& archive, const fs::path& dest,
                                     const ExtractLimits& limits, const std::atomic<bool>* cancel) {
  Extractor x(dest, limits, cancel);
  return x.run(archive);
}

}  // namespace berth
