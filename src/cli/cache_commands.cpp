#include "cli/cache_commands.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/format.h"
#include "core/duration.h"

namespace berth::cli {
using json = nlohmann::json;

int cmd_cache_ls(http::Client& client, bool json_out) {
  auto got = fetch_json(client, "GET", "/v1/cache", "", std::chrono::seconds(60), json_out);
  if (!got) return got.error();
  auto& j = *got;
  if (json_out) {
    fmt::print("{}\n", j.dump());
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"KEY", "SIZE", "FILES", "LAST USED", "IN USE", "COMMAND"}};
  for (auto& e : j["entries"]) {
    std::string key = e.value("key", "");
    rows.push_back({key.substr(0, 12), human_bytes(e.value("bytes", uint64_t{0})),
                    std::to_string(e.value("files", uint64_t{0})),
                    human_uptime(now_ms() - e.value("last_used_ms", int64_t{0})) + " ago",
                    e.value("busy", false)     ? "installing"
                    : e.value("in_use", false) ? "yes"
                                               : "no",
                    e.value("command", "")});
  }
  fmt::print("{}", table(rows));
  uint64_t max = j.value("max_bytes", uint64_t{0});
  fmt::print("{} entries, {} of {} in {} ({} locks)\n", j["entries"].size(),
             human_bytes(j.value("bytes", uint64_t{0})), max ? human_bytes(max) : "no limit",
             j.value("dir", ""), j.value("lock", ""));
  return 0;
}

int cmd_cache_rm(http::Client& client, const std::string& key, bool force, bool json_out) {
  auto got = fetch_json(client, "DELETE", "/v1/cache/" + key + (force ? "?force=true" : ""), "",
                        std::chrono::minutes(10), json_out);
  if (!got) return got.error();
  auto& j = *got;
  if (json_out)
    fmt::print("{}\n", j.dump());
  else
    fmt::print("removed {} ({}, {} files)\n", j.value("key", "").substr(0, 12),
               human_bytes(j.value("bytes", uint64_t{0})), j.value("files", uint64_t{0}));
  return 0;
}

int cmd_cache_prune(http::Client& client, const std::string& max_size, bool all, bool json_out) {
  json body = {{"all", all}};
  if (!max_size.empty()) body["max_size"] = max_size;
  auto got = fetch_json(client, "POST", "/v1/cache/prune", body.dump(), std::chrono::minutes(10),
                        json_out);
  if (!got) return got.error();
  auto& j = *got;
  if (json_out) {
    fmt::print("{}\n", j.dump());
    return 0;
  }
  for (auto& k : j["removed"]) fmt::print("removed  {}\n", k.get<std::string>().substr(0, 12));
  for (auto& k : j["kept_in_use"])
    fmt::print("kept     {} (in use by a live release)\n", k.get<std::string>().substr(0, 12));
  fmt::print("freed {}, {} left; {} leftovers of dead installers swept\n",
             human_bytes(j.value("freed_bytes", uint64_t{0})),
             human_bytes(j.value("remaining_bytes", uint64_t{0})),
             j.value("partials_swept", uint64_t{0}));
  return 0;
}

}  // namespace berth::cli
