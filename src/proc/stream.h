// Where a line of a component's output came from.
#pragma once

namespace berth {

enum class Stream {
  kStdout,
  kStderr,
  kBerth,  // berth's own notes about the component ("[berth] started pid 42")
};

inline const char* to_string(Stream s) {
  switch (s) {
    case Stream::kStdout:
      return "stdout";
    case Stream::kStderr:
      return "stderr";
    case Stream::kBerth:
      return "berth";
  }
  return "stdout";
}

}  // namespace berth
