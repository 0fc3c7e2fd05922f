// A component's captured output: appended to logs/NAME/output.log (size-rotated; each line
// with its time and stream, proc/log_format.h), kept in a ring of recent lines for `logs -n`,
// and pushed to followers (`logs -f`) as it arrives.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/state_event.h"
#include "core/unique_fd.h"
#include "proc/stream.h"

namespace berth {

struct LogLine {
  uint64_t seq = 0;   // 1, 2, ... within this daemon's life
  int64_t ts_ms = 0;  // wall clock, ms since epoch
  Stream stream = Stream::kStdout;
  std::string text;
  int instance = -1;  // of a component that runs several; -1: none
};

struct LogLimits {
  uint64_t max_bytes = 10 * 1024 * 1024;
  int files = 3;
  size_t ring_lines = 2000;
};

class LogSink {
 public:
  // Preloads the ring with the tail of an existing output.log so `logs` survives restarts.
  LogSink(boost::asio::any_io_executor ex, std::filesystem::path dir, LogLimits limits);

  void append(Stream stream, std::string_view text, int instance = -1);
  // Up to `n` most recent lines; with a window, of those written in [since_ms, until_ms].
  std::vector<LogLine> tail(size_t n) const;
  std::vector<LogLine> tail(size_t n, int64_t since_ms, int64_t until_ms) const;
  // Lines with seq > after still in the ring (a slow follower may have missed older ones).
  std::vector<LogLine> since(uint64_t after) const;
  uint64_t last_seq() const { return next_seq_ - 1; }
  // Wakes followers whenever a line arrives (and on close_followers).
  StateEvent& changed() { return changed_; }
  // Ends every `logs -f` (component removed or daemon stopping).
  void close_followers();
  bool closed() const { return closed_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  void open_file();
  void rotate();

  std::filesystem::path dir_, file_;
  LogLimits limits_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  std::deque<LogLine> ring_;
  uint64_t next_seq_ = 1;
  StateEvent changed_;
  bool closed_ = false;
};

}  // namespace berth
