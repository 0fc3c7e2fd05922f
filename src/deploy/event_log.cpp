#include "deploy/event_log.h"

#include <spdlog/spdlog.h>

namespace berth {
namespace {
constexpr size_t kBatch = 512;
constexpr auto kFlushEvery = std::chrono::milliseconds(50);
}  // namespace

DeploymentLog::DeploymentLog(boost::asio::any_io_executor ex, DeploymentRepo& repo, std::string id,
                             int64_t last_seq)
    : repo_(repo),
      id_(std::move(id)),
      seq_(last_seq),
      stored_(last_seq),
      timer_(ex),
      changed_(ex) {}

DeploymentLog::~DeploymentLog() {
  timer_.cancel();
}

int64_t DeploymentLog::append(const std::string& type, nlohmann::json data) {
  // Stored as it goes on the wire, so followers send it without parsing it again.
  const int64_t ts = now_ms();
  data["seq"] = ++seq_;
  data["ts"] = ts;
  data["type"] = type;
  pending_.push_back(
      {seq_, ts, type, data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  if (pending_.size() >= kBatch) {
    flush();
  } else if (pending_.size() == 1) {
    // Weak: a wait that has already completed cannot be cancelled, and may run after the
    // log is gone (ASan caught this in the destroy stress test).
    timer_.expires_after(kFlushEvery);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->flush();
    });
  }
  changed_.notify_all();
  return seq_;
}

void DeploymentLog::flush() {
  timer_.cancel();
  if (pending_.empty()) return;
  if (auto r = repo_.append_events(id_, pending_); !r)
    spdlog::error("deployment {}: cannot store {} events: {}", id_, pending_.size(),
                  r.error().message);
  // Even when the store failed, followers are served from here on by seq, never blocked.
  stored_ = pending_.back().seq;
  pending_.clear();
}

std::shared_ptr<void> DeploymentLog::follow() {
  ++followers_;
  auto self = shared_from_this();
  return std::shared_ptr<void>(nullptr, [self](void*) {
    if (--self->followers_ == 0 && self->on_unfollowed_) std::exchange(self->on_unfollowed_, {})();
  });
}

void DeploymentLog::when_unfollowed(std::function<void()> f) {
  if (followers_ == 0)
    f();
  else
    on_unfollowed_ = std::move(f);
}

std::vector<EventRow> DeploymentLog::close() {
  timer_.cancel();
  ended_ = true;
  auto out = std::move(pending_);
  pending_.clear();
  if (!out.empty()) stored_ = out.back().seq;
  changed_.notify_all();
  return out;
}

std::vector<EventRow> DeploymentLog::after(int64_t after, size_t limit) {
  std::vector<EventRow> out;
  if (after < stored_) {
    auto rows = repo_.events_after(id_, after, limit);
    if (rows) out = std::move(*rows);
    if (!out.empty()) return out;
  }
  for (auto& e : pending_) {
    if (e.seq <= after) continue;
    out.push_back(e);
    if (out.size() >= limit) break;
  }
  return out;
}

}  // namespace berth
