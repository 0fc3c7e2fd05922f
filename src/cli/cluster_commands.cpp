#include "cli/cluster_commands.h"

#include <fmt/format.h>

#include "cli/format.h"
#include "core/duration.h"

namespace berth::cli {
using json = nlohmann::json;

int cmd_nodes(http::Client& client, bool json_out) {
  auto got = fetch_json(client, "GET", "/v1/nodes", "", std::chrono::seconds(60), json_out);
  if (!got) return got.error();
  auto& j = *got;
  if (json_out) {
    fmt::print("{}\n", j.dump());
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "STATE", "URL", "VERSION", "UPTIME", "COMPONENTS"}};
  const auto now = now_ms();
  for (auto& n : j["nodes"]) {
    std::string components;
    const auto orphans = n.value("orphans", json::array());
    for (auto& c : n.value("components", json::array()))
      components +=
          (components.empty() ? "" : ",") + c.get<std::string>() +
          (std::find(orphans.begin(), orphans.end(), c) != orphans.end() ? " (orphan)" : "");
    const bool up = n.value("state", "") == "up";
    const int64_t started = n.value("started_at", int64_t{0});
    rows.push_back({n.value("name", "") + (n.value("self", false) ? " (this)" : ""),
                    n.value("state", ""), n.value("url", ""), n.value("version", ""),
                    up && started ? human_uptime(now - started) : "-",
                    components.empty() ? "-" : components});
  }
  fmt::print("{}", table(rows));
  if (!j.value("connected", true))
    fmt::print("this node cannot reach etcd since {} ago: {}\n",
               human_uptime(now - j.value("disconnected_since", now)), j.value("error", ""));
  return 0;
}

}  // namespace berth::cli
