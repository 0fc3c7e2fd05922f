// One component's recursive watcher. One inotify watch per non-ignored directory (never per
// file); directories created or moved in are watched and scanned at once; renamed directories
// keep correct paths. Overflow means rescan. When the kernel refuses watches or instances it
// falls back to stat polling and retries inotify later. A deleted or moved root is retried
// with backoff a bounded number of times, then the watcher gives up and says so.
// Changes are debounced (quiet period + ceiling) into one `on_change(path)` call per burst.
// (A deploy does not pause a watcher: the component drops it and builds a fresh one after.)
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/debouncer.h"
#include "core/duration.h"
#include "core/ignore_rules.h"
#include "watch/inotify_hub.h"
#include "watch/tree_snapshot.h"

namespace berth {

struct WatchOptions {
  std::filesystem::path root;
  IgnoreRules rules;
  Millis debounce{50};          // quiet period that ends a burst
  Millis max_wait{1000};        // ceiling for a drizzle (core/debouncer.h)
  Millis poll_interval{2000};   // polling fallback scan period
  int retries = 10;             // root missing: attempts before giving up
  Millis retry_base{100};       // first retry delay; doubles, capped at 5 s
  Millis inotify_retry{30000};  // from polling, try inotify again this often
  Millis rescan_gap{500};       // minimum time between two overflow rescans
};

class TreeWatcher : public InotifyHub::Listener {
 public:
  enum class Mode { kStopped, kInotify, kPolling, kRootMissing, kGaveUp };
  using OnChange = std::function<void(const std::string& path, size_t events)>;

  TreeWatcher(boost::asio::io_context& io, InotifyHub& hub, WatchOptions opts, OnChange on_change);
  ~TreeWatcher() override;
  TreeWatcher(const TreeWatcher&) = delete;
  TreeWatcher& operator=(const TreeWatcher&) = delete;

  // Crawls and watches. Contract: call once; the destructor (or stop) releases everything.
  void start();
  // Releases every watch and timer; no callback fires afterwards.
  void stop();

  Mode mode() const { return mode_; }
  const std::string& reason() const { return reason_; }  // why polling / gave up
  size_t watches() const { return wd_path_.size(); }
  uint64_t rescans() const { return rescans_; }
  uint64_t changes() const { return changes_; }

  // InotifyHub::Listener
  void on_inotify(int wd, uint32_t mask, uint32_t cookie, std::string_view name) override;
  void on_overflow() override;
  void on_batch_end() override;

 private:
  // Adds watches for `rel` and every non-ignored directory below it; the files found are
  // appended to `files` (for directories that appear after the start). False when the
  // kernel refused a watch or an instance (then `error_` says why).
  bool watch_tree(const std::string& rel, std::vector<std::string>* files);
  bool crawl();  // all watches from the root; false: fell back to polling or root missing
  void release();
  void forget_subtree(const std::string& rel, bool rm_from_kernel);
  void rename_subtree(const std::string& from, const std::string& to);
  void changed(const std::string& rel);
  void enter_polling(const Error& why);
  void schedule(Millis delay, std::function<void()> fn);
  void poll_tick();
  void root_lost();
  void retry_root();
  void rescan();

  InotifyHub& hub_;
  WatchOptions opts_;
  OnChange on_change_;
  Debouncer debouncer_;
  boost::asio::steady_timer timer_;
  Mode mode_ = Mode::kStopped;
  std::string reason_;
  std::optional<Error> error_;
  std::unordered_map<int, std::string> wd_path_;
  std::unordered_map<std::string, int> path_wd_;
  std::unordered_map<uint32_t, std::string> moved_from_;  // rename cookie -> old dir path
  Snapshot snapshot_;                                     // polling: the last scan
  int root_attempts_ = 0;
  bool rescan_pending_ = false;
  std::chrono::steady_clock::time_point last_rescan_{}, last_inotify_try_{};
  uint64_t rescans_ = 0, changes_ = 0;
  bool warned_polling_ = false;
};

const char* to_string(TreeWatcher::Mode m);

}  // namespace berth
