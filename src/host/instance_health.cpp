// [health] of an instance (host/instance.h): one check of a run, the loop repeating it while a
// run serves, the gate a replacement passes before it takes over, and the restart after
// `retries` failures in a row. On the event-loop thread.
#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>

#include "host/component.h"
#include "host/instance.h"
#include "proc/health_check.h"

namespace berth {
namespace asio = boost::asio;

asio::awaitable<Result<void>> Instance::check_health(Run run) {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  const HealthSpec spec = *manifest_->health;
  if (spec.kind != HealthSpec::Kind::kCommand) {
    // Socket mode: the [serve] port is reached where berth listens (any-address: over
    // loopback). Proxy mode checks the instance itself, on its own address.
    std::string address = run.address;
    if (manifest_->serve && manifest_->serve->mode == ServeMode::kSocket &&
        manifest_->serve->port == spec.port)
      address = manifest_->serve->address == "0.0.0.0" ? "127.0.0.1"
                : manifest_->serve->address == "::"    ? "::1"
                                                       : manifest_->serve->address;
    co_return co_await probe_health(spec, address, spec.port);
  }
  TreeSpec ts;
  ts.label = owner_.name() + " health check";
  ts.spawn.argv = spec.argv;
  ts.spawn.env = values_of(env_);
  ts.spawn.env["BERTH_HOST"] = run.address;
  ts.spawn.cwd = owner_.dir() / manifest_->run.cwd;
  ts.run_to_exit = true;
  ts.stop.signal = SIGKILL;
  ts.stop.grace = Millis(0);
  auto end = std::make_shared<std::optional<TreeEnd>>();
  ProcessTree::Hooks hooks;
  hooks.on_end = [end](const TreeEnd& e) { *end = e; };
  auto tree =
      ProcessTree::start(owner_.ctx().io, owner_.ctx().reaper, std::move(ts), std::move(hooks));
  if (!tree) co_return fail(Code::kUnhealthy, "command: " + tree.error().message);
  asio::steady_timer deadline(owner_.ctx().io);
  deadline.expires_after(spec.timeout);
  std::weak_ptr<ProcessTree> weak = *tree;
  deadline.async_wait([weak](const boost::system::error_code& ec) {
    if (auto t = weak.lock(); t && !ec) t->request_stop();
  });
  co_await (*tree)->wait_ended();
  deadline.cancel();
  const TreeEnd& e = **end;
  if (e.stop_requested)
    co_return fail(Code::kUnhealthy,
                   "command: did not finish within " + format_duration(spec.timeout));
  if (e.status.code != 0 || e.status.signal != 0)
    co_return fail(Code::kUnhealthy,
                   "command: " + e.status.describe() + (e.summary.empty() ? "" : "; " + e.summary));
  co_return Result<void>{};
}

void Instance::record_health(const Result<void>& r) {
  using namespace std::chrono;
  health_.last.push_back(
      {duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count(), r.has_value(),
       r ? "ok" : r.error().message});
  if (health_.last.size() > 5) health_.last.erase(health_.last.begin());
}

asio::awaitable<void> Instance::health_loop(uint64_t id, bool fresh) {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  const HealthSpec spec = *manifest_->health;
  health_.failures = 0;
  if (fresh) {
    health_.kind = to_string(spec.kind);
    health_.state = "starting";
    health_.last.clear();
  }
  const auto counted_from =
      std::chrono::steady_clock::now() + (fresh ? spec.start_period : Millis(0));
  for (;;) {
    health_timer_.expires_after(spec.interval);
    auto [ec] = co_await health_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || owner_.destroyed() || current_.id != id || !current_.running()) co_return;
    auto r = co_await check_health(current_);
    if (owner_.destroyed() || current_.id != id || !current_.running()) co_return;
    record_health(r);
    if (r) {
      const bool back = health_.state == "unhealthy";
      health_.state = "healthy";
      health_.failures = 0;
      if (back) {
        note("healthy again");
        owner_.backends_changed();
      }
      continue;
    }
    if (std::chrono::steady_clock::now() < counted_from) continue;
    if (++health_.failures < spec.retries) continue;
    health_.state = "unhealthy";
    ++health_.unhealthy_restarts;
    owner_.backends_changed();  // proxy mode: it gets no new connections from now on
    note(fmt::format("unhealthy: {} checks in a row failed, the last: {}; restarting",
                     health_.failures, r.error().message));
    asio::co_spawn(owner_.ctx().io, restart_unhealthy(), asio::detached);
    co_return;
  }
}

asio::awaitable<void> Instance::health_gate(uint64_t id) {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  const HealthSpec spec = *manifest_->health;
  Result<void> r = fail(Code::kUnhealthy, "not checked");
  for (int i = 0; i < spec.retries; ++i) {
    if (i > 0) {
      asio::steady_timer pause(owner_.ctx().io);
      pause.expires_after(std::min(spec.interval, Millis(1000)));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!incoming_ || incoming_->id != id) co_return;
    r = co_await check_health(*incoming_);
    if (r) break;
  }
  if (!incoming_ || incoming_->id != id) co_return;
  if (r) {
    promote();
    became_ready();
    co_return;
  }
  last_error_ = r.error();
  note(fmt::format("the replacement is not healthy ({}); pid {} keeps serving", r.error().message,
                   current_.tree->pid()));
  set_outcome(std::unexpected(r.error()));
  incoming_->tree->request_stop();
}

asio::awaitable<void> Instance::restart_unhealthy() {
  auto self = shared_from_this();
  auto owner = owner_.shared_from_this();
  if (!owner_.restart_allowed() || incoming_) co_return;
  auto next = owner_.load();
  if (!next) {
    note("the restart after failed health checks failed: " + next.error().message);
    co_return;
  }
  owner_.count_restart();
  const uint64_t id = current_.id;
  auto m = std::make_shared<const Manifest>(std::move(*next));
  if (auto r = co_await restart(std::move(m), false); !r) {
    note("the restart after failed health checks failed: " + r.error().message);
    // Still the same run: it is checked on, unhealthy (no new connection in proxy mode) until a
    // check passes again, and `retries` more failures try another restart.
    if (current_.id == id && current_.running() && manifest_->health)
      asio::co_spawn(owner_.ctx().io, health_loop(id, false), asio::detached);
  }
}

}  // namespace berth
