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

const char* to_string(HealthSpec::Kind k) {
  switch (k) {
    case HealthSpec::Kind::kHttp:
      return "http";
    case HealthSpec::Kind::kTcp:
      return "tcp";
    case HealthSpec::Kind::kCommand:
      return "command";
  }
  return "?";
}

}  // namespace berth
