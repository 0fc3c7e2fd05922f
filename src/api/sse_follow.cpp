#include "api/sse_follow.h"

namespace berth::api {
namespace asio = boost::asio;

asio::awaitable<void> follow(http::SseWriter& w, const FollowSource& src) {
  static const std::string kPing = "ping";
  for (;;) {
    auto batch = src.next();
    for (auto& e : batch)
      if (!co_await w.event(e.id, e.type, e.data)) co_return;
    if (!batch.empty()) continue;
    if (src.ended() || !src.changed) co_return;
    if (!co_await w.flush()) co_return;
    bool more = co_await src.changed->wait_until(
        src.news, std::chrono::steady_clock::now() + std::chrono::seconds(15));
    if (!more && !co_await w.comment(kPing)) co_return;
  }
}

}  // namespace berth::api
