#include "watch/inotify_api.h"

#include <sys/inotify.h>

namespace berth {

int KernelInotify::init() {
  return ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}
int KernelInotify::add_watch(int fd, const char* path, uint32_t mask) {
  return ::inotify_add_watch(fd, path, mask);
}
int KernelInotify::rm_watch(int fd, int wd) {
  return ::inotify_rm_watch(fd, wd);
}

}  // namespace berth
