#include "core/daemon_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace berth {

DaemonLogSink::DaemonLogSink(int fd, int lines_per_second, uint64_t max_bytes, Clock clock)
    : fd_(fd),
      rate_(lines_per_second),
      capacity_(10.0 * lines_per_second),
      tokens_(capacity_),
      max_bytes_(max_bytes),
      clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }),
      last_(clock_()) {
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
    regular_ = true;
    size_ = static_cast<uint64_t>(st.st_size);
  }
}

bool DaemonLogSink::take_token() {
  auto now = clock_();
  tokens_ =
      std::min(capacity_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
  last_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void DaemonLogSink::sink_it_(const spdlog::details::log_msg& msg) {
  if (!take_token()) {
    ++suppressed_;
    ++suppressed_total_;
    return;
  }
  if (suppressed_) {
    write_line("[berth] " + std::to_string(suppressed_) + " log lines were dropped: more than " +
               std::to_string(static_cast<int>(rate_)) + " a second\n");
    suppressed_ = 0;
  }
  spdlog::memory_buf_t out;
  formatter_->format(msg, out);
  write_line(std::string_view(out.data(), out.size()));
}

void DaemonLogSink::write_line(std::string_view text) {
  if (regular_ && max_bytes_ && size_ + text.size() > max_bytes_ && size_ > 0) rotate();
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n <= 0) return;  // a full disk or a closed log: the line is lost, the daemon is not
    done += static_cast<size_t>(n);
  }
  size_ += text.size();
}

void DaemonLogSink::rotate() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd_), ec);
  if (ec || !path.is_absolute()) return;
  std::filesystem::rename(path, path.string() + ".1", ec);
  if (ec) return;
  int fresh = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fresh < 0) return;
  // stdout usually shares the file (the CLI and tests point both at daemon.log): move it too.
  struct stat out {
  }, err{};
  if (::fstat(STDOUT_FILENO, &out) == 0 && ::fstat(fd_, &err) == 0 && fd_ != STDOUT_FILENO &&
      out.st_ino == err.st_ino && out.st_dev == err.st_dev)
    ::dup2(fresh, STDOUT_FILENO);
  ::dup2(fresh, fd_);
  ::close(fresh);
  size_ = 0;
}

void install_daemon_log(int lines_per_second, uint64_t max_bytes) {
  auto sink = std::make_shared<DaemonLogSink>(STDERR_FILENO, lines_per_second, max_bytes);
  auto logger = std::make_shared<spdlog::logger>("berth", sink);
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace berth
