// Parsing of the [api] and [cluster] tables, for daemon_config.cpp only (toml++ stays out of
// the headers the rest of the code includes).
#pragma once
#include <toml++/toml.h>

#include "config/cluster_config.h"

namespace berth {

Result<void> parse_api_table(const toml::table& t, const std::string& file, ApiConfig& c);
Result<void> parse_cluster_table(const toml::table& t, const std::string& file, ClusterConfig& c);
// After the file: BERTH_LISTEN, BERTH_ETCD, BERTH_NODE, BERTH_CLUSTER_SECRET_FILE,
// BERTH_ADVERTISE; then the node name's default, the secret read, and the checks that span
// keys (TLS for non-loopback listening, a secret in cluster mode). `advertise` stays empty
// when unset: the host fills it once it knows its port.
Result<void> finish_network_config(ApiConfig& api, ClusterConfig& cluster,
                                   const std::filesystem::path& home);

}  // namespace berth
