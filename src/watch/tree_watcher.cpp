#include "watch/tree_watcher.h"

#include <dirent.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>

namespace berth {
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                           IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                           IN_DONT_FOLLOW | IN_EXCL_UNLINK;
constexpr auto kRetryCap = std::chrono::milliseconds(5000);

bool is_dir(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool under(const std::string& path, const std::string& dir) {
  return path == dir ||
         (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

}  // namespace

const char* to_string(TreeWatcher::Mode m) {
  switch (m) {
    case TreeWatcher::Mode::kStopped:
      return "stopped";
    case TreeWatcher::Mode::kInotify:
      return "inotify";
    case TreeWatcher::Mode::kPolling:
      return "polling";
    case TreeWatcher::Mode::kRootMissing:
      return "root_missing";
    case TreeWatcher::Mode::kGaveUp:
      return "gave_up";
  }
  return "?";
}

TreeWatcher::TreeWatcher(boost::asio::io_context& io, InotifyHub& hub, WatchOptions opts,
                         OnChange on_change)
    : hub_(hub),
      opts_(std::move(opts)),
      on_change_(std::move(on_change)),
      debouncer_(io.get_executor(), opts_.debounce, opts_.max_wait,
                 [this](const std::string& first, const std::string& last, size_t pokes) {
                   // Editors and `sed -i` write a temporary file and rename it over the real
                   // one: name a path that still exists (the rename target) when the first
                   // one is gone.
                   std::error_code ec;
                   bool first_gone = first != "." && !first.starts_with("(") &&
                                     !fs::exists(opts_.root / first, ec);
                   const std::string& path =
                       first_gone && fs::exists(opts_.root / last, ec) ? last : first;
                   if (on_change_) on_change_(path, pokes);
                 }),
      timer_(io) {}

TreeWatcher::~TreeWatcher() {
  stop();
}

void TreeWatcher::start() {
  crawl();
}

void TreeWatcher::stop() {
  release();
  timer_.cancel();
  debouncer_.cancel();
  mode_ = Mode::kStopped;
}

void TreeWatcher::schedule(Millis delay, std::function<void()> fn) {
  timer_.expires_after(delay);
  // Replacing or destroying the timer aborts the wait; only a real expiry touches `this`.
  timer_.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

bool TreeWatcher::watch_tree(const std::string& rel, std::vector<std::string>* files) {
  std::vector<std::string> stack = {rel};
  while (!stack.empty()) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    fs::path full = dir.empty() ? opts_.root : opts_.root / dir;
    // Watch first, then list: whatever is created in between is either listed or reported.
    auto wd = hub_.add(full.string(), kMask, this);
    if (!wd) {
      if (wd.error().code == Code::kWatchFailed) continue;  // vanished meanwhile
      error_ = wd.error();
      return false;
    }
    if (auto old = wd_path_.find(*wd); old != wd_path_.end() && old->second != dir)
      path_wd_.erase(old->second);
    wd_path_[*wd] = dir;
    path_wd_[dir] = *wd;
    DIR* d = ::opendir(full.c_str());
    if (!d) continue;
    while (auto* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string child = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
      bool sub = e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && is_dir(full / e->d_name));
      if (sub) {
        if (!opts_.rules.ignored(child, true)) stack.push_back(std::move(child));
      } else if (files && opts_.rules.counts(child)) {
        files->push_back(std::move(child));
      }
    }
    ::closedir(d);
  }
  return true;
}

bool TreeWatcher::crawl() {
  if (!is_dir(opts_.root)) {
    root_lost();
    return false;
  }
  mode_ = Mode::kInotify;
  reason_.clear();
  error_.reset();
  if (!watch_tree("", nullptr)) {
    enter_polling(*error_);
    return false;
  }
  return true;
}

void TreeWatcher::release() {
  for (auto& [wd, path] : wd_path_) hub_.remove(wd, this);
  wd_path_.clear();
  path_wd_.clear();
  moved_from_.clear();
}

void TreeWatcher::forget_subtree(const std::string& rel, bool rm_from_kernel) {
  for (auto it = path_wd_.begin(); it != path_wd_.end();) {
    if (under(it->first, rel)) {
      if (rm_from_kernel) hub_.remove(it->second, this);
      wd_path_.erase(it->second);
      it = path_wd_.erase(it);
    } else {
      ++it;
    }
  }
}

void TreeWatcher::rename_subtree(const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, int>> moved;
  for (auto& [path, wd] : path_wd_)
    if (under(path, from)) moved.emplace_back(path, wd);
  for (auto& [path, wd] : moved) {
    std::string renamed = to + path.substr(from.size());
    path_wd_.erase(path);
    path_wd_[renamed] = wd;
    wd_path_[wd] = renamed;
  }
}

void TreeWatcher::changed(const std::string& rel) {
  if (mode_ == Mode::kStopped) return;
  ++changes_;
  debouncer_.poke(rel.empty() ? "." : rel);
}

void TreeWatcher::on_inotify(int wd, uint32_t mask, uint32_t cookie, std::string_view name) {
  if (mode_ != Mode::kInotify) return;
  auto it = wd_path_.find(wd);
  if (it == wd_path_.end()) return;
  const std::string dir = it->second;
  if (mask & IN_IGNORED) {
    // The kernel dropped the watch (directory deleted or unmounted).
    wd_path_.erase(wd);
    if (auto p = path_wd_.find(dir); p != path_wd_.end() && p->second == wd) path_wd_.erase(p);
    if (dir.empty()) root_lost();
    return;
  }
  if (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    if (dir.empty()) root_lost();  // subdirectories are handled through their parent's events
    return;
  }
  if (name.empty()) return;
  std::string rel = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
  const bool sub = mask & IN_ISDIR;
  if (opts_.rules.ignored(rel, sub)) return;
  if (!sub) {
    if (opts_.rules.counts(rel)) changed(rel);
    return;
  }
  if (mask & IN_MOVED_FROM) {
    moved_from_[cookie] = rel;  // settled by its IN_MOVED_TO, or at the end of the batch
    return;
  }
  if ((mask & IN_MOVED_TO) && moved_from_.contains(cookie)) {
    rename_subtree(moved_from_[cookie], rel);
    moved_from_.erase(cookie);
    changed(rel);
    return;
  }
  if (mask & (IN_CREATE | IN_MOVED_TO)) {
    std::vector<std::string> files;
    if (!watch_tree(rel, &files)) {
      enter_polling(*error_);
      return;
    }
    if (files.empty() && (mask & IN_MOVED_TO)) changed(rel);
    for (auto& f : files) changed(f);
    return;
  }
  if (mask & IN_DELETE) {
    forget_subtree(rel, false);
    changed(rel);
  }
}

void TreeWatcher::on_batch_end() {
  // A directory moved out of the tree: its watches still fire in its new place; drop them.
  for (auto& [cookie, rel] : moved_from_) {
    forget_subtree(rel, true);
    changed(rel);
  }
  moved_from_.clear();
}

void TreeWatcher::on_overflow() {
  if (mode_ == Mode::kInotify) rescan();
}

void TreeWatcher::rescan() {
  auto now = std::chrono::steady_clock::now();
  auto next = last_rescan_ + opts_.rescan_gap;
  if (now < next) {
    // A hot tree overflowing again and again is rescanned at a bounded rate.
    if (!rescan_pending_) {
      rescan_pending_ = true;
      schedule(std::chrono::duration_cast<Millis>(next - now) + Millis(1), [this] {
        rescan_pending_ = false;
        rescan();
      });
    }
    return;
  }
  last_rescan_ = now;
  ++rescans_;
  spdlog::info("watch {}: events were lost (queue overflow); rescanning", opts_.root.string());
  // Re-walking re-adds every directory (the kernel hands back existing descriptors) and picks
  // up directories created while events were lost. What changed is unknown: report a change.
  if (crawl()) changed("(rescan after lost events)");
}

void TreeWatcher::enter_polling(const Error& why) {
  release();
  mode_ = Mode::kPolling;
  reason_ = why.message;
  if (!warned_polling_) {
    warned_polling_ = true;
    spdlog::warn("watch {}: {}; polling every {} instead (raise the limit with `sysctl -w {}=N`)",
                 opts_.root.string(), why.message, format_duration(opts_.poll_interval),
                 why.code == Code::kInotifyInstances ? "fs.inotify.max_user_instances"
                                                     : "fs.inotify.max_user_watches");
  }
  snapshot_ = scan_tree(opts_.root, opts_.rules);
  last_inotify_try_ = std::chrono::steady_clock::now();
  schedule(opts_.poll_interval, [this] { poll_tick(); });
}

void TreeWatcher::poll_tick() {
  if (!is_dir(opts_.root)) {
    root_lost();
    return;
  }
  auto now_snap = scan_tree(opts_.root, opts_.rules);
  if (auto diff = first_difference(snapshot_, now_snap)) changed(*diff);
  snapshot_ = std::move(now_snap);
  if (std::chrono::steady_clock::now() - last_inotify_try_ >= opts_.inotify_retry) {
    last_inotify_try_ = std::chrono::steady_clock::now();
    mode_ = Mode::kInotify;
    error_.reset();
    if (watch_tree("", nullptr)) {
      reason_.clear();
      spdlog::info("watch {}: inotify works again; stopped polling", opts_.root.string());
      return;
    }
    release();
    mode_ = Mode::kPolling;
  }
  schedule(opts_.poll_interval, [this] { poll_tick(); });
}

void TreeWatcher::root_lost() {
  release();
  if (mode_ != Mode::kRootMissing) root_attempts_ = 0;
  mode_ = Mode::kRootMissing;
  reason_ = "root missing";
  Millis delay = opts_.retry_base;
  for (int i = 0; i < root_attempts_ && delay < kRetryCap; ++i) delay *= 2;
  schedule(std::min(delay, Millis(kRetryCap)), [this] { retry_root(); });
}

void TreeWatcher::retry_root() {
  if (is_dir(opts_.root)) {
    spdlog::info("watch {}: root is back", opts_.root.string());
    if (crawl()) changed(".");
    return;
  }
  if (++root_attempts_ >= opts_.retries) {
    mode_ = Mode::kGaveUp;
    reason_ = "root missing";
    spdlog::warn(
        "watch {}: root missing after {} retries; gave up (restart the component to watch again)",
        opts_.root.string(), root_attempts_);
    return;
  }
  root_lost();
}

}  // namespace berth
