// Where deployed components live on disk: releases/NAME/ID (extracted trees, staging as
// releases/NAME/.staging-ID) and components/NAME, a symlink to the live release that is
// replaced atomically (a crash leaves the old link or the new one). Payloads: blob_store.h.
#pragma once
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "core/error.h"

namespace berth {

class ReleaseStore {
 public:
  explicit ReleaseStore(std::filesystem::path home);

  std::filesystem::path link(const std::string& name) const;
  std::filesystem::path releases_of(const std::string& name) const;  // releases/NAME
  std::filesystem::path release_dir(const std::string& name, const std::string& id) const;
  std::filesystem::path staging_dir(const std::string& name, const std::string& id) const;

  // The release id components/NAME points at, if it is a link into releases/NAME.
  std::optional<std::string> current(const std::string& name) const;
  bool has_release(const std::string& name, const std::string& id) const;
  // Points components/NAME at releases/NAME/ID: new link beside it, rename over, fsync.
  Result<void> activate(const std::string& name, const std::string& id);
  // Turns a finished staging tree into releases/NAME/ID (`top`: the single folder to unwrap).
  Result<void> promote(const std::string& name, const std::string& id,
                       const std::optional<std::string>& top);

  // Removes release directories of NAME not in `keep`, and releases/NAME itself once it is
  // empty; returns how many releases went.
  size_t prune_releases(const std::string& name, const std::set<std::string>& keep) const;
  // Removes every staging directory and half-made link (after a crash).
  size_t sweep_partials() const;

 private:
  std::filesystem::path home_;
};

// fsync of a directory, so a rename or a new entry in it is durable.
Result<void> fsync_dir(const std::filesystem::path& dir);

}  // namespace berth
