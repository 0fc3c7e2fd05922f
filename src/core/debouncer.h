// Turns a burst of pokes into one call: it fires once the pokes have been quiet for `quiet`,
// or `ceiling` after the first poke of the burst, whichever comes first, so a steady drizzle
// still fires. The ceiling never cuts a dense burst in the middle (a checkout, an install:
// hundreds of files a second, see BurstMeter): while one goes on the ceiling moves on, up to
// 10 x `ceiling`. The call names the first and the last path of the burst.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <string>

#include "core/duration.h"

namespace berth {

// How dense the pokes are: a burst comes at kPokesPerSecond or more over the last window (the
// quiet period, at least kMinWindow, so events handed over in clumps still count); a drizzle
// (a log written every 10 ms) is sparser however long it lasts.
class BurstMeter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kPokesPerSecond = 500;
  static constexpr Millis kMinWindow{100};
  explicit BurstMeter(Millis window);
  Millis window() const { return window_; }
  void add(Clock::time_point t);
  bool dense(Clock::time_point now);
  void clear() { times_.clear(); }

 private:
  Millis window_;
  std::deque<Clock::time_point> times_;  // of the pokes in the last window
};

class Debouncer {
 public:
  using Fire = std::function<void(const std::string& first_path, const std::string& last_path,
                                  size_t pokes)>;
  Debouncer(boost::asio::any_io_executor ex, Millis quiet, Millis ceiling, Fire fire);

  void poke(const std::string& path);
  // Forgets a pending burst.
  void cancel();

 private:
  void arm();

  boost::asio::steady_timer timer_;
  Millis quiet_, ceiling_;
  Fire fire_;
  BurstMeter meter_;
  std::chrono::steady_clock::time_point deadline_;  // the ceiling, moved on by a dense burst
  bool armed_ = false;
  size_t pokes_ = 0;
  std::string first_path_, last_path_;
  std::chrono::steady_clock::time_point first_, last_;
};

}  // namespace berth
