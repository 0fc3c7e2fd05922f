// The inotify syscalls behind a seam, so tests can make the kernel refuse watches (ENOSPC)
// or instances (EMFILE) and see the polling fallback work.
#pragma once
#include <cstdint>

namespace berth {

class InotifyApi {
 public:
  virtual ~InotifyApi() = default;
  // Each returns what the syscall returns (-1 with errno set on failure).
  virtual int init() = 0;
  virtual int add_watch(int fd, const char* path, uint32_t mask) = 0;
  virtual int rm_watch(int fd, int wd) = 0;
};

class KernelInotify : public InotifyApi {
 public:
  int init() override;
  int add_watch(int fd, const char* path, uint32_t mask) override;
  int rm_watch(int fd, int wd) override;
};

}  // namespace berth
