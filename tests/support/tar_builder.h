// Builds tar archives entry by entry for tests, including the malicious ones a real packer
// would never write (absolute paths, "..", links out, devices).
#pragma once
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace berth::test {

class TarBuilder {
 public:
  explicit TarBuilder(const std::filesystem::path& out, bool gzip = true, int level = 6) {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    if (gzip) {
      archive_write_add_filter_gzip(a_);
      archive_write_set_options(a_, ("gzip:compression-level=" + std::to_string(level)).c_str());
    }
    if (archive_write_open_filename(a_, out.c_str()) != ARCHIVE_OK)
      throw std::runtime_error("cannot write " + out.string());
    e_ = archive_entry_new();
  }
  ~TarBuilder() { close(); }

  TarBuilder& file(const std::string& path, const std::string& data, int mode = 0644) {
    header(path, AE_IFREG, mode, data.size());
    archive_write_data(a_, data.data(), data.size());
    return *this;
  }
  // A file of `size` zero bytes, written in chunks (for bombs).
  TarBuilder& zeros(const std::string& path, size_t size) {
    header(path, AE_IFREG, 0644, size);
    std::string chunk(1 << 20, '\0');
    for (size_t left = size; left > 0;) {
      size_t n = std::min(left, chunk.size());
      archive_write_data(a_, chunk.data(), n);
      left -= n;
    }
    return *this;
  }
  TarBuilder& dir(const std::string& path, int mode = 0755) {
    header(path, AE_IFDIR, mode, 0);
    return *this;
  }
  TarBuilder& symlink(const std::string& path, const std::string& target) {
    header(path, AE_IFLNK, 0777, 0, [&] { archive_entry_set_symlink(e_, target.c_str()); });
    return *this;
  }
  TarBuilder& hardlink(const std::string& path, const std::string& target) {
    header(path, AE_IFREG, 0644, 0, [&] { archive_entry_set_hardlink(e_, target.c_str()); });
    return *this;
  }
  TarBuilder& special(const std::string& path, unsigned type) {
    header(path, type, 0644, 0);
    return *this;
  }
  void close() {
    if (!a_) return;
    archive_write_close(a_);
    archive_write_free(a_);
    archive_entry_free(e_);
    a_ = nullptr;
  }

 private:
  // `extra` adds to the entry before it is written (a link target).
  void header(const std::string& path, unsigned type, int mode, size_t size,
              const std::function<void()>& extra = nullptr) {
    archive_entry_clear(e_);
    archive_entry_set_pathname(e_, path.c_str());
    archive_entry_set_filetype(e_, type);
    archive_entry_set_perm(e_, mode);
    archive_entry_set_size(e_, static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e_, 1700000000, 0);
    if (extra) extra();
    if (archive_write_header(a_, e_) != ARCHIVE_OK)
      throw std::runtime_error(std::string("header: ") + archive_error_string(a_));
  }
  archive* a_ = nullptr;
  archive_entry* e_ = nullptr;
};

}  // namespace berth::test
