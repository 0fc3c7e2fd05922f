#include "cluster/replicator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include "cluster/payload_fetch.h"
#include "core/duration.h"
#include "http/sse_decoder.h"

namespace berth::cluster {
namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A run that failed with one of these may succeed when tried again unchanged: the cause lies
// outside the release (the cluster, the disk, the store, a lock) and passes.
bool passes(Code c) {
  switch (c) {
    case Code::kClusterUnavailable:
    case Code::kUnreachable:
    case Code::kBadEtcdReply:
    case Code::kBusy:
    case Code::kLockTimeout:
    case Code::kLockFailed:
    case Code::kLockLost:
    case Code::kDiskFull:
    case Code::kIoError:
    case Code::kStoreError:
    case Code::kNoFreeAddress:
    case Code::kDeployInProgress:
    case Code::kDestroyInProgress:
      return true;
    default:
      return false;
  }
}

json peer_event(const PeerResult& r) {
  json e{{"node", r.node}, {"phase", r.phase}, {"status", r.status}};
  if (r.error) e["error"] = {{"code", r.error->code}, {"message", r.error->message}};
  return e;
}

}  // namespace

Replicator::Replicator(ReplicatorContext ctx) : ctx_(std::move(ctx)), changed_(ctx_.ex) {}

std::vector<std::string> Replicator::Pending::superseded_by(const Desired& by) {
  std::vector<std::string> ended;
  for (auto& n : expected) {
    if (results.contains(n)) continue;
    ended.push_back(n);
    PeerResult& r = results[n];
    r.node = n;
    r.status = "failed";
    r.error = Error{Code::kConflict,
                    by.state == "destroyed"
                        ? fmt::format("superseded before it started on {}: destroyed ({} from {})",
                                      n, by.deployment, by.origin)
                        : fmt::format("superseded before it started on {} by a newer deploy ({} "
                                      "from {})",
                                      n, by.deployment, by.origin)};
    r.ended_at = now_ms();
  }
  return ended;
}

bool Replicator::Pending::done() const {
  for (auto& n : expected) {
    auto it = results.find(n);
    if (it == results.end() || !it->second.terminal()) return false;
  }
  return true;
}

std::vector<PeerResult> Replicator::Pending::outcomes(Millis waited,
                                                      const std::string& when_back) const {
  std::vector<PeerResult> out;
  for (auto& n : expected) {
    auto it = results.find(n);
    PeerResult r = it == results.end() ? PeerResult{} : it->second;
    r.node = n;
    if (!r.terminal()) {
      r.status = "unreachable";
      r.error = Error{Code::kUnreachable,
                      fmt::format("no result from {} within {}", n, format_duration(waited))};
    }
    out.push_back(std::move(r));
  }
  for (auto& n : down) {
    PeerResult r;
    r.node = n;
    r.status = "down";
    r.error = Error{Code::kUnreachable, n + " was down" + when_back};
    out.push_back(std::move(r));
  }
  return out;
}

Result<void> Replicator::reachable(const std::string& done) const {
  const auto& v = ctx_.view;
  if (v.connected) return {};
  return fail(Code::kClusterUnavailable,
              "this node cannot reach etcd (since " +
                  format_duration(Millis(now_ms() - v.disconnected_since)) +
                  " ago: " + v.last_error + "); nothing was " + done);
}

// --- the origin ---

asio::awaitable<Result<void>> Replicator::announce(DeploymentRow& row) {
  BERTH_CO_TRY(reachable("deployed"));
  const auto& v = ctx_.view;
  Desired d;
  d.release = row.release;
  d.digest = *row.digest;
  d.size = row.size;
  d.deployment = row.id;
  d.origin = v.self;
  d.expected = v.up_peers();
  // What a rolling deploy that fails goes back to: the cluster's release before this one.
  if (auto was = comps_.find(row.component); was != comps_.end() &&
                                             was->second.desired.state == "live" &&
                                             !was->second.desired.release.empty()) {
    const auto& w = was->second.desired;
    d.previous = {{"release", w.release}, {"digest", w.digest}, {"size", w.size}};
  }
  DeployRecord rec;
  rec.id = row.id;
  rec.component = row.component;
  rec.digest = d.digest;
  rec.size = d.size;
  rec.origin = d.origin;
  rec.expected = d.expected;
  rec.created_at = row.created_at;
  using etcd::Compare, etcd::TxnOp;
  const int64_t seen = comps_[row.component].revision;
  const std::vector<Compare> compare = {
      {ctx_.keys.deploy(row.id), Compare::Target::kCreate, Compare::Op::kEqual, 0, ""},
      {ctx_.keys.comp(row.component), Compare::Target::kMod, Compare::Op::kEqual, seen, ""}};
  const std::vector<TxnOp> ops = {
      {TxnOp::Kind::kPut, ctx_.keys.deploy(row.id), encode(rec), "", 0},
      {TxnOp::Kind::kPut, ctx_.keys.comp(row.component), encode(d), "", 0},
      {TxnOp::Kind::kPut, ctx_.keys.have(d.digest, v.self), "", "", ctx_.lease()}};
  const std::vector<TxnOp> otherwise = {{TxnOp::Kind::kRange, ctx_.keys.comp(row.component)}};
  // Before the txn: its watch event, and peers' answers, may come back before its reply is
  // read (a reply lost and the txn sent again takes long enough for a peer to finish).
  attempted_.insert(row.release);
  pending_[row.id] = pending_for(row.component, d.expected);
  // Peers may see the commit before its reply is read here: time it from the send.
  const int64_t sent_us = now_us();
  auto txn = co_await ctx_.etcd.txn(compare, ops, otherwise);
  if (txn) (void)landed(*txn, row.id);
  if (!txn || !txn->succeeded) {
    attempted_.erase(row.release);
    pending_.erase(row.id);
  }
  BERTH_CO_TRY(txn);
  if (!txn->succeeded) {
    if (auto lost = conflict(row.component, seen, *txn)) co_return std::unexpected(*lost);
    co_return fail(Code::kConflict, "deployment " + row.id + " is already in the cluster");
  }
  wrote(row.component, txn->revision, d);
  pending_[row.id].revision = txn->revision;
  if (auto log = ctx_.deployer.live_log(row.id))
    log->append(
        "cluster",
        {{"expected", d.expected}, {"down", pending_[row.id].down}, {"committed_us", sent_us}});
  co_return Result<void>{};
}

Replicator::Pending Replicator::pending_for(const std::string& component,
                                            const std::vector<std::string>& expected) const {
  Pending p;
  p.component = component;
  p.expected = expected;
  p.down = ctx_.view.down_members();
  return p;
}

void Replicator::on_peer(const std::string& id, const std::string& node, const std::string& value) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto r = decode_peer(value);
  if (!r) return;
  r->node = node;
  auto& slot = it->second.results[node];
  if (slot.terminal()) return;  // already ended (or given up on): later news changes nothing
  const size_t seen = slot.phases.size();
  slot = *r;
  // Once its deployment exists there (past fetching), follow its install lines. A destroy
  // has no deployment, so no log here and nothing there to follow.
  auto log = ctx_.deployer.live_log(id);
  const bool deploying_there = std::any_of(slot.phases.begin(), slot.phases.end(),
                                           [](const std::string& p) { return p != "fetching"; });
  if (log && deploying_there && !it->second.follows.contains(node))
    if (auto url = ctx_.view.url_of(node))
      if (auto parsed = http::Url::parse(*url)) {
        auto handle = std::make_shared<http::StreamHandle>();
        it->second.follows[node] = handle;
        ++it->second.following;
        asio::co_spawn(ctx_.ex, follow_peer(id, node, *parsed, handle), asio::detached);
      }
  if (log) {
    // One line per phase, the ones a coalesced write carried included, then the end.
    for (size_t i = seen; i < slot.phases.size(); ++i)
      log->append("peer", {{"node", node}, {"phase", slot.phases[i]}, {"status", "running"}});
    if (slot.terminal()) log->append("peer", peer_event(slot));
  }
  changed_.notify_all();
}

void Replicator::on_node_gone(const std::string& node, const std::string& why) {
  for (auto& [id, p] : pending_) {
    if (!contains(p.expected, node)) continue;
    auto& slot = p.results[node];
    if (slot.terminal()) continue;
    slot.node = node;
    slot.status = "down";
    slot.error = Error{Code::kUnreachable, node + " " + why + " during the deploy"};
    slot.ended_at = now_ms();
    if (auto log = ctx_.deployer.live_log(id)) log->append("peer", peer_event(slot));
  }
  changed_.notify_all();
}

asio::awaitable<void> Replicator::settle(DeploymentRow& row) {
  auto it = pending_.find(row.id);
  if (it == pending_.end()) co_return;
  if (!it->second.done())
    if (auto log = ctx_.deployer.live_log(row.id))
      log->append("info", {{"message", "waiting for " + join(it->second.expected)}});
  const std::string id = row.id;
  co_await wait_for_peers(id);
  // The peers' last install lines may still be on their way: a short grace for the followers.
  const std::function<bool()> followed = [this, id] {
    auto p = pending_.find(id);
    return stopping_ || p == pending_.end() || p->second.following == 0;
  };
  co_await changed_.wait_until(followed, StateEvent::Clock::now() + std::chrono::seconds(2));
  it = pending_.find(id);
  if (it == pending_.end()) co_return;
  fold(row, it->second);
  for (auto& [node, handle] : it->second.follows) handle->cancel();
  pending_.erase(it);
}

asio::awaitable<void> Replicator::follow_peer(std::string id, std::string node, http::Url url,
                                              std::shared_ptr<http::StreamHandle> handle) {
  http::Call call;
  call.method = "GET";
  call.target = "/v1/cluster/deployments/" + id + "/events";
  call.headers.emplace_back("Authorization", "Bearer " + ctx_.config.secret);
  call.tls = ctx_.tls;
  http::SseDecoder decoder([&](const http::SseEvent& ev) {
    if (ev.type == "end") return false;
    if (ev.type != "install") return true;
    auto log = ctx_.deployer.live_log(id);
    auto e = json::parse(ev.data, nullptr, false);
    if (log && e.is_object())
      log->append(
          "install",
          {{"node", node}, {"stream", e.value("stream", "")}, {"line", e.value("line", "")}});
    return true;
  });
  // Named: GCC 12 destroys a std::function temporary of a co_await expression twice.
  const std::function<bool(std::string_view)> on_data = [&](std::string_view chunk) {
    return decoder.feed(chunk);
  };
  auto r = co_await http::stream(ctx_.ex, url, call, on_data, handle);
  if (!r && r.error().code != Code::kCancelled)
    spdlog::info("cluster: stopped following {}'s deployment {}: {}", node, id, r.error().message);
  if (auto p = pending_.find(id); p != pending_.end()) --p->second.following;
  changed_.notify_all();
}

void Replicator::fold(DeploymentRow& row, Pending& p) {
  const auto results =
      p.outcomes(ctx_.config.peer_timeout, " when the deploy began; it converges when it is back");
  std::vector<std::string> failed;
  for (auto& r : results)
    if (r.status == "down")
      failed.push_back(r.node + ": down");
    else if (r.status != "success")
      failed.push_back(r.node + ": " + (r.error ? r.error->message : r.status));
  row.peer_results = peer_results_json(results);
  // A rolling deploy that a node stopped: the cluster went back, whatever ran here.
  if (auto c = comps_.find(row.component); c != comps_.end() &&
                                           c->second.desired.reverts == row.release &&
                                           c->second.desired.deployment == row.id) {
    row.status = DeploymentStatus::kRolledBack;
    row.error = Error{Code::kRolloutStopped, "the rollout stopped: " + c->second.desired.reason};
    row.error_phase = "rollout";
  } else if (row.status == DeploymentStatus::kSuccess && !failed.empty()) {
    row.status = DeploymentStatus::kPartial;
    row.error = Error{Code::kPeerFailed, fmt::format("{} of {} peers did not succeed: {}",
                                                     failed.size(), results.size(), join(failed))};
    row.error_phase = "peers";
  }
  DeployRecord rec;
  rec.id = row.id;
  rec.component = row.component;
  rec.digest = row.digest.value_or("");
  rec.size = row.size;
  rec.origin = ctx_.view.self;
  rec.expected = p.expected;
  rec.created_at = row.created_at;
  rec.status = std::string(to_string(row.status));
  rec.peer_results = row.peer_results;
  rec.ended_at = now_ms();
  ctx_.writer.put(ctx_.keys.deploy(row.id), encode(rec));
}

// --- every node ---

void Replicator::on_listed(const etcd::RangeReply& all) {
  running_deploys_.clear();
  comps_.clear();
  listed_ = true;
  std::vector<const etcd::KeyValue*> comps;
  std::set<std::string> announced;  // have/<digest>/<self> keys that survive
  std::set<std::string> reported;   // deploy/<id>/peer/<self>: the ids this node answered
  for (auto& kv : all.kvs) {
    auto k = ctx_.keys.parse(kv.key);
    if (k.kind == Keys::Parsed::Kind::kHave && k.node == ctx_.view.self) {
      announced.insert(k.id);
    } else if (k.kind == Keys::Parsed::Kind::kDeploy) {
      if (auto rec = decode_deploy(kv.value); rec && rec->status == "running")
        running_deploys_.insert(k.id);
    } else if (k.kind == Keys::Parsed::Kind::kPeer) {
      if (k.node == ctx_.view.self) reported.insert(k.id);
      on_peer(k.id, k.node, kv.value);
    } else if (k.kind == Keys::Parsed::Kind::kComp) {
      comps.push_back(&kv);
    }
  }
  for (auto* kv : comps) on_comp(ctx_.keys.parse(kv->key).name, kv->value, kv->mod_revision, false);
  answer_listed_destroys(reported);
  announce_payloads(announced);
}

// A destroy that expected this node, listed with nothing of it here and no answer of ours:
// the watch was cut before its event, and the component had gone from here already (or
// never came). There is nothing to do, but the origin waits for the answer, up to peer_timeout.
void Replicator::answer_listed_destroys(const std::set<std::string>& reported) {
  const auto& self = ctx_.view.self;
  for (const auto& [name, c] : comps_) {
    const auto& d = c.desired;
    if (d.state != "destroyed" || d.origin == self || reported.contains(d.deployment) ||
        std::ranges::find(d.expected, self) == d.expected.end() || ctx_.local.deployed_here(name) ||
        ctx_.deployer.in_flight(name))
      continue;
    PeerResult r;
    r.node = self;
    r.phase = "destroying";
    r.phases = {r.phase};
    r.status = "success";
    r.started_at = now_ms();
    r.ended_at = r.started_at;
    report(d.deployment, r);
  }
}

// have/ keys live on the lease, so a lapsed lease took this node's along: announce again every
// payload the cluster still wants that is here, or a node catching up finds no holder.
void Replicator::announce_payloads(const std::set<std::string>& announced) {
  const int64_t lease = ctx_.lease();
  if (lease == 0) return;
  for (const auto& [name, c] : comps_) {
    if (c.desired.state != "live") continue;
    for (const std::string& digest :
         {c.desired.digest, c.desired.previous.is_object()
                                ? c.desired.previous.value("digest", std::string())
                                : std::string()})
      if (!digest.empty() && !announced.contains(digest) && ctx_.deployer.blobs().has(digest))
        ctx_.writer.put(ctx_.keys.have(digest, ctx_.view.self), "", lease);
  }
}

void Replicator::on_comp(const std::string& name, const std::string& value, int64_t revision,
                         bool from_watch) {
  auto d = decode_desired(value);
  if (!d) {
    spdlog::warn("cluster: comp/{}: {}", name, d.error().message);
    return;
  }
  comps_[name] = {revision, *d};
  ++rollout_events_;  // a rollout waiting for a slot looks again: it may have been stopped
  for (auto& [id, p] : pending_)
    if (p.component == name && id != d->deployment && revision > p.revision)
      for (const auto& node : p.superseded_by(*d))
        if (auto log = ctx_.deployer.live_log(id)) log->append("peer", peer_event(p.results[node]));
  changed_.notify_all();
  const auto& self = ctx_.view.self;
  if (d->state == "destroyed") {
    if (from_watch && d->origin == self) return;  // this node's own destroy, running already
    const bool expected = std::ranges::find(d->expected, self) != d->expected.end();
    // Listed, with nothing of it here: nothing to do (answer_listed_destroys answers it if
    // this node never did). Listed with the component still here (its watch was cut before
    // the event): the origin may be waiting.
    const bool here = ctx_.local.deployed_here(name) || ctx_.deployer.in_flight(name);
    if (here || (from_watch && expected))
      asio::co_spawn(ctx_.ex, destroy_one(name, d->deployment, expected), asio::detached);
    return;
  }
  if (d->state == "live") reconcile_live(name, *d, from_watch);
}

void Replicator::reconcile_live(const std::string& name, const Desired& d, bool from_watch) {
  const auto& self = ctx_.view.self;
  // A stopped rollout: nodes on the stopped release go back; the others converge as usual.
  if (!d.reverts.empty() && ctx_.deployer.releases().current(name) == d.reverts) {
    go_back(name, d);
    return;
  }
  if (attempted_.contains(d.release)) return;
  if (from_watch && d.origin == self) return;  // this node's own deploy, running already
  if (ctx_.deployer.releases().current(name) == d.release) {
    attempted_.insert(d.release);
    return;
  }
  // Expected by a deploy still running (seen live, or listed as not ended), and not run here
  // before under that id (a node restarted mid-deploy runs it again as a converge).
  bool as_peer = d.origin != self && contains(d.expected, self) &&
                 (from_watch || running_deploys_.contains(d.deployment));
  if (as_peer)
    if (auto had = ctx_.deployer.repo().get(d.deployment); !had || *had) as_peer = false;
  converge(name, d, as_peer ? d.deployment : "");
}

void Replicator::stop() {
  stopping_ = true;
  changed_.notify_all();
}

void Replicator::converge(const std::string& name, const Desired& d,
                          const std::string& deployment) {
  if (stopping_) return;
  attempted_.insert(d.release);
  if (!deployment.empty()) {
    PeerResult r;
    r.node = ctx_.view.self;
    r.phase = "fetching";
    r.phases = {r.phase};
    r.started_us = now_us();
    r.started_at = r.started_us / 1000;
    mine_[deployment] = r;
    report(deployment, r);
  }
  spdlog::info("cluster: {} converges to release {} ({})", name, d.release,
               deployment.empty() ? "catching up" : "deployment " + deployment);
  asio::co_spawn(ctx_.ex, converge_one(name, d, deployment), asio::detached);
}

asio::awaitable<void> Replicator::converge_one(std::string name, Desired d,
                                               std::string deployment) {
  Result<void> ready;
  if (!ctx_.deployer.blobs().has(d.digest)) {
    FetchContext f{ctx_.ex,        ctx_.etcd,
                   ctx_.keys,      ctx_.deployer.blobs(),
                   ctx_.view.self, ctx_.config.secret,
                   ctx_.tls,       [this](const std::string& n) { return ctx_.view.url_of(n); }};
    ready = co_await fetch_payload(std::move(f), d.digest);
    if (ready) ctx_.writer.put(ctx_.keys.have(d.digest, ctx_.view.self), "", ctx_.lease());
  }
  if (auto why = ready ? superseded(name, d.release) : std::nullopt) ready = std::unexpected(*why);
  if (ready) {
    Deployer::StartOptions opts;
    opts.id = deployment;
    opts.release = d.release;
    opts.kind = deployment.empty() ? DeploymentKind::kConverge : DeploymentKind::kDeploy;
    opts.superseded = [this, name, release = d.release] { return superseded(name, release); };
    auto started = co_await ctx_.deployer.start(name, d.digest, d.origin, opts);
    if (started) co_return;  // on_phase / on_end report (and retry_failed_run) from here on
    ready = std::unexpected(started.error());
  }
  spdlog::warn("cluster: {} could not converge to release {}: {}", name, d.release,
               ready.error().message);
  if (!superseded(name, d.release))
    asio::co_spawn(ctx_.ex, converge_again(name, d.release), asio::detached);
  if (deployment.empty()) co_return;
  auto& r = mine_[deployment];
  r.status = "failed";
  r.error = ready.error();
  r.ended_at = now_ms();
  report(deployment, r);
  mine_.erase(deployment);
}

asio::awaitable<void> Replicator::converge_again(std::string name, std::string release) {
  auto& pause = converge_pause_[name];
  pause = std::clamp(pause * 2, std::chrono::milliseconds(1000), std::chrono::milliseconds(60000));
  const auto until = StateEvent::Clock::now() + pause;
  const std::function<bool()> stopping = [this] { return stopping_; };
  co_await changed_.wait_until(stopping, until);
  attempted_.erase(release);
  auto it = comps_.find(name);
  if (stopping_ || it == comps_.end()) co_return;
  const Desired d = it->second.desired;
  // Moved on meanwhile: what moved it decides.
  if (d.state != "live" || d.release != release) co_return;
  spdlog::info("cluster: {}: trying release {} again", name, release);
  reconcile_live(name, d, false);
}

void Replicator::on_phase(const DeploymentRow& row) {
  auto it = mine_.find(row.id);
  if (it == mine_.end()) return;
  it->second.phase = row.phase;
  it->second.phases.push_back(row.phase);
  report(row.id, it->second);
}

void Replicator::on_end(const DeploymentRow& row) {
  if (auto it = mine_.find(row.id); it != mine_.end()) {
    auto& r = it->second;
    r.status = std::string(to_string(row.status));
    r.phase = row.error ? row.error_phase : row.phase;
    r.error = row.error;
    r.ended_at = row.ended_at.value_or(now_ms());
    report(row.id, r);
    mine_.erase(it);
  }
  retry_failed_run(row);
}

void Replicator::retry_failed_run(const DeploymentRow& row) {
  if (row.status == DeploymentStatus::kSuccess || row.status == DeploymentStatus::kPartial) {
    converge_pause_.erase(row.component);  // it ran here: the next failure starts at 1 s
    return;
  }
  if (stopping_ || row.kind == DeploymentKind::kRollback || !row.error || !passes(row.error->code))
    return;
  auto it = comps_.find(row.component);
  if (it == comps_.end() || it->second.desired.state != "live" ||
      it->second.desired.release != row.release ||
      ctx_.deployer.releases().current(row.component) == row.release)
    return;
  spdlog::info("cluster: {}: release {} failed here ({}: {}); it will be tried again",
               row.component, row.release, wire(row.error->code), row.error->message);
  asio::co_spawn(ctx_.ex, converge_again(row.component, row.release), asio::detached);
}

void Replicator::wrote(const std::string& name, int64_t revision, const Desired& d) {
  Seen& seen = comps_[name];
  if (revision < seen.revision) return;
  seen = {revision, d};
}

void Replicator::report(const std::string& id, const PeerResult& r) {
  // The end is awaited by the origin; phases only show progress (and travel in `phases`).
  if (r.terminal())
    ctx_.writer.put(ctx_.keys.peer(id, ctx_.view.self), encode(r));
  else
    ctx_.writer.put_soon(ctx_.keys.peer(id, ctx_.view.self), encode(r));
}

}  // namespace berth::cluster
