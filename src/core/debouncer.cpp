#include "core/debouncer.h"

#include <algorithm>

namespace berth {

Debouncer::Debouncer(boost::asio::any_io_executor ex, Millis quiet, Millis ceiling, Fire fire)
    : timer_(std::move(ex)),
      quiet_(quiet),
      ceiling_(std::max(ceiling, quiet)),
      fire_(std::move(fire)),
      meter_(quiet) {}

BurstMeter::BurstMeter(Millis window) : window_(std::max(window, kMinWindow)) {}

void BurstMeter::add(Clock::time_point t) {
  times_.push_back(t);
  dense(t);  // trims
}

bool BurstMeter::dense(Clock::time_point now) {
  while (!times_.empty() && times_.front() < now - window_) times_.pop_front();
  return times_.size() * 1000 >= kPokesPerSecond * static_cast<size_t>(window_.count());
}

void Debouncer::poke(const std::string& path) {
  auto now = std::chrono::steady_clock::now();
  if (!armed_) {
    armed_ = true;
    first_ = now;
    deadline_ = first_ + ceiling_;
    first_path_ = path;
    pokes_ = 0;
    meter_.clear();
  }
  meter_.add(now);
  ++pokes_;
  last_ = now;
  last_path_ = path;
  arm();
}

void Debouncer::arm() {
  timer_.expires_at(std::min(last_ + quiet_, deadline_));
  // A re-arm cancels the previous wait, whose handler then sees operation_aborted; so does
  // destroying the timer, so the handler touches `this` only on a real expiry.
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    // The ceiling, not the quiet period, ended the wait: within reason, a burst still going
    // strong is let finish (the quiet period ends it) rather than cut in two.
    if (now < last_ + quiet_ && meter_.dense(now) &&
        now + meter_.window() < first_ + 10 * ceiling_) {
      deadline_ = now + meter_.window();
      arm();
      return;
    }
    armed_ = false;
    std::string first = std::move(first_path_), last = std::move(last_path_);
    fire_(first, last, pokes_);
  });
}

void Debouncer::cancel() {
  armed_ = false;
  timer_.cancel();
}

}  // namespace berth
