// berth: one binary; `berth daemon` is the host, every other subcommand is its client.
#include "cli/commands.h"

int main(int argc, char** argv) {
  return berth::cli::main(argc, argv);
}
