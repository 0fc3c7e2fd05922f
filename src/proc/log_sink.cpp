#include "proc/log_sink.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>

#include "core/duration.h"
#include "core/fs_util.h"
#include "proc/log_format.h"

namespace berth {
namespace fs = std::filesystem;

LogSink::LogSink(boost::asio::any_io_executor ex, fs::path dir, LogLimits limits)
    : dir_(std::move(dir)), file_(dir_ / "output.log"), limits_(limits), changed_(std::move(ex)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  std::string tail = read_tail(file_, 64 * 1024);
  size_t start = 0;
  // The first line of a tail read from the middle of a file is cut: the ring starts after it.
  if (tail.size() >= 64 * 1024) start = std::min(tail.size(), tail.find('\n') + 1);
  for (size_t nl; (nl = tail.find('\n', start)) != std::string::npos; start = nl + 1) {
    auto l = parse_log_line(std::string_view(tail).substr(start, nl - start));
    ring_.push_back({next_seq_++, l.ts_ms, l.stream, std::move(l.text), l.instance});
    if (ring_.size() > limits_.ring_lines) ring_.pop_front();
  }
  open_file();
}

void LogSink::open_file() {
  fd_.reset(::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  struct stat st {};
  size_ = fd_ && ::fstat(fd_.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  if (!fd_) spdlog::warn("cannot open {}: {}", file_.string(), std::strerror(errno));
}

void LogSink::rotate() {
  fd_.reset();
  std::error_code ec;
  if (limits_.files <= 0) {
    fs::remove(file_, ec);
  } else {
    for (int i = limits_.files - 1; i >= 1; --i) {
      fs::path from = file_.string() + "." + std::to_string(i),
               to = file_.string() + "." + std::to_string(i + 1);
      if (fs::exists(from, ec)) fs::rename(from, to, ec);
    }
    fs::rename(file_, file_.string() + ".1", ec);
  }
  open_file();
}

void LogSink::append(Stream stream, std::string_view text, int instance) {
  if (closed_) return;
  const int64_t ts = now_ms();
  if (fd_) {
    std::string line = format_log_line(ts, stream, text, instance);
    line += '\n';
    if (size_ + line.size() > limits_.max_bytes && size_ > 0) rotate();
    ssize_t n = ::write(fd_.get(), line.data(), line.size());
    if (n > 0) size_ += static_cast<uint64_t>(n);
  }
  ring_.push_back({next_seq_++, ts, stream, std::string(text), instance});
  if (ring_.size() > limits_.ring_lines) ring_.pop_front();
  changed_.notify_all();
}

std::vector<LogLine> LogSink::tail(size_t n) const {
  size_t k = std::min(n, ring_.size());
  return {ring_.end() - static_cast<long>(k), ring_.end()};
}

std::vector<LogLine> LogSink::tail(size_t n, int64_t since_ms, int64_t until_ms) const {
  std::vector<LogLine> out;
  for (auto it = ring_.rbegin(); it != ring_.rend() && out.size() < n; ++it)
    if (it->ts_ms >= since_ms && it->ts_ms <= until_ms) out.push_back(*it);
  return {out.rbegin(), out.rend()};
}

std::vector<LogLine> LogSink::since(uint64_t after) const {
  std::vector<LogLine> out;
  for (auto it = ring_.rbegin(); it != ring_.rend() && it->seq > after; ++it) out.push_back(*it);
  return {out.rbegin(), out.rend()};
}

void LogSink::close_followers() {
  closed_ = true;
  changed_.notify_all();
}

}  // namespace berth
