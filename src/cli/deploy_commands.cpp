#include "cli/deploy_commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "archive/pack.h"
#include "cli/detach_on_interrupt.h"
#include "cli/format.h"
#include "config/manifest.h"
#include "core/duration.h"
#include "core/random_id.h"

namespace berth::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Every byte but the unreserved ones as %XX (RFC 3986), for a query value.
std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// A packed upload in the temp dir, removed when the command ends.
struct TempArchive {
  fs::path path;
  ~TempArchive() {
    std::error_code ec;
    if (!path.empty()) fs::remove(path, ec);
  }
};

std::string strip_archive_suffix(std::string n) {
  for (const char* suf : {".tar.gz", ".tgz", ".tar"})
    if (n.ends_with(suf)) return n.substr(0, n.size() - std::string(suf).size());
  return n;
}

// A phase as people read it.
std::string phase_text(const std::string& phase) {
  return phase == "rollout-wait" ? "waiting for its turn in the rollout" : phase;
}

void print_event(const http::SseEvent& ev, const json& e) {
  const std::string& type = ev.type;
  if (type == "phase") {
    fmt::print("• {}\n", phase_text(e.value("phase", "")));
  } else if (type == "install" && e.contains("node")) {
    fmt::print("  │ {}: {}\n", e.value("node", ""), e.value("line", ""));
  } else if (type == "install") {
    fmt::print("  │ {}\n", e.value("line", ""));
  } else if (type == "received") {
    fmt::print("  received {} ({})\n", human_bytes(e.value("size", uint64_t{0})),
               e.value("digest", "").substr(0, 19));
  } else if (type == "extracted") {
    fmt::print(
        "  {} files, {}{}\n", e.value("files", 0), human_bytes(e.value("bytes", uint64_t{0})),
        e.contains("unwrapped") ? " (unwrapped " + e["unwrapped"].get<std::string>() + "/)" : "");
  } else if (type == "info" || type == "rollback") {
    fmt::print("  {}\n", e.value("message", ""));
  } else if (type == "cache") {
    const std::string result = e.value("cache", ""), key = e.value("key", "").substr(0, 12);
    if (result == "hit")
      fmt::print("  install cache hit {}: {} files {}\n", key, e.value("files", 0),
                 e.value("copied", 0) ? "copied" : "linked");
    else if (result == "miss")
      fmt::print("  stored in the install cache as {} ({} files)\n", key, e.value("files", 0));
    else
      fmt::print("  {}\n", e.value("warning", ""));
  } else if (type == "cluster") {
    auto names = [](const json& a) {
      std::string out;
      for (auto& n : a) out += (out.empty() ? "" : ", ") + n.get<std::string>();
      return out;
    };
    const auto& expected = e.value("expected", json::array());
    const auto& down = e.value("down", json::array());
    if (expected.empty() && down.empty())
      fmt::print("  cluster: this node is the only one\n");
    else if (expected.empty())
      fmt::print("  cluster: reaches no peer ({} down)\n", names(down));
    else
      fmt::print("  cluster: deploying to {}{}\n", names(expected),
                 down.empty() ? "" : " (down: " + names(down) + ")");
  } else if (type == "peer") {
    std::string status = e.value("status", "running");
    std::string what = status == "running" ? phase_text(e.value("phase", "")) : status;
    if (e.contains("error") && e["error"].is_object())
      what += ": " + e["error"].value("message", "") + " (" + e["error"].value("code", "") + ")";
    fmt::print("  {}: {}\n", e.value("node", "?"), what);
  } else if (type == "gap") {
    fmt::print("  … {} events not kept\n", e.value("dropped", 0));
  }
}

// On stderr (stdout of --no-follow is the id alone): how much stayed behind, and what.
void say_left_out(const std::vector<std::string>& left_out) {
  if (left_out.empty()) return;
  constexpr size_t kShown = 6;
  std::string names;
  for (size_t i = 0; i < left_out.size() && i < kShown; ++i) names += (i ? ", " : "") + left_out[i];
  if (left_out.size() > kShown) names += fmt::format(" and {} more", left_out.size() - kShown);
  fmt::print(stderr, "left out {} path{} (.gitignore, .berthignore, .git, node_modules): {}\n",
             left_out.size(), left_out.size() == 1 ? "" : "s", names);
}

}  // namespace

int follow_deployment(http::Client& client, const std::string& id, bool json_out) {
  DetachOnInterrupt detach(id);
  std::string status, last_id;
  json end;
  const auto started = std::chrono::steady_clock::now();
  // A dropped stream resumes where it stopped (Last-Event-ID), a few times.
  for (int attempt = 0; attempt < 5 && status.empty(); ++attempt) {
    auto r = client.follow(
        "/v1/deployments/" + id + "/events",
        [&](const http::SseEvent& ev) {
          if (!ev.id.empty()) last_id = ev.id;
          if (json_out) fmt::print("{}\n", ev.data);
          if (json_out && ev.type != "end") return true;  // 1,000,000 install lines: no parsing
          auto e = json::parse(ev.data, nullptr, false);
          if (e.is_discarded()) return true;
          if (!json_out) print_event(ev, e);
          if (ev.type == "end") {
            status = e.value("status", "?");
            end = e;
            return false;
          }
          return true;
        },
        last_id, [] { std::fflush(stdout); });
    if (r && r->status / 100 != 2) return check(*r, json_out);
  }
  if (status.empty())
    return report(Error{Code::kDaemonUnreachable, "lost the event stream of " + id}, json_out);
  if (!json_out) {
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (status == "success" && end.contains("peer_results"))
      fmt::print("done: {} succeeded on {} nodes in {:.1f}s\n", id, end["peer_results"].size() + 1,
                 secs);
    else if (status == "success")
      fmt::print("done: {} succeeded in {:.1f}s\n", id, secs);
    else
      fmt::print(stderr, "berth: deployment {} {}: {} ({}, during {})\n", id, status,
                 end["error"].value("message", ""), end["error"].value("code", ""),
                 end["error"].value("phase", ""));
  }
  return status == "success" ? 0 : 1;
}

int cmd_deploy(http::Client& client, const DeployOptions& o) {
  std::error_code ec;
  fs::path src = fs::absolute(o.path, ec);
  std::string name = o.name;
  TempArchive packed;
  fs::path payload = src;
  if (fs::is_directory(src, ec)) {
    // Check the manifest here: a typo is reported before anything is uploaded.
    auto m = load_manifest(src);
    if (!m) return report(m.error(), o.json_out);
    if (name.empty())
      name = !m->name.empty() ? m->name : src.lexically_normal().filename().string();
    if (name.empty()) name = src.lexically_normal().parent_path().filename().string();
    packed.path = fs::temp_directory_path() / ("berth-deploy-" + random_hex(6) + ".tar.gz");
    auto stats = pack_directory(src, packed.path);
    if (!stats) return report(stats.error(), o.json_out);
    if (!o.json_out) say_left_out(stats->left_out);
    payload = packed.path;
  } else if (fs::is_regular_file(src, ec)) {
    if (name.empty()) name = strip_archive_suffix(src.filename().string());
  } else {
    return report(Error{Code::kBadRequest, o.path + " is neither a directory nor an archive"},
                  o.json_out);
  }
  const bool bar = !o.json_out && ::isatty(STDERR_FILENO);
  std::string target = "/v1/components/" + name;
  if (!o.env.empty()) target += "?env=" + url_encode(o.env.dump());
  auto r = client.upload("PUT", target, payload.string(), [&](uint64_t sent, uint64_t total) {
    if (!bar) return;
    int pct = total ? static_cast<int>(sent * 100 / total) : 100;
    fmt::print(stderr, "\rupload [{:<30}] {:3}% {}", std::string(pct * 30 / 100, '#'), pct,
               human_bytes(total));
    if (sent == total) fmt::print(stderr, "\n");
  });
  if (!r) return report(r.error(), o.json_out);
  auto answer = answer_json(*r, o.json_out);
  if (!answer) return answer.error();
  const auto& row = *answer;
  const std::string id = row.value("id", "");
  if (!o.follow) {
    fmt::print("{}\n", o.json_out ? row.dump() : id);
    return 0;
  }
  if (!o.json_out) fmt::print("deploying {} as {}\n", name, id);
  return follow_deployment(client, id, o.json_out);
}

int cmd_rollback(http::Client& client, const std::string& name, const std::string& to, bool follow,
                 bool json_out) {
  std::string body = to.empty() ? "" : json{{"to", to}}.dump();
  auto got = fetch_json(client, "POST", "/v1/components/" + name + "/rollback", body,
                        std::chrono::seconds(60), json_out);
  if (!got) return got.error();
  auto& row = *got;
  if (!follow) {
    fmt::print("{}\n", json_out ? row.dump() : row.value("id", ""));
    return 0;
  }
  // The release it goes back to is the deployment's own first line.
  if (!json_out) fmt::print("rolling {} back as {}\n", name, row.value("id", ""));
  return follow_deployment(client, row.value("id", ""), json_out);
}

int cmd_deployments(http::Client& client, const std::string& name, bool json_out) {
  auto got = fetch_json(client, "GET", "/v1/deployments?component=" + name, "",
                        std::chrono::seconds(60), json_out);
  if (!got) return got.error();
  auto& j = *got;
  // No history for a name that is no component: say so rather than print an empty table.
  if (!name.empty() && j["deployments"].empty()) {
    auto c = client.request("GET", "/v1/components/" + name);
    if (!c) return report(c.error(), json_out);
    if (c->status / 100 != 2) return check(*c, json_out);
  }
  if (json_out) {
    fmt::print("{}\n", j.dump());
    return 0;
  }
  // Every component's history names each row's component; one component's needs no column.
  const bool all = name.empty();
  std::vector<std::vector<std::string>> rows{
      {"ID", "KIND", "STATUS", "RELEASE", "AGE", "DIGEST", "ERROR"}};
  if (all) rows[0].insert(rows[0].begin() + 1, "COMPONENT");
  const auto now = now_ms();
  for (auto& d : j["deployments"]) {
    std::string digest =
        d["digest"].is_string() ? d["digest"].get<std::string>().substr(7, 12) : "-";
    std::string error = d["error"].is_object() ? d["error"].value("code", "") : "";
    rows.push_back({d.value("id", ""), d.value("kind", ""), d.value("status", ""),
                    d.value("release", ""), human_uptime(now - d.value("created_at", int64_t{0})),
                    digest, error});
    if (all) rows.back().insert(rows.back().begin() + 1, d.value("component", ""));
    // A cluster deploy: one indented row per peer, under its deployment.
    for (auto& p : d.value("peer_results", json::array())) {
      rows.push_back({"  " + p.value("node", "?"), "", p.value("status", ""), "", "", "",
                      p["error"].is_object() ? p["error"].value("code", "") : ""});
      if (all) rows.back().insert(rows.back().begin() + 1, "");
    }
  }
  fmt::print("{}", table(rows));
  return 0;
}

}  // namespace berth::cli
