#include "proc/specs.h"

namespace berth {

const char* to_string(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kOnFailure:
      return "on-failure";
    case RestartPolicy::kAlways:
      return "always";
    case RestartPolicy::kNever:
      return "never";
  }
  return "?";
}

const char* to_string(ServeMode m) {
  return m == ServeMode::kSocket ? "socket" : "proxy";
}

}  // namespace berth
