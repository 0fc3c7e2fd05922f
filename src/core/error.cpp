#include "core/error.h"

#include <cstring>

namespace berth {

std::string errno_message(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

}  // namespace berth
