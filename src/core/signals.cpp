#include "core/signals.h"

#include <cctype>
#include <csignal>

namespace berth {
namespace {

struct SigName {
  const char* name;
  int sig;
};
constexpr SigName kSignals[] = {{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},
                                {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"USR2", SIGUSR2},
                                {"TERM", SIGTERM}, {"WINCH", SIGWINCH}, {"ABRT", SIGABRT},
                                {"ALRM", SIGALRM}, {"CONT", SIGCONT},   {"STOP", SIGSTOP}};

}  // namespace

std::optional<int> parse_signal(std::string_view name) {
  if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
    int v = 0;
    for (char c : name) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      v = v * 10 + (c - '0');
      if (v > 64) return std::nullopt;
    }
    return v >= 1 ? std::optional<int>(v) : std::nullopt;
  }
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (auto& s : kSignals)
    if (name == s.name) return s.sig;
  return std::nullopt;
}

std::string signal_name(int sig) {
  for (auto& s : kSignals)
    if (s.sig == sig) return std::string("SIG") + s.name;
  return std::to_string(sig);
}

}  // namespace berth
