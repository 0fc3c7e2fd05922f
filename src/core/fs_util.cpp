#include "core/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/failpoint.h"
#include "core/unique_fd.h"

namespace berth {

Result<std::string> read_file(const std::filesystem::path& p) {
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(Code::kIoError, errno_message("open " + p.string(), errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Code::kIoError, errno_message("read " + p.string(), errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<void> write_file_atomic(const std::filesystem::path& p, std::string_view data, int mode) {
  auto tmp = p;
  tmp += ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return fail(Code::kIoError, errno_message("create " + tmp.string(), errno));
  ::fchmod(fd.get(), static_cast<mode_t>(mode));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n =
        BERTH_FAIL("fs.write") ? -1 : ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::unlink(tmp.c_str());
      return fail(io_code(err, Code::kIoError), errno_message("write " + tmp.string(), err));
    }
    off += static_cast<size_t>(n);
  }
  if (BERTH_FAIL("fs.fsync") || ::fsync(fd.get()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(io_code(err, Code::kIoError), errno_message("fsync " + tmp.string(), err));
  }
  fd.reset();
  if (::rename(tmp.c_str(), p.c_str()) != 0)
    return fail(Code::kIoError, errno_message("rename " + p.string(), errno));
  return {};
}

std::string read_tail(const std::filesystem::path& p, size_t max_bytes) {
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return {};
  off_t size = st.st_size;
  off_t start = size > static_cast<off_t>(max_bytes) ? size - static_cast<off_t>(max_bytes) : 0;
  std::string out(static_cast<size_t>(size - start), '\0');
  ssize_t n = ::pread(fd.get(), out.data(), out.size(), start);
  if (n <= 0) return {};
  out.resize(static_cast<size_t>(n));
  if (start > 0) {
    auto nl = out.find('\n');
    out.erase(0, nl == std::string::npos ? out.size() : nl + 1);
  }
  return out;
}

}  // namespace berth
