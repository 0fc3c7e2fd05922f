// The content key of an install: a digest of everything that decides its result (the
// command, the tools it runs and the runtime under them, the input files, the platform).
// Tools are identified without running them: name@version from the package.json of a JS
// tool, else the sha256 of the binary, remembered per (path, size, mtime).
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace berth {

struct CacheKey {
  std::string key;       // 64 hex digits
  nlohmann::json basis;  // what went into it, for `berth cache ls --json`
};

class ToolIds {
 public:
  // "npm@10.8.2", "sha256:...", or "missing" when `tool` is not on $PATH. Thread-safe.
  std::string identify(const std::string& tool);

 private:
  std::mutex mu_;
  std::map<std::string, std::string> memo_;  // "realpath size mtime" -> identity
};

// The program a shell command runs first, skipping VAR=value assignments.
std::string first_program(const std::string& command);

// `files` are paths relative to `dir`; a missing file is part of the key as missing.
Result<CacheKey> cache_key(const std::string& command, const std::filesystem::path& dir,
                           const std::vector<std::string>& files, ToolIds& tools);

}  // namespace berth
