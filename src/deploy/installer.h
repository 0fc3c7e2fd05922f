// The install phase of a deploy: decides the command (the manifest's [install] command, else
// detected from package.json) and runs it as a supervised process tree in the release
// directory, streaming its output line by line. A timeout kills the whole tree.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/manifest.h"
#include "core/error.h"
#include "proc/reaper.h"
#include "proc/stream.h"
#include "store/tree_repo.h"

namespace berth {

struct InstallPlan {
  std::string command;  // for /bin/sh -c
  std::string why;      // "from berth.toml", "package-lock.json present", ...
  // For the install cache: files that decide the result and what the install produces.
  std::vector<std::string> inputs, outputs;
  std::string uncached;  // why the install cache is not used; empty when it is
};

// nullopt: nothing to install. Fails with `bad_package_json` on an unreadable package.json.
Result<std::optional<InstallPlan>> plan_install(const std::filesystem::path& dir,
                                                const InstallSpec& spec);

struct InstallRun {
  boost::asio::io_context& io;
  Reaper& reaper;
  std::filesystem::path dir;
  InstallPlan plan;
  std::chrono::milliseconds timeout;
  std::optional<std::filesystem::path> cgroup;  // created by the caller, or none
  std::function<void(Stream stream, std::string_view line)> on_line;
  // Recorded while it runs, so a daemon killed mid-install has its installer swept at restart.
  TreeRepo* trees = nullptr;
  std::string record_as;
  // Set while it runs to a function that ends the install's tree (used to cancel it).
  std::function<void()>* stop_handle = nullptr;
};

// Completes when every process of the install is gone. Errors: install_failed (non-zero exit
// or signal), install_timeout, spawn_failed; a stop through `stop_handle` ends with
// install_failed.
boost::asio::awaitable<Result<void>> run_install(InstallRun run);

}  // namespace berth
