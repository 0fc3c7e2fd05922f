// Zero configuration: what berth runs in a directory without a berth.toml, inferred the way a
// user would read it. In order: a Procfile (the process type asked for, else `web`, else its
// only one), package.json (`scripts.start` as `npm start`, else `node MAIN`), then the one
// entry file there is of app.py, main.py, server.js, index.js. Pure functions, any thread.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth {

struct Inference {
  std::vector<std::string> argv;
  std::string how;  // what it was inferred from: "package.json scripts.start"
};

struct ProcfileEntry {
  std::string type, command;
};

// `TYPE: command` lines (Heroku's format); blank lines and `#` comments skipped. `web` first,
// the rest in file order. bad_manifest naming the line for anything else.
Result<std::vector<ProcfileEntry>> parse_procfile(std::string_view text, const std::string& origin);

// Fails with bad_manifest saying what was looked for, or which candidates made it ambiguous.
Result<Inference> infer_run(const std::filesystem::path& dir, const std::string& proc_type = "");

// How to run one script file: node for .js/.mjs/.cjs, python3 for .py, sh for .sh, the file
// itself when executable; bad_manifest otherwise.
Result<std::vector<std::string>> script_command(const std::filesystem::path& file);

// A component name from a command line: the script or module an interpreter runs
// ("python3 -m http.server" -> "http.server", "node server.js" -> "server"), else the program.
std::string name_from_command(const std::vector<std::string>& argv);

// The berth.toml `berth init` writes: the inferred command and the keys most often wanted
// next, commented out, each with a word on what it does.
std::string commented_manifest(const std::string& name, const Inference& inferred);

}  // namespace berth
