// The bridge between the install cache and the event loop. The cache protocol blocks (it
// waits on locks and does file I/O), so it runs on a thread of its own; on a miss that thread
// hands the install itself back to the event loop (`install`, a supervised tree there) and
// waits for it. Nothing here touches the loop's state but through asio::post and `install`.
#pragma once
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "cache/install_cache.h"
#include "deploy/installer.h"

namespace berth {

struct CachedInstall {
  boost::asio::io_context& io;
  InstallCache& cache;
  const InstallPlan& plan;
  std::filesystem::path release;
  std::chrono::milliseconds timeout;  // lock waits end here (lock_timeout)
  std::atomic<bool>* cancel;
  std::function<void(const std::string&)> note;  // on the loop: a line for the deploy's log
  // Runs the install command in the release, on the loop.
  std::function<boost::asio::awaitable<Result<void>>()> install;
};

struct CachedInstallResult {
  CacheOutcome outcome;
  std::string key;
};

// Completes on the event loop with the cache's outcome (a hit placed the outputs; a miss ran
// `install` and stored them).
boost::asio::awaitable<Result<CachedInstallResult>> install_through_cache(CachedInstall job);

}  // namespace berth
