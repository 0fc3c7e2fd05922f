// The inverse of offload.h: a blocking thread (the install cache's protocol thread) runs a
// coroutine on the event loop and waits for its result. Never call it on the loop's own thread:
// it would wait for itself, so that is refused with `interrupted` instead.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <future>
#include <memory>

#include "core/error.h"

namespace berth {

template <class T>
Result<T> block_on(boost::asio::io_context& io,
                   std::function<boost::asio::awaitable<Result<T>>()> make) {
  if (io.get_executor().running_in_this_thread())
    return fail(Code::kInterrupted, "block_on called on the event loop's thread");
  auto done = std::make_shared<std::promise<Result<T>>>();
  auto result = done->get_future();
  boost::asio::co_spawn(
      io, [make = std::move(make)]() { return make(); },
      [done](std::exception_ptr e, Result<T> r) {
        if (e)
          done->set_value(fail(Code::kInterrupted, "the event loop's task failed"));
        else
          done->set_value(std::move(r));
      });
  try {
    return result.get();
  } catch (const std::future_error&) {  // the loop went away before the task ran or ended
    return fail(Code::kInterrupted, "the daemon is stopping");
  }
}

}  // namespace berth
