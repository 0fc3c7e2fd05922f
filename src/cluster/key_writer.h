// Writes this node's own keys in order: one write at a time per key, a newer value replacing
// one not yet sent, and a failed write retried (backing off) until it lands, a newer value
// replaces it, or its lease turns out gone (the node re-joining writes its keys anew). So the last
// value written is the one etcd keeps, however the calls interleave (Harper's #1170: a burst of
// writes to one record committed out of order). Event-loop thread.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "cluster/etcd_client.h"
#include "core/state_event.h"

namespace berth::cluster {

class KeyWriter {
 public:
  KeyWriter(boost::asio::any_io_executor ex, etcd::Client& client);
  ~KeyWriter();

  void put(const std::string& key, const std::string& value, int64_t lease = 0);
  // The same, for progress nobody waits on: held up to kSoon so that values that follow
  // quickly (a deploy's phases) go out as one write; a put() of the key sends it at once.
  void put_soon(const std::string& key, const std::string& value, int64_t lease = 0);
  static constexpr std::chrono::milliseconds kSoon{25};
  // Stops retrying; completes once no write is in flight.
  boost::asio::awaitable<void> stop();

 private:
  struct Slot {
    std::string value;
    int64_t lease = 0;
    bool pending = false, running = false, urgent = false;
  };
  void enqueue(const std::string& key, const std::string& value, int64_t lease, bool urgent);
  boost::asio::awaitable<void> drain(std::string key);

  boost::asio::any_io_executor ex_;
  etcd::Client& client_;
  std::map<std::string, Slot> slots_;
  int running_ = 0;
  bool stopping_ = false;
  StateEvent idle_;
};

}  // namespace berth::cluster
