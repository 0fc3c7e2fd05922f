// The host's side of the deploy pipeline (deploy/deploy_target.h): components are found,
// registered on their first deploy, paused and restarted here, never inside deploy/.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "host/host.h"

namespace berth {
namespace asio = boost::asio;

asio::awaitable<Result<void>> Host::admit(const std::string& name, Superseded superseded) {
  // A deploy arriving while the component is being destroyed (or half destroyed) waits for
  // that destroy to end, then starts afresh.
  BERTH_CO_TRY(co_await finish_pending_destroy(name));
  if (auto why = superseded ? superseded() : std::nullopt) co_return std::unexpected(*why);
  BERTH_CO_TRY(lift_tombstone(name));
  if (auto c = find(name); c && c->dir() != deployer_->releases().link(name))
    co_return fail(Code::kNameTaken, fmt::format("component \"{}\" runs in place from {}; deploy "
                                                 "under another name or remove it first",
                                                 name, c->dir().string()));
  co_return Result<void>{};
}

Result<void> Host::deployed(const std::string& name) const {
  auto c = find(name);
  if (!c) return fail(Code::kNotFound, "no component named \"" + name + "\"");
  if (c->dir() != deployer_->releases().link(name))
    return fail(Code::kNotDeployed, "\"" + name + "\" runs in place; it has no releases");
  return {};
}

void Host::deploys_began(const std::string& name) {
  if (auto c = find(name)) c->pause_for_deploy();
}

void Host::deploys_ended(const std::string& name) {
  if (auto c = find(name)) c->resume_after_deploy();
}

asio::awaitable<Result<void>> Host::restart(const std::string& name) {
  auto c = find(name);
  const bool fresh = !c;
  if (fresh) {  // its first deploy: registered now, its watcher held back until the deploy ends
    auto made = adopt_deployed(name, deployer_->releases().link(name));
    BERTH_CO_TRY(made);
    c = *made;
    c->pause_for_deploy();
  }
  (void)set_desired(name, true);
  Result<void> r;
  if (fresh)
    r = c->start_now();
  else
    r = co_await c->restart();
  if (r) r = co_await c->wait_started();
  co_return r;
}

asio::awaitable<Result<void>> Host::stays_up(const std::string& name,
                                             std::chrono::milliseconds window) {
  auto c = find(name);
  if (!c) co_return fail(Code::kComponentDestroyed, "\"" + name + "\" is gone");
  co_return co_await c->stays_up(window);
}

Result<EnvSettings> Host::keep_env(const std::string& name, const EnvChange& change) {
  auto before = component_repo_->env(name);
  BERTH_TRY(before);
  BERTH_TRY(validate(change));
  const auto dir = deployer_->releases().link(name);
  auto manifest = load_manifest(dir);
  BERTH_TRY(manifest);
  EnvSettings next = *before;
  change.apply(next.set, next.profile);
  BERTH_TRY(compose_environment(ctx_->base_env, *manifest, dir, next.set, next.profile));
  BERTH_TRY(component_repo_->set_env(name, next));
  return before;
}

void Host::restore_env(const std::string& name, const EnvSettings& previous) {
  if (auto r = component_repo_->set_env(name, previous); !r)
    spdlog::error("{}: cannot restore its environment settings: {}", name, r.error().message);
}

asio::awaitable<void> Host::stop(const std::string& name) {
  if (auto c = find(name)) co_await c->stop();
  (void)set_desired(name, false);
}

}  // namespace berth
