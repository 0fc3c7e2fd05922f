// Signal names as manifests and messages spell them.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace berth {

// "SIGTERM", "TERM" or "15" -> 15.
std::optional<int> parse_signal(std::string_view name);
// 15 -> "SIGTERM" (a number without a name stays a number).
std::string signal_name(int sig);

}  // namespace berth
