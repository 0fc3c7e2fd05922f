// `berth run`'s forms, turned into the POST /v1/components bodies they send: a directory (with
// berth.toml, or inferred; a Procfile makes one component per process type, NAME-TYPE), a
// script file (`berth run server.js`), or a command (`berth run -- python3 -m http.server`).
// Also `berth init`. CLI thread; reads the local filesystem only.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace berth::cli {

struct RunTarget {
  std::string target;                // DIR or FILE; empty: the current directory
  std::vector<std::string> command;  // after `--`
  std::string name;                  // --name
  bool watch = false;
};

// One body per component to run, each with "dir" (absolute), "watch" and, where they apply,
// "name", "command" and "procfile". bad_dir / bad_manifest for a target that is neither.
Result<std::vector<nlohmann::json>> plan_run(const RunTarget& t, const std::filesystem::path& cwd);

// Writes DIR/berth.toml from what berth would infer there, commented; refuses to overwrite.
// Returns what it wrote it from.
Result<std::string> init_manifest(const std::filesystem::path& dir, const std::string& name);

}  // namespace berth::cli
