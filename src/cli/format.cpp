#include "cli/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace berth::cli {

std::string human_bytes(uint64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  if (b < 1024 * 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  if (b < 1024ULL * 1024 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
}

std::string human_uptime(int64_t ms) {
  int64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m", s / 60);
  if (s < 86400) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

// Columns line up by what shows: colour codes (ESC [ ... m) take no room.
size_t visible(const std::string& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;  // one per UTF-8 character
  }
  return n;
}

std::string colored_state(const std::string& state, const std::string& text) {
  const char* c = state == "ready"                                                   ? "\x1b[32m"
                  : state == "starting" || state == "stopping" || state == "backoff" ? "\x1b[33m"
                  : state == "stopped"                                               ? "\x1b[2m"
                                                                                     : "\x1b[31m";
  return c + text + "\x1b[0m";
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], visible(r[i]));
    }
  std::string out;
  for (auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - visible(r[i]) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

int report(const Error& e, bool json) {
  if (json)
    fmt::print(
        stderr, "{}\n",
        nlohmann::json{{"error", {{"code", std::string(wire(e.code))}, {"message", e.message}}}}
            .dump());
  else
    fmt::print(stderr, "berth: {}\n", e.message);
  return 1;
}

int check(const http::ClientResponse& r, bool json) {
  if (r.status / 100 == 2) return 0;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  const bool coded = !j.is_discarded() && j.is_object() && j.contains("error");
  if (json)
    fmt::print(stderr, "{}\n",
               coded ? nlohmann::json{{"error", j["error"]}}.dump()
                     : nlohmann::json{{"error",
                                       {{"code", "bad_response"},
                                        {"message", fmt::format("HTTP {}: {}", r.status, r.body)}}}}
                           .dump());
  else if (coded)
    fmt::print(stderr, "berth: {} ({})\n", j["error"].value("message", "error"),
               j["error"].value("code", "?"));
  else
    fmt::print(stderr, "berth: HTTP {}: {}\n", r.status, r.body);
  return 1;
}

std::expected<nlohmann::json, int> fetch_json(http::Client& client, const std::string& method,
                                              const std::string& target, const std::string& body,
                                              std::chrono::milliseconds timeout, bool json) {
  auto r = client.request(method, target, body, timeout);
  if (!r) return std::unexpected(report(r.error(), json));
  return answer_json(*r, json);
}

std::expected<nlohmann::json, int> answer_json(const http::ClientResponse& r, bool json) {
  if (int rc = check(r, json)) return std::unexpected(rc);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::unexpected(
        report(Error{Code::kBadResponse, "the daemon's answer is not JSON"}, json));
  return j;
}

std::string state_cell(const nlohmann::json& c) {
  std::string s = c.value("state", "?");
  if (s == "backoff" && c.contains("restart_in_ms"))
    s += fmt::format(" ({}ms)", c["restart_in_ms"].get<int64_t>());
  // Several instances: how many of them are ready.
  const auto instances = c.value("instances", nlohmann::json::array());
  if (instances.size() > 1) {
    size_t ready = 0;
    for (auto& i : instances) ready += i.value("state", "") == "ready";
    s += fmt::format(" {}/{}", ready, instances.size());
  }
  return s;
}

std::string components_table(const nlohmann::json& components, bool color) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEMORY"}};
  const auto row = [&rows, color](const std::string& name, const nlohmann::json& c,
                                  const std::string& state, const std::string& restarts) {
    rows.push_back(
        {name, color ? colored_state(c.value("state", ""), state) : state,
         c["pid"].is_null() ? "-" : std::to_string(c["pid"].get<int>()),
         c.value("uptime_ms", 0) ? human_uptime(c["uptime_ms"].get<int64_t>()) : "-", restarts,
         c["pid"].is_null() ? "-" : fmt::format("{:.0f}%", c.value("cpu_percent", 0.0)),
         c.value("memory_bytes", uint64_t{0}) ? human_bytes(c["memory_bytes"].get<uint64_t>())
                                              : "-"});
  };
  for (auto& c : components) {
    row(c.value("name", ""), c, state_cell(c), std::to_string(c.value("restarts", 0)));
    // Several instances: a row each under the component's (its figures are their sums).
    const auto instances = c.value("instances", nlohmann::json::array());
    if (instances.size() > 1)
      for (auto& i : instances)
        row(fmt::format("  #{}", i.value("index", 0)), i, i.value("state", "?"), "");
  }
  return table(rows);
}

}  // namespace berth::cli
