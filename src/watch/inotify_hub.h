// The daemon's single inotify instance, shared by every component's watcher. It owns the fd,
// reads events on the event loop and dispatches them by watch descriptor. The kernel returns
// the same descriptor for the same directory, so a descriptor may have several listeners;
// it is removed from the kernel when its last listener lets go. A queue overflow, or an
// event for a descriptor nobody knows, is passed on as "rescan", never dropped in silence.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "watch/inotify_api.h"

namespace berth {

class InotifyHub {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void on_inotify(int wd, uint32_t mask, uint32_t cookie, std::string_view name) = 0;
    // Events were lost (queue overflow or an unknown descriptor): rescan.
    virtual void on_overflow() = 0;
    // After every batch read from the kernel: unmatched rename halves can be settled.
    virtual void on_batch_end() {}
  };

  InotifyHub(boost::asio::io_context& io, InotifyApi& api);
  ~InotifyHub();

  // Adds (or shares) a watch. Errors: `inotify_instances` (the kernel refused an instance:
  // EMFILE/ENFILE), `inotify_watches` (ENOSPC: max_user_watches reached), `watch_failed`
  // (anything else, e.g. the directory vanished: ENOENT/ENOTDIR).
  Result<int> add(const std::string& path, uint32_t mask, Listener* l);
  void remove(int wd, Listener* l);
  // Watch descriptors held in the kernel.
  size_t watches() const { return owners_.size(); }
  uint64_t events() const { return events_; }
  uint64_t overflows() const { return overflows_; }

 private:
  Result<void> open();
  void arm();
  void drain();

  boost::asio::io_context& io_;
  InotifyApi& api_;
  std::optional<boost::asio::posix::stream_descriptor> sd_;
  std::unordered_map<int, std::vector<Listener*>> owners_;
  std::unordered_set<int> removed_;  // removed by us; late events until IN_IGNORED are expected
  uint64_t events_ = 0, overflows_ = 0;
};

}  // namespace berth
