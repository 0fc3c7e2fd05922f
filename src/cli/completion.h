// `berth completion bash|zsh|fish`: a completion script generated from the command-line
// definition itself (subcommands, their aliases and flags, nested subcommands), so it never
// drifts from the CLI. Component names come from the running daemon through the hidden
// `berth __names` (which never starts one). CLI thread.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "core/error.h"

namespace berth::cli {

// bad_request for a shell it does not know.
Result<std::string> completion_script(const CLI::App& app, const std::string& shell);

}  // namespace berth::cli
