#include "cluster/key_writer.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "cluster/etcd_codec.h"

namespace berth::cluster {
namespace asio = boost::asio;

KeyWriter::KeyWriter(asio::any_io_executor ex, etcd::Client& client)
    : ex_(ex), client_(client), idle_(ex) {}

KeyWriter::~KeyWriter() = default;

void KeyWriter::put(const std::string& key, const std::string& value, int64_t lease) {
  enqueue(key, value, lease, true);
}

void KeyWriter::put_soon(const std::string& key, const std::string& value, int64_t lease) {
  enqueue(key, value, lease, false);
}

void KeyWriter::enqueue(const std::string& key, const std::string& value, int64_t lease,
                        bool urgent) {
  if (stopping_) return;
  auto& s = slots_[key];
  s.value = value;
  s.lease = lease;
  s.pending = true;
  if (urgent && !s.urgent) {
    s.urgent = true;
    idle_.notify_all();  // a drain holding a value back sends it now
  }
  if (s.running) return;  // the running drain picks the new value up
  s.running = true;
  ++running_;
  asio::co_spawn(ex_, drain(key), asio::detached);
}

asio::awaitable<void> KeyWriter::drain(std::string key) {
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    if (!slots_[key].urgent && slots_[key].pending && !stopping_) {
      const std::function<bool()> go = [this, &key] { return stopping_ || slots_[key].urgent; };
      co_await idle_.wait_until(go, StateEvent::Clock::now() + kSoon);
    }
    auto& s = slots_[key];
    if (!s.pending || stopping_) break;
    s.pending = false;
    s.urgent = false;
    const std::string value = s.value;
    const int64_t lease = s.lease;
    auto r = co_await client_.put(key, value, lease);
    if (r) {
      delay = std::chrono::milliseconds(100);
      continue;
    }
    auto& again = slots_[key];
    if (lease != 0 && etcd::is_lease_not_found(r.error())) {
      // Its lease lapsed: every key on it is gone, and the node re-joining writes them anew.
      spdlog::info("cluster: dropped the write of {}: its lease {:x} lapsed", key, lease);
      continue;
    }
    spdlog::warn("cluster: writing {} failed, retrying: {}", key, r.error().message);
    if (!again.pending) {  // nothing newer: this value must still land
      again.pending = true;
      again.value = value;
      again.lease = lease;
    }
    const std::function<bool()> stopping = [this] { return stopping_; };
    co_await idle_.wait_until(stopping, StateEvent::Clock::now() + delay);  // stop() wakes it
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
  slots_[key].running = false;
  --running_;
  idle_.notify_all();
}

asio::awaitable<void> KeyWriter::stop() {
  stopping_ = true;
  idle_.notify_all();
  const std::function<bool()> done = [this] { return running_ == 0; };
  co_await idle_.wait_until(done, StateEvent::Clock::time_point::max());
}

}  // namespace berth::cluster
