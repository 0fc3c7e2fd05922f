#include "core/state_event.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace berth {

namespace asio = boost::asio;

asio::awaitable<bool> StateEvent::wait_until(const std::function<bool()>& pred,
                                             Clock::time_point deadline) {
  for (;;) {
    if (pred()) co_return true;
    if (Clock::now() >= deadline) co_return false;
    asio::steady_timer timer(ex_, deadline);
    auto it = waiters_.insert(waiters_.end(), &timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    waiters_.erase(it);
  }
}

void StateEvent::notify_all() {
  for (auto* t : waiters_) t->cancel();
}

}  // namespace berth
