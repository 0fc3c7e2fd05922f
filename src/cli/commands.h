// The `berth` command line: parses arguments (CLI11) and runs one subcommand.
#pragma once

namespace berth::cli {

// Exit codes: 0 ok, 1 error (the server's message on stderr), 2 usage.
int main(int argc, char** argv);

}  // namespace berth::cli
