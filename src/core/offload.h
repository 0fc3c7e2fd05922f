// Runs blocking work (file trees, lock waits) on a thread pool and resumes the awaiting
// coroutine on its own executor, so the event loop never blocks on it.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

namespace berth {

// GCC 12: pass `f` as a named object (std::move of a local), never a temporary.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> offload(boost::asio::thread_pool& pool, F f) {
  using R = std::invoke_result_t<F>;
  auto task = [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); };
  co_return co_await boost::asio::co_spawn(pool, std::move(task), boost::asio::use_awaitable);
}

}  // namespace berth
