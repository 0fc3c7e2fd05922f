// The install-cache use marks of live releases: a release made from a cache entry holds the
// entry's shared use mark for as long as its directory exists, so no daemon sharing the cache
// prunes an entry something still runs from. Taken after an install, re-taken at start from
// the deployments' `install` field, dropped when the release goes. Event-loop thread.
#pragma once
#include <filesystem>
#include <map>

#include "cache/install_cache.h"
#include "deploy/release_store.h"
#include "store/deployment_repo.h"

namespace berth {

class CacheUses {
 public:
  explicit CacheUses(InstallCache* cache) : cache_(cache) {}  // null: the cache is off

  void hold(const std::filesystem::path& release, UseMark mark) {
    marks_[release] = std::move(mark);
  }
  // At start: every release on disk made from an entry that still exists marks it again.
  void hold_live(DeploymentRepo& repo, const ReleaseStore& releases);
  // Drops the marks of releases that no longer exist (after pruning, a destroy).
  void release_gone();

 private:
  InstallCache* cache_;
  std::map<std::filesystem::path, UseMark> marks_;
};

}  // namespace berth
