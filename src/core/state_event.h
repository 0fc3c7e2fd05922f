// A level-triggered wake-up for coroutines on one io_context: waiters re-check their own
// predicate after every notify, so no notification can be lost between check and wait.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <list>

namespace berth {

class StateEvent {
 public:
  using Clock = std::chrono::steady_clock;
  explicit StateEvent(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  StateEvent(const StateEvent&) = delete;
  StateEvent& operator=(const StateEvent&) = delete;
  // Contract: the owner outlives every coroutine waiting on it.

  // Returns true once pred() holds, false if the deadline passes first.
  // `pred` is taken by reference and must be a named object in the caller: GCC 12 destroys
  // non-trivial temporaries of a co_await full-expression twice (a lambda holding a
  // shared_ptr, converted to a temporary std::function, would drop its reference twice).
  boost::asio::awaitable<bool> wait_until(const std::function<bool()>& pred,
                                          Clock::time_point deadline);
  // Wakes every waiter so it re-checks its predicate.
  void notify_all();

 private:
  boost::asio::any_io_executor ex_;
  std::list<boost::asio::steady_timer*> waiters_;
};

}  // namespace berth
