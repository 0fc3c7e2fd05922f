#include "host/api_backend.h"

#include "host/host.h"

namespace berth {
namespace asio = boost::asio;

std::vector<std::shared_ptr<api::ComponentApi>> ApiBackend::components() const {
  std::vector<std::shared_ptr<api::ComponentApi>> out;
  for (auto& [name, c] : host_.components()) out.push_back(c);
  return out;
}

std::shared_ptr<api::ComponentApi> ApiBackend::find(const std::string& name) const {
  return host_.find(name);
}

bool ApiBackend::tombstoned(const std::string& name) const {
  return host_.tombstoned(name);
}

Result<api::Backend::RunOutcome> ApiBackend::run(const std::string& dir, const std::string& name,
                                                 bool watch, const EnvChange& env,
                                                 const RunSource& source) {
  bool restart = false;
  auto c = host_.run_component(dir, name, watch, env, &restart, source);
  BERTH_TRY(c);
  return RunOutcome{*c, restart};
}

Result<void> ApiBackend::set_desired(const std::string& name, bool running) {
  return host_.set_desired(name, running);
}

asio::awaitable<Result<api::DestroyReport>> ApiBackend::destroy(const std::string& name) {
  co_return co_await host_.destroy_everywhere(name);
}

asio::awaitable<api::ReconcileReport> ApiBackend::reconcile(const std::set<std::string>& live) {
  co_return co_await host_.reconcile(live);
}

Deployer& ApiBackend::deployer() {
  return host_.deployer();
}

cluster::Node* ApiBackend::cluster() {
  return host_.cluster();
}

InstallCache* ApiBackend::cache() {
  return host_.cache();
}

api::Health ApiBackend::health() const {
  return host_.health();
}

void ApiBackend::request_shutdown() {
  host_.request_shutdown();
}

bool ApiBackend::shutting_down() const {
  return host_.shutting_down();
}

}  // namespace berth
