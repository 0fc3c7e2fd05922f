#include "watch/inotify_hub.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>

namespace berth {

InotifyHub::InotifyHub(boost::asio::io_context& io, InotifyApi& api) : io_(io), api_(api) {}

InotifyHub::~InotifyHub() = default;

Result<void> InotifyHub::open() {
  if (sd_) return {};
  int fd = api_.init();
  if (fd < 0) {
    int err = errno;
    if (err == EMFILE || err == ENFILE)
      return fail(Code::kInotifyInstances,
                  errno_message("inotify_init1 (raise fs.inotify.max_user_instances)", err));
    return fail(Code::kWatchFailed, errno_message("inotify_init1", err));
  }
  sd_.emplace(io_, fd);
  arm();
  return {};
}

Result<int> InotifyHub::add(const std::string& path, uint32_t mask, Listener* l) {
  BERTH_TRY(open());
  int wd = api_.add_watch(sd_->native_handle(), path.c_str(), mask);
  if (wd < 0) {
    int err = errno;
    if (err == ENOSPC)
      return fail(
          Code::kInotifyWatches,
          errno_message("inotify_add_watch " + path + " (raise fs.inotify.max_user_watches)", err));
    if (err == EMFILE || err == ENFILE)
      return fail(Code::kInotifyInstances, errno_message("inotify_add_watch " + path, err));
    return fail(Code::kWatchFailed, errno_message("inotify_add_watch " + path, err));
  }
  removed_.erase(wd);
  auto& owners = owners_[wd];
  if (std::find(owners.begin(), owners.end(), l) == owners.end()) owners.push_back(l);
  return wd;
}

void InotifyHub::remove(int wd, Listener* l) {
  auto it = owners_.find(wd);
  if (it == owners_.end()) return;
  std::erase(it->second, l);
  if (!it->second.empty()) return;
  owners_.erase(it);
  removed_.insert(wd);
  if (sd_) api_.rm_watch(sd_->native_handle(), wd);
}

void InotifyHub::arm() {
  sd_->async_wait(boost::asio::posix::descriptor_base::wait_read,
                  [this](const boost::system::error_code& ec) {
                    if (ec) return;
                    drain();
                    arm();
                  });
}

void InotifyHub::drain() {
  alignas(inotify_event) char buf[64 * 1024];
  std::vector<Listener*> touched;
  auto touch = [&](Listener* l) {
    if (std::find(touched.begin(), touched.end(), l) == touched.end()) touched.push_back(l);
  };
  for (;;) {
    ssize_t n = ::read(sd_->native_handle(), buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      ++events_;
      std::string_view name = ev->len ? std::string_view(ev->name) : std::string_view();
      if (ev->mask & IN_Q_OVERFLOW) {
        ++overflows_;
        // Copy: a listener may remove watches while handling this.
        std::vector<Listener*> all;
        for (auto& [wd, owners] : owners_)
          for (auto* l : owners)
            if (std::find(all.begin(), all.end(), l) == all.end()) all.push_back(l);
        for (auto* l : all) {
          l->on_overflow();
          touch(l);
        }
        continue;
      }
      auto it = owners_.find(ev->wd);
      if (it == owners_.end()) {
        if (ev->mask & IN_IGNORED) {
          removed_.erase(ev->wd);
          continue;
        }
        if (removed_.contains(ev->wd)) continue;
        // An event nobody can place: something was lost; every watcher rescans.
        ++overflows_;
        std::vector<Listener*> all;
        for (auto& [wd, owners] : owners_)
          for (auto* l : owners) all.push_back(l);
        for (auto* l : all) l->on_overflow();
        continue;
      }
      auto owners = it->second;  // copy: handlers may add or remove watches
      if (ev->mask & IN_IGNORED) owners_.erase(it);
      for (auto* l : owners) {
        l->on_inotify(ev->wd, ev->mask, ev->cookie, name);
        touch(l);
      }
    }
  }
  for (auto* l : touched) l->on_batch_end();
}

}  // namespace berth
