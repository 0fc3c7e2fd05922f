// A real etcd cluster for tests: N members on free loopback ports with temp data dirs
// (--unsafe-no-fsync), started by the test and killed with it. Skips (available() is false,
// with why()) where etcd is not installed.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "http/client.h"
#include "http/tls.h"
#include "support/temp_dir.h"

namespace berth::testing {

// Client URLs over https with this certificate, and clients must show one signed by `ca`.
struct EtcdTls {
  std::filesystem::path cert, key, ca;
};

class EtcdCluster {
 public:
  explicit EtcdCluster(int members = 3, EtcdTls tls = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  bool available() const { return why_.empty(); }
  const std::string& why() const { return why_; }
  // "http[s]://127.0.0.1:P" of each member, and all of them comma-separated (BERTH_ETCD).
  const std::vector<std::string>& endpoints() const { return client_urls_; }
  std::string endpoint_list() const;
  // A client of member i's JSON gateway (over TLS when the cluster runs it).
  http::Client client(int i = 0) const;
  int size() const { return static_cast<int>(pids_.size()); }
  // The member that leads now (-1 when none answers).
  int leader() const;
  void kill(int i);   // SIGKILL, reaped
  void pause(int i);  // SIGSTOP: it stops answering without closing its connections
  void resume(int i);
  void restart(int i);  // after kill: the same member, same data dir, rejoins

 private:
  void start_member(int i, bool fresh);
  bool healthy(int i) const;

  test::TempDir dir_;
  std::string why_;
  std::vector<std::string> client_urls_, peer_urls_;
  std::vector<pid_t> pids_;
  std::string initial_cluster_;
  EtcdTls tls_;
  http::TlsContext client_tls_;  // the harness's own calls, with tls_
};

}  // namespace berth::testing
