// The one follow loop behind every server-sent-event stream (logs, deployment events): send
// what is there, then wait for more, with a `: ping` comment every 15 s of quiet so a dead
// client is noticed, until the source says it has ended or the client goes away.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/state_event.h"
#include "http/message.h"

namespace berth::api {

struct SseEvent {
  std::string id, type, data;
};

struct FollowSource {
  // The events after what was sent so far (it keeps its own cursor); empty when none.
  std::function<std::vector<SseEvent>()> next;
  // Once true and `next` has nothing more, the stream ends.
  std::function<bool()> ended;
  // Notified when there may be more; `news` says whether there is (null when the source can
  // have nothing new: then `ended` must hold once `next` is drained).
  StateEvent* changed = nullptr;
  std::function<bool()> news;
};

boost::asio::awaitable<void> follow(http::SseWriter& w, const FollowSource& src);

}  // namespace berth::api
