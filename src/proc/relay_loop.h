// The [serve] proxy's data path: every relay between a client's connection and an instance's,
// on an epoll set of its own whose descriptor the event loop waits on. Each socket is registered
// once, edge-triggered (and once more, for writing too, the first time a write finds no room),
// and is read or written only once the kernel has said it can be: through Asio's reactor a
// proxied connection cost six system calls more (an assigned descriptor's registration and
// explicit removal, its non-blocking ioctl, and a read that finds nothing yet). Owns every
// relay and its sockets; runs on the event-loop thread.
#pragma once
#include <sys/epoll.h>

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace berth {

// Closes `fd` with a reset: its peer learns of an error as an error, not as a clean end of the
// stream that would pass a cut-off answer for a whole one.
void close_with_reset(UniqueFd fd);

class RelayLoop {
 public:
  // Called once for each relay: at its first byte of answer, or at its end if none came.
  using Answered = std::function<void(const std::string& backend)>;

  // Refusal: spawn_failed (no descriptor for the set).
  static Result<std::unique_ptr<RelayLoop>> create(boost::asio::any_io_executor ex,
                                                   Answered answered);
  RelayLoop(const RelayLoop&) = delete;
  RelayLoop& operator=(const RelayLoop&) = delete;
  ~RelayLoop();  // closes the sockets of relays still under way

  // Relays between `client` and `up` (connected to `backend`) until both directions have ended
  // (each end passed on as a half close, then both closed), or until one fails (then both are
  // reset). `keep` (this loop's owner) is held while any relay is under way.
  void add(UniqueFd client, UniqueFd up, std::string backend, std::shared_ptr<void> keep);
  size_t size() const { return relays_.size(); }

 private:
  struct Relay;
  struct End;
  struct Flow;
  RelayLoop(boost::asio::any_io_executor ex, UniqueFd set, Answered answered);
  boost::asio::awaitable<void> run(std::shared_ptr<void> keep);
  void handle(const epoll_event& e);
  // Moves what `from` has to `to` until one of them would block, or `from` ends. False: a
  // socket failed.
  bool flow(Relay& r, Flow& f, End& from, End& to);
  bool flush(Flow& f, End& to);
  // `to` has no room: from now on the set says when it has. False: the set refused.
  bool full(End& to);
  void answered(Relay& r);
  void end(Relay& r, bool reset);

  boost::asio::any_io_executor ex_;
  boost::asio::posix::stream_descriptor set_;  // the epoll set
  Answered answered_;
  std::unordered_map<Relay*, std::unique_ptr<Relay>> relays_;
  // Ended during one batch of events, freed after it: a later event of the batch may name it.
  std::vector<std::unique_ptr<Relay>> ended_;
  std::vector<char> scratch_;  // what a read copies, until it is sent on
  bool running_ = false;
};

}  // namespace berth
