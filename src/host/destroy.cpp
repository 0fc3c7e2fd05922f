// Destroy and reconcile: lesson 2. A destroyed component is tombstoned only after its whole
// teardown succeeded, and nothing but an explicit deploy or run brings the name back.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "host/host.h"

namespace berth {
namespace asio = boost::asio;
namespace fs = std::filesystem;

Result<void> Host::lift_tombstone(const std::string& name) {
  if (!tombstones_.contains(name)) return {};
  BERTH_TRY(component_repo_->lift(name));
  tombstones_.erase(name);
  spdlog::info("{}: tombstone lifted", name);
  return {};
}

asio::awaitable<void> Host::destroy_settled(const std::string& name) {
  const std::function<bool()> settled = [this, name] { return !destroying_.contains(name); };
  co_await destroy_ended_->wait_until(settled, std::chrono::steady_clock::time_point::max());
}

bool Host::deployed_here(const std::string& name) const {
  auto c = find(name);
  return c && c->dir() == deployer_->releases().link(name);
}

asio::awaitable<Result<bool>> Host::destroy_here(const std::string& name) {
  if (find(name)) co_return co_await destroy(name);
  // Not a component here (yet): a first deploy of it may still be fetching or installing, and
  // would bring the name back once it activates. It ends as component_destroyed instead, and
  // the name answers 410 here as on the nodes that ran it.
  co_await deployer_->cancel_all(name);
  if (tombstones_.contains(name) || find(name)) co_return true;
  if (auto t = component_repo_->tombstone(name); !t)
    co_return fail(Code::kDestroyFailed,
                   "cannot record the tombstone of \"" + name + "\": " + t.error().message);
  tombstones_.insert(name);
  co_return true;
}

asio::awaitable<Result<api::DestroyReport>> Host::destroy_everywhere(const std::string& name) {
  if (!cluster_ || (find(name) && !deployed_here(name))) {
    auto r = co_await destroy(name);
    BERTH_CO_TRY(r);
    co_return api::DestroyReport{*r, {}};
  }
  auto r = co_await cluster_->replicator().destroy(name);
  if (!r && r.error().code == Code::kNotFound && tombstones_.contains(name))
    co_return api::DestroyReport{true, {}};  // destroyed here before the cluster knew it
  BERTH_CO_TRY(r);
  co_return api::DestroyReport{r->already, std::move(r->peers)};
}

asio::awaitable<Result<bool>> Host::destroy(const std::string& name) {
  if (tombstones_.contains(name)) co_return true;
  auto c = find(name);
  if (!c) co_return fail(Code::kNotFound, "no component named \"" + name + "\"");
  if (destroying_.contains(name)) {
    // Two destroys of one name: the second answers with the first's outcome.
    co_await destroy_settled(name);
    if (tombstones_.contains(name)) co_return true;
    co_return fail(Code::kDestroyFailed, "the destroy running meanwhile failed; see its status");
  }
  destroying_.insert(name);
  // The intent first: a daemon killed during the teardown finishes it at its next start
  // (resume_destroys). If even that cannot be written, nothing is touched.
  if (auto r = component_repo_->mark_destroying(name); !r) {
    destroying_.erase(name);
    destroy_ended_->notify_all();
    co_return fail(Code::kDestroyFailed, "cannot record the destroy of \"" + name +
                                             "\", so nothing was removed: " + r.error().message);
  }
  c->mark_destroyed();
  co_await deployer_->cancel_all(name);
  co_await c->stop();
  c->logs().close_followers();

  // The teardown: the live link and releases of a deployed component (a component run in
  // place keeps its directory: it is the user's), and the logs.
  std::vector<std::string> problems;
  std::error_code ec;
  const bool deployed = c->dir() == deployer_->releases().link(name);
  if (deployed) {
    fs::remove(deployer_->releases().link(name), ec);
    if (ec) problems.push_back("link: " + ec.message());
    fs::remove_all(deployer_->releases().releases_of(name), ec);
    deployer_->release_cache_uses();
    if (ec) problems.push_back("releases: " + ec.message());
  }
  fs::remove_all(config_.home / "logs" / name, ec);
  if (ec) problems.push_back("logs: " + ec.message());
  Result<void> done;
  if (!problems.empty()) {
    std::string why;
    for (auto& p : problems) why += (why.empty() ? "" : "; ") + p;
    done = fail(Code::kDestroyFailed, "could not remove everything of \"" + name + "\": " + why);
  } else if (auto t = component_repo_->tombstone(name); !t) {
    done =
        fail(Code::kDestroyFailed, "removed everything of \"" + name +
                                       "\" but cannot record its tombstone: " + t.error().message);
  }
  destroying_.erase(name);
  if (done) {
    tombstones_.insert(name);
    components_.erase(name);
    components_changed();
    spdlog::info("{}: destroyed", name);
  } else {
    // Not tombstoned: still listed, shown as destroy_failed; another destroy retries.
    c->set_destroy_failed(done.error());
    spdlog::error("{}: {}", name, done.error().message);
  }
  destroy_ended_->notify_all();
  BERTH_CO_TRY(done);
  co_return false;
}

asio::awaitable<void> Host::resume_destroys(std::vector<std::string> names) {
  for (auto& name : names) {
    spdlog::warn("{}: finishing the destroy a previous daemon began", name);
    if (auto r = co_await destroy(name); !r)
      spdlog::error("{}: cannot finish its destroy: {}", name, r.error().message);
  }
}

asio::awaitable<Result<void>> Host::finish_pending_destroy(const std::string& name) {
  co_await destroy_settled(name);
  auto c = find(name);
  if (!c || !c->destroyed()) co_return Result<void>{};
  auto r = co_await destroy(name);
  if (!r)
    co_return fail(
        Code::kDestroyFailed,
        "\"" + name + "\" is half destroyed and finishing that failed: " + r.error().message);
  co_return Result<void>{};
}

asio::awaitable<Host::Reconciled> Host::reconcile(const std::set<std::string>& live) {
  Reconciled out;
  for (auto& name : live) {
    if (!tombstones_.contains(name)) continue;
    if (auto r = lift_tombstone(name); r)
      out.healed.push_back(name);
    else
      out.failed.emplace_back(name, r.error().message);
  }
  std::vector<std::string> names;
  for (auto& [name, c] : components_) names.push_back(name);
  for (auto& name : names) {
    if (live.contains(name)) continue;
    auto c = find(name);
    if (!c) continue;
    if (deployer_->in_flight(name)) {
      out.kept.emplace_back(name, "a deploy is in flight");
      continue;
    }
    if (c->keep()) {
      out.kept.emplace_back(name, "[lifecycle] keep = true");
      continue;
    }
    auto r = co_await destroy(name);
    if (r)
      out.dropped.push_back(name);
    else
      out.failed.emplace_back(name, r.error().message);
  }
  co_return out;
}

}  // namespace berth
