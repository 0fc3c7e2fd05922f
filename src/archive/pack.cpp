#include "archive/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "core/ignore_rules.h"
#include "core/unique_fd.h"

namespace berth {
namespace fs = std::filesystem;
namespace {

struct Writer {
  archive* a = archive_write_new();
  archive_entry* e = archive_entry_new();
  ~Writer() {
    archive_entry_free(e);
    archive_write_free(a);
  }
  Error error(const std::string& what) const {
    const char* m = archive_error_string(a);
    return Error{Code::kPackFailed, what + ": " + (m ? m : "unknown error")};
  }
};

Result<void> add_file(Writer& w, const fs::path& abs, const std::string& rel, PackStats& stats) {
  UniqueFd fd(::open(abs.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return fail(Code::kPackFailed, errno_message("open " + abs.string(), errno));
  struct stat st {};
  ::fstat(fd.get(), &st);
  archive_entry_clear(w.e);
  archive_entry_copy_stat(w.e, &st);
  archive_entry_set_pathname(w.e, rel.c_str());
  archive_entry_set_uid(w.e, 0);
  archive_entry_set_gid(w.e, 0);
  if (archive_write_header(w.a, w.e) != ARCHIVE_OK) return std::unexpected(w.error(rel));
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Code::kPackFailed, errno_message("read " + abs.string(), errno));
    if (n == 0) break;
    if (archive_write_data(w.a, buf.data(), static_cast<size_t>(n)) < 0)
      return std::unexpected(w.error(rel));
    stats.bytes += static_cast<uint64_t>(n);
  }
  ++stats.files;
  return {};
}

Result<void> add_other(Writer& w, const fs::path& abs, const std::string& rel) {
  struct stat st {};
  if (::lstat(abs.c_str(), &st) != 0)
    return fail(Code::kPackFailed, errno_message("stat " + abs.string(), errno));
  archive_entry_clear(w.e);
  archive_entry_copy_stat(w.e, &st);
  archive_entry_set_pathname(w.e, rel.c_str());
  archive_entry_set_uid(w.e, 0);
  archive_entry_set_gid(w.e, 0);
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    auto target = fs::read_symlink(abs, ec);
    if (ec) return fail(Code::kPackFailed, "readlink " + abs.string() + ": " + ec.message());
    archive_entry_set_symlink(w.e, target.c_str());
  }
  if (archive_write_header(w.a, w.e) != ARCHIVE_OK) return std::unexpected(w.error(rel));
  return {};
}

// Everything under DIR but what `rules` (if any) ignores, gzipped at `level`.
Result<PackStats> pack(const fs::path& dir, const fs::path& out, const IgnoreRules* rules,
                       int level) {
  Writer w;
  archive_write_set_format_pax_restricted(w.a);
  archive_write_add_filter_gzip(w.a);
  archive_write_set_options(w.a, fmt::format("gzip:compression-level={}", level).c_str());
  if (archive_write_open_filename(w.a, out.c_str()) != ARCHIVE_OK)
    return std::unexpected(w.error("cannot write " + out.string()));
  PackStats stats;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return fail(Code::kPackFailed, "cannot read " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(Code::kPackFailed, "cannot read " + dir.string() + ": " + ec.message());
    const auto& abs = it->path();
    std::string rel = abs.lexically_relative(dir).generic_string();
    bool is_dir = it->is_directory(ec) && !it->is_symlink(ec);
    if (rules && rules->ignored(rel, is_dir)) {
      if (is_dir) it.disable_recursion_pending();
      stats.left_out.push_back(is_dir ? rel + "/" : rel);
      continue;
    }
    Result<void> r;
    if (it->is_symlink(ec) || is_dir)
      r = add_other(w, abs, rel);
    else if (it->is_regular_file(ec))
      r = add_file(w, abs, rel, stats);
    else
      continue;  // sockets, FIFOs, devices never travel
    BERTH_TRY(r);
  }
  if (archive_write_close(w.a) != ARCHIVE_OK) return std::unexpected(w.error("closing"));
  return stats;
}

}  // namespace

Result<PackStats> pack_directory(const fs::path& dir, const fs::path& out) {
  auto rules = IgnoreRules::packing(dir);
  return pack(dir, out, &rules, 6);
}

Result<PackStats> pack_tree(const fs::path& dir, const fs::path& out) {
  return pack(dir, out, nullptr, 1);
}

}  // namespace berth
