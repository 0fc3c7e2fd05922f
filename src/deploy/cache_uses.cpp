#include "deploy/cache_uses.h"

#include <nlohmann/json.hpp>

namespace berth {
namespace fs = std::filesystem;

void CacheUses::hold_live(DeploymentRepo& repo, const ReleaseStore& releases) {
  if (!cache_) return;
  auto rows = repo.list("", 100000);
  if (!rows) return;
  for (auto& row : *rows) {
    if (row.install.empty() || !releases.has_release(row.component, row.release)) continue;
    auto info = nlohmann::json::parse(row.install, nullptr, false);
    if (!info.is_object() || !info.value("key", nlohmann::json()).is_string()) continue;
    auto dir = releases.release_dir(row.component, row.release);
    if (marks_.contains(dir)) continue;
    const auto key = info["key"].get<std::string>();
    if (auto mark = cache_->use(key); mark && cache_->lookup(key)) marks_[dir] = std::move(*mark);
  }
}

void CacheUses::release_gone() {
  std::erase_if(marks_, [](const auto& m) {
    std::error_code ec;
    return !fs::exists(m.first, ec);
  });
}

}  // namespace berth
