// The API's view of the host (api/backend.h): the composition root hands api/ this adapter,
// so the API never sees the host's own types.
#pragma once
#include "api/backend.h"

namespace berth {

class Host;

class ApiBackend final : public api::Backend {
 public:
  explicit ApiBackend(Host& host) : host_(host) {}

  std::vector<std::shared_ptr<api::ComponentApi>> components() const override;
  std::shared_ptr<api::ComponentApi> find(const std::string& name) const override;
  bool tombstoned(const std::string& name) const override;
  Result<RunOutcome> run(const std::string& dir, const std::string& name, bool watch,
                         const EnvChange& env, const RunSource& source) override;
  Result<void> set_desired(const std::string& name, bool running) override;
  boost::asio::awaitable<Result<api::DestroyReport>> destroy(const std::string& name) override;
  boost::asio::awaitable<api::ReconcileReport> reconcile(
      const std::set<std::string>& live) override;
  Deployer& deployer() override;
  InstallCache* cache() override;
  cluster::Node* cluster() override;
  api::Health health() const override;
  void request_shutdown() override;
  bool shutting_down() const override;

 private:
  Host& host_;
};

}  // namespace berth
