// The cluster's keys under /berth/v1/<cluster>/ and the JSON each holds (../shared/DESIGN.md,
// docs/cluster.md). One writer per key: the column "written by" there is the contract. Pure
// data and functions; any thread.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace berth::cluster {

class Keys {
 public:
  explicit Keys(const std::string& cluster) : root_("/berth/v1/" + cluster + "/") {}
  const std::string& root() const { return root_; }
  std::string node(std::string_view n) const { return root_ + "nodes/" + std::string(n); }
  std::string member(std::string_view n) const { return root_ + "members/" + std::string(n); }
  std::string comp(std::string_view c) const { return root_ + "comp/" + std::string(c); }
  std::string deploy(std::string_view id) const { return root_ + "deploy/" + std::string(id); }
  std::string peer(std::string_view id, std::string_view n) const {
    return deploy(id) + "/peer/" + std::string(n);
  }
  std::string have(std::string_view digest) const {
    return root_ + "have/" + std::string(digest) + "/";
  }
  std::string have(std::string_view digest, std::string_view n) const {
    return have(digest) + std::string(n);
  }

  // A rolling deploy's slots: rollout/<id>/slot/<k>, on the lease of the node restarting.
  std::string slot(std::string_view id, int k) const {
    return root_ + "rollout/" + std::string(id) + "/slot/" + std::to_string(k);
  }

  // The install cache's key KEY: its install lock (on the holder's lease) and its holders.
  std::string cache_lock(std::string_view key) const {
    return root_ + "cache/" + std::string(key) + "/lock";
  }
  std::string cache_have(std::string_view key) const {
    return root_ + "cache/" + std::string(key) + "/have/";
  }
  std::string cache_have(std::string_view key, std::string_view n) const {
    return cache_have(key) + std::string(n);
  }

  // What a key under root() is, with its parts.
  struct Parsed {
    enum class Kind {
      kNode,
      kMember,
      kComp,
      kDeploy,
      kPeer,
      kHave,
      kSlot,
      kOther
    } kind = Kind::kOther;
    // node/member/comp name or slot number; deploy (or rollout) id; peer or holder node
    std::string name, id, node;
  };
  Parsed parse(std::string_view key) const;

 private:
  std::string root_;
};

// nodes/<node> (on the node's lease) and members/<node> (no lease: a node once seen stays
// listed, `down` when its nodes/ key is gone).
struct NodeRecord {
  std::string url, version, boot_id;
  int64_t started_at = 0;
  std::vector<std::string> components;
};
std::string encode(const NodeRecord& r);
Result<NodeRecord> decode_node(std::string_view json);

// comp/<name>: the desired state.
struct Desired {
  std::string state = "live";  // "live" (or, later, "destroyed")
  std::string release, digest, deployment, origin;
  int64_t size = 0;
  std::vector<std::string> expected;  // the peers that deployment expects
  // The release it replaced (a rolling deploy that fails goes back to it): "release",
  // "digest", "size"; null when there was none.
  nlohmann::json previous;
  // Set when this desired state undoes a stopped rolling deploy: the release it stopped, and why.
  std::string reverts, reason;
};
std::string encode(const Desired& d);
Result<Desired> decode_desired(std::string_view json);

// deploy/<id>, written by the origin at the start and once more at the end.
struct DeployRecord {
  std::string id, component, digest, origin;
  int64_t size = 0, created_at = 0;
  std::vector<std::string> expected;
  std::string status = "running";   // then the terminal status
  std::string peer_results = "[]";  // JSON, as in the origin's deployment record
  std::optional<int64_t> ended_at;
};
std::string encode(const DeployRecord& r);
Result<DeployRecord> decode_deploy(std::string_view json);

// deploy/<id>/peer/<node>, written by that node on each phase and at its end.
struct PeerResult {
  std::string node, phase, status = "running";  // status: running or a terminal one
  // Every phase so far, in order: writes of one key coalesce (key_writer.h), so the latest
  // value alone would skip phases that passed quickly.
  std::vector<std::string> phases;
  std::optional<Error> error;
  int64_t started_at = 0;
  int64_t started_us = 0;  // the same instant in microseconds (bench/cluster's propagation)
  std::optional<int64_t> ended_at;
  bool terminal() const { return status != "running"; }
};
std::string encode(const PeerResult& r);
Result<PeerResult> decode_peer(std::string_view json);
// The origin's `peer_results`: [{"node","status","phase","error","started_at","ended_at"}].
std::string peer_results_json(const std::vector<PeerResult>& results);

}  // namespace berth::cluster
