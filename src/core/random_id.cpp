#include "core/random_id.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace berth {

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(buf.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {  // no getrandom (a kernel before 3.17): the device it reads from
      int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
      n = fd < 0 ? -1 : ::read(fd, buf.data() + got, bytes - got);
      if (fd >= 0) ::close(fd);
    }
    if (n <= 0) {  // no entropy at all: ids would collide; nothing sane is left to do
      std::fputs("berth: no source of random bytes (getrandom, /dev/urandom)\n", stderr);
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : buf) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace berth
