// The daemon's own log, made safe against floods: a token bucket caps the lines a second (a
// burst of ten seconds' worth passes at once); lines over the cap are counted, and the count
// is written as soon as lines pass again. When the log's descriptor is a regular file it is
// rotated past `max_bytes` (NAME -> NAME.1), so no input can fill the disk through the log.
// A spdlog sink: spdlog's mutex makes it safe from any thread.
#pragma once
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace berth {

class DaemonLogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // Writes to `fd` (not owned; it may be replaced by dup2 when rotating).
  DaemonLogSink(int fd, int lines_per_second, uint64_t max_bytes, Clock clock = nullptr);
  uint64_t suppressed_total() const { return suppressed_total_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  bool take_token();
  void write_line(std::string_view text);
  void rotate();

  int fd_;
  double rate_, capacity_, tokens_;
  uint64_t max_bytes_;
  Clock clock_;
  std::chrono::steady_clock::time_point last_;
  uint64_t suppressed_ = 0, suppressed_total_ = 0;
  bool regular_ = false;  // fd_ is a regular file: track its size, rotate it
  uint64_t size_ = 0;
};

// Makes the default logger write through a DaemonLogSink on stderr.
void install_daemon_log(int lines_per_second, uint64_t max_bytes);

}  // namespace berth
