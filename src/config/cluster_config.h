// The daemon's [api] and [cluster] settings: where the API listens, and whether (and how) this
// daemon is one node of a cluster on etcd. Parsed from config.toml, then BERTH_* variables.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/error.h"

namespace berth {

// [api]: the listening address. Anything but loopback needs TLS (tls_cert and tls_key) or an
// explicit insecure_http = true.
struct ApiConfig {
  std::string listen = "127.0.0.1";
  std::filesystem::path tls_cert, tls_key;  // both or neither; relative to the home
  bool insecure_http = false;

  bool tls() const { return !tls_cert.empty(); }
};

// [cluster]: present (etcd non-empty) means cluster mode.
struct ClusterConfig {
  std::vector<std::string> etcd;      // "http://127.0.0.1:2379", ...
  std::string node;                   // default: the host name
  std::string name = "default";       // the key prefix /berth/v1/NAME/
  std::filesystem::path secret_file;  // required in cluster mode
  std::string secret;                 // its contents, trimmed (loaded, not configured)
  std::string advertise;              // the URL peers use; default http://LISTEN:PORT
  Millis lease_ttl{10'000};
  Millis peer_timeout{600'000};
  std::string etcd_user, etcd_password;
  // The CA that etcd endpoints and peers over https are verified with (empty: the system's
  // store); with [api] TLS, peers showing a certificate must chain to it too.
  std::filesystem::path ca;

  bool enabled() const { return !etcd.empty(); }
};

// 127.0.0.0/8, ::1 or "localhost".
bool is_loopback_address(const std::string& address);

}  // namespace berth
