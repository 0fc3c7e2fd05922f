#include "etcd_cluster.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness.h"
#include "http/client.h"

namespace berth::testing {
namespace fs = std::filesystem;

namespace {

constexpr const char* kEtcd = "/usr/bin/etcd";

uint16_t port_of(const std::string& url) {
  return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

}  // namespace

EtcdCluster::EtcdCluster(int members, EtcdTls tls) : tls_(std::move(tls)) {
  if (::access(kEtcd, X_OK) != 0) {
    why_ = "etcd is not installed (scripts/bootstrap installs etcd-server)";
    return;
  }
  if (!tls_.cert.empty()) {
    auto ctx = http::tls_client_context(tls_.ca, tls_.cert, tls_.key);
    if (!ctx) {
      why_ = ctx.error().message;
      [&] { FAIL() << why_; }();
      return;
    }
    client_tls_ = *ctx;
  }
  const std::string scheme = tls_.cert.empty() ? "http://" : "https://";
  // A port found free can still be taken before etcd binds it (by another suite running at
  // the same time): a member that cannot start means new ports.
  for (int attempt = 1; attempt <= 3; ++attempt) {
    why_.clear();
    client_urls_.clear();
    peer_urls_.clear();
    initial_cluster_.clear();
    auto port = [] { return std::to_string(free_port()); };
    for (int i = 0; i < members; ++i) {
      client_urls_.push_back(scheme + "127.0.0.1:" + port());
      peer_urls_.push_back("http://127.0.0.1:" + port());
      initial_cluster_ += (i ? "," : "") + ("e" + std::to_string(i)) + "=" + peer_urls_.back();
    }
    pids_.assign(members, 0);
    for (int i = 0; i < members; ++i) start_member(i, true);
    for (int i = 0; i < members && why_.empty(); ++i) {
      bool exited = false;
      poll_until([&] {
        exited = ::waitpid(pids_[i], nullptr, WNOHANG) == pids_[i];
        return exited || healthy(i);
      });
      if (exited) pids_[i] = 0;
      if (exited || !healthy(i))
        why_ = "etcd member " + std::to_string(i) +
               (exited ? " exited at start" : " did not become healthy");
    }
    if (why_.empty()) return;
    for (int i = 0; i < members; ++i) {
      if (pids_[i] > 0) kill(i);
      std::error_code ec;
      fs::remove_all(dir_.path / ("e" + std::to_string(i)), ec);
    }
  }
  // Fatal: with only a non-fatal failure recorded, the fixture's GTEST_SKIP does not count as
  // a skip and the test body would run against no cluster.
  [&] { FAIL() << why_ << " (three tries; the logs are in " << dir_.path << ")"; }();
}

EtcdCluster::~EtcdCluster() {
  for (pid_t p : pids_)
    if (p > 0) {
      ::kill(p, SIGCONT);
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
}

std::string EtcdCluster::endpoint_list() const {
  std::string out;
  for (auto& u : client_urls_) out += (out.empty() ? "" : ",") + u;
  return out;
}

void EtcdCluster::start_member(int i, bool fresh) {
  const std::string name = "e" + std::to_string(i);
  const auto data = (dir_.path / name).string();
  const auto log = (dir_.path / (name + ".log")).string();
  // Built before fork: the child of a threaded test only calls async-signal-safe functions.
  std::vector<std::string> args = {kEtcd,
                                   "--name",
                                   name,
                                   "--data-dir",
                                   data,
                                   "--listen-client-urls",
                                   client_urls_[i],
                                   "--advertise-client-urls",
                                   client_urls_[i],
                                   "--listen-peer-urls",
                                   peer_urls_[i],
                                   "--initial-advertise-peer-urls",
                                   peer_urls_[i],
                                   "--initial-cluster",
                                   initial_cluster_,
                                   "--initial-cluster-state",
                                   fresh ? "new" : "existing",
                                   "--unsafe-no-fsync",
                                   "--heartbeat-interval",
                                   "50",
                                   "--election-timeout",
                                   "500"};
  if (!tls_.cert.empty())
    args.insert(args.end(), {"--cert-file", tls_.cert.string(), "--key-file", tls_.key.string(),
                             "--trusted-ca-file", tls_.ca.string(), "--client-cert-auth"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test killed outright takes its etcd with it
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(kEtcd, argv.data());
    ::_exit(127);
  }
  pids_[i] = pid;
}

http::Client EtcdCluster::client(int i) const {
  return http::Client("127.0.0.1", port_of(client_urls_[i]), "", client_tls_);
}

bool EtcdCluster::healthy(int i) const {
  auto c = client(i);
  auto r = c.request("GET", "/health", "", std::chrono::seconds(2));
  return r && r->status == 200 && r->body.find("\"true\"") != std::string::npos;
}

int EtcdCluster::leader() const {
  for (int i = 0; i < size(); ++i) {
    if (pids_[i] <= 0) continue;
    auto c = client(i);
    auto r = c.request("POST", "/v3/maintenance/status", "{}", std::chrono::seconds(2));
    if (!r || r->status != 200) continue;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_object()) continue;
    std::string me = j["header"].value("member_id", ""), lead = j.value("leader", "");
    if (!lead.empty() && me == lead) return i;
  }
  return -1;
}

void EtcdCluster::kill(int i) {
  ::kill(pids_[i], SIGKILL);
  ::waitpid(pids_[i], nullptr, 0);
  pids_[i] = 0;
}

void EtcdCluster::pause(int i) {
  ::kill(pids_[i], SIGSTOP);
}

void EtcdCluster::resume(int i) {
  ::kill(pids_[i], SIGCONT);
}

void EtcdCluster::restart(int i) {
  start_member(i, false);
  EXPECT_TRUE(poll_until([&] { return healthy(i); })) << "member " << i << " did not rejoin";
}

}  // namespace berth::testing
