// berth: one binary; `berth daemon` is the host, every other subcommand is its client. The only
// place that knows both.
#include <fmt/format.h>

#include "cli/commands.h"
#include "config/daemon_config.h"
#include "host/host.h"

int main(int argc, char** argv) {
  auto daemon = [] {
    auto config = berth::load_daemon_config(berth::default_home());
    if (!config) {
      fmt::print(stderr, "berth: {}\n", config.error().message);
      return 1;
    }
    berth::Host host(*config);
    return host.run();
  };
  return berth::cli::main(argc, argv, daemon);
}
