// What this node knows of the cluster, as of its last list and the watch since: every node
// ever seen (members/) and which of them hold a live lease now (nodes/), and whether etcd is
// reachable. Written by cluster::Node only; read by the replicator and the API. Event loop.
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/schema.h"

namespace berth::cluster {

struct NodeState {
  NodeRecord record;
  bool up = false;  // its nodes/ key (on its lease) exists
};

struct View {
  std::string self;
  std::map<std::string, NodeState> nodes;
  bool connected = false;
  int64_t disconnected_since = 0;  // ms since the epoch; 0 while connected
  std::string last_error;
  // The last reconcile: how many keys the list returned, how long from sending the list to
  // having converged or queued every component, and when (ms since the epoch).
  struct Listed {
    size_t keys = 0;
    double ms = 0;
    int64_t at = 0;
  } last_list;

  std::vector<std::string> up_peers() const {
    std::vector<std::string> out;
    for (auto& [n, s] : nodes)
      if (s.up && n != self) out.push_back(n);
    return out;
  }
  std::vector<std::string> down_members() const {
    std::vector<std::string> out;
    for (auto& [n, s] : nodes)
      if (!s.up && n != self) out.push_back(n);
    return out;
  }
  std::optional<std::string> url_of(const std::string& n) const {
    auto it = nodes.find(n);
    if (it == nodes.end() || !it->second.up || it->second.record.url.empty()) return std::nullopt;
    return it->second.record.url;
  }
};

}  // namespace berth::cluster
