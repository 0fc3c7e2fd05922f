// Turns a burst of pokes into one call: it fires once the pokes have been quiet for `quiet`,
// or `ceiling` after the first poke of the burst, whichever comes first, so a steady drizzle
// still fires. The call names the first and the last path of the burst.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "core/duration.h"

namespace berth {

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
  bool armed_ = false;
  size_t pokes_ = 0;
  std::string first_path_, last_path_;
  std::chrono::steady_clock::time_point first_, last_;
};

}  // namespace berth
