// The `berth` command line: parses arguments (CLI11) and runs one subcommand as a client of
// the daemon's API. `berth daemon` is parsed here too (so --help lists it) but run by the
// caller's `run_daemon`: the CLI knows nothing of the host.
#pragma once
#include <functional>

namespace berth::cli {

// Exit codes: 0 ok, 1 error (the server's message on stderr), 2 usage.
int main(int argc, char** argv, const std::function<int()>& run_daemon);

}  // namespace berth::cli
