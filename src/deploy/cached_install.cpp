#include "deploy/cached_install.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>

#include "core/offload.h"

namespace berth {
namespace asio = boost::asio;

asio::awaitable<Result<CachedInstallResult>> install_through_cache(CachedInstall job) {
  std::string key;
  auto protocol = [&]() -> Result<CacheOutcome> {
    auto k = cache_key(job.plan.command, job.release, job.plan.inputs, job.cache.tools());
    BERTH_TRY(k);
    key = k->key;
    CacheFill fill{*k, job.plan.command, job.release, job.plan.outputs, {}, {}};
    fill.wait.deadline = std::chrono::steady_clock::now() + job.timeout;
    fill.wait.cancel = job.cancel;
    fill.wait.on_wait = [&job, k = k->key](const std::string& holder) {
      asio::post(job.io, [note = job.note, k, holder] {
        note(fmt::format("waiting for another installer of {}{}", k.substr(0, 12),
                         holder.empty() ? "" : " (" + holder + ")"));
      });
    };
    fill.install = [&]() -> Result<void> {
      auto done = std::make_shared<std::promise<Result<void>>>();
      auto result = done->get_future();
      asio::co_spawn(job.io, job.install(), [done](std::exception_ptr e, Result<void> r) {
        done->set_value(e ? fail(Code::kInstallFailed, "the installer failed to run")
                          : std::move(r));
      });
      try {
        return result.get();
      } catch (const std::future_error&) {  // the loop went away before the install ended
        return fail(Code::kInterrupted, "the daemon stopped during the installing phase");
      }
    };
    return job.cache.get_or_install(fill);
  };
  asio::thread_pool worker(1);
  auto out = co_await offload(worker, std::move(protocol));
  BERTH_CO_TRY(out);
  co_return CachedInstallResult{std::move(*out), key};
}

}  // namespace berth
