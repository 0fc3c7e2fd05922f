#include "core/debouncer.h"

#include <algorithm>

namespace berth {

Debouncer::Debouncer(boost::asio::any_io_executor ex, Millis quiet, Millis ceiling, Fire fire)
    : timer_(std::move(ex)),
      quiet_(quiet),
      ceiling_(std::max(ceiling, quiet)),
      fire_(std::move(fire)) {}

void Debouncer::poke(const std::string& path) {
  auto now = std::chrono::steady_clock::now();
  if (!armed_) {
    armed_ = true;
    first_ = now;
    first_path_ = path;
    pokes_ = 0;
  }
  ++pokes_;
  last_ = now;
  last_path_ = path;
  arm();
}

void Debouncer::arm() {
  timer_.expires_at(std::min(last_ + quiet_, first_ + ceiling_));
  // A re-arm cancels the previous wait, whose handler then sees operation_aborted; so does
  // destroying the timer, so the handler touches `this` only on a real expiry.
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
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
