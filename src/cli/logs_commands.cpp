#include "cli/logs_commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/format.h"
#include "core/duration.h"

namespace berth::cli {
using json = nlohmann::json;

namespace {

constexpr const char* kReset = "\x1b[0m";
constexpr const char* kHues[] = {"\x1b[36m", "\x1b[35m", "\x1b[32m",
                                 "\x1b[33m", "\x1b[34m", "\x1b[96m"};

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string local_time(int64_t ts_ms) {
  if (ts_ms <= 0) return "-                      ";
  std::time_t secs = static_cast<std::time_t>(ts_ms / 1000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts_ms % 1000);
}

class Printer {
 public:
  Printer(const LogsOptions& o, size_t width) : o_(o), width_(width) {}

  void line(const json& l) {
    if (o_.json_out) {
      fmt::print("{}\n", l.dump());
      return;
    }
    std::string out;
    if (o_.name.empty()) {
      const std::string name = l.value("component", "");
      std::string prefix = fmt::format("{:<{}} | ", name, width_);
      out += o_.color ? hue(name) + prefix + kReset : prefix;
    }
    if (o_.timestamps) out += local_time(l.value("ts", int64_t{0})) + " ";
    // A component with several instances: which one said it (pm2's `0|name`).
    if (l.contains("instance")) out += fmt::format("#{} ", l.value("instance", 0));
    const std::string stream = l.value("stream", "stdout"), text = l.value("text", "");
    if (o_.color && stream == "stderr")
      out += std::string("\x1b[31m") + text + kReset;
    else if (o_.color && stream == "berth")
      out += std::string("\x1b[2m") + text + kReset;
    else
      out += text;
    fmt::print("{}\n", out);
  }

 private:
  std::string hue(const std::string& name) {
    auto [it, fresh] = hues_.try_emplace(name, kHues[hues_.size() % std::size(kHues)]);
    return it->second;
  }
  const LogsOptions& o_;
  size_t width_;
  std::map<std::string, const char*> hues_;
};

}  // namespace

bool use_color(bool no_color_flag) {
  const char* no = std::getenv("NO_COLOR");
  return !no_color_flag && !(no && *no) && ::isatty(STDOUT_FILENO);
}

Result<int64_t> parse_log_time(const std::string& text, int64_t now) {
  if (auto d = parse_duration(text)) return now - d->count();
  std::tm tm{};
  char sep = 0, z = 0;
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &sep, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z);
  if (n == 3) {  // a date alone: its midnight, local time
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  } else if (n < 7 || (sep != 'T' && sep != ' ') || (n == 8 && z != 'Z')) {
    return fail(Code::kBadRequest,
                fmt::format("\"{}\" is neither a duration ago (\"10m\", \"2h\") nor a time "
                            "(\"2026-12-03 07:00:00\", local; \"2026-12-03T07:00:00Z\", UTC)",
                            text));
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  std::time_t t = n == 8 ? ::timegm(&tm) : std::mktime(&tm);
  return static_cast<int64_t>(t) * 1000;
}

int cmd_logs(http::Client& client, const LogsOptions& o) {
  std::string window;
  for (auto [flag, value] : {std::pair{"since", &o.since}, std::pair{"until", &o.until}}) {
    if (value->empty()) continue;
    auto t = parse_log_time(*value, now_ms());
    if (!t) {
      fmt::print(stderr, "berth: --{}: {}\n", flag, t.error().message);
      return 2;
    }
    window += fmt::format("&{}={}", flag, *t);
  }
  const std::string base =
      o.name.empty() ? "/v1/logs" : fmt::format("/v1/components/{}/logs", o.name);
  if (o.follow && !o.name.empty()) {
    // One component: its server-sent events, the last lines first, then each as it comes.
    Printer print(o, 0);
    auto since = o.since.empty() ? int64_t{0} : *parse_log_time(o.since, now_ms());
    auto r = client.follow(fmt::format("{}?n={}&follow=1", base, o.lines),
                           [&](const http::SseEvent& ev) {
                             if (ev.type != "line") return true;
                             auto l = json::parse(ev.data, nullptr, false);
                             if (l.is_discarded() || l.value("ts", int64_t{0}) < since) return true;
                             print.line(l);
                             std::fflush(stdout);
                             return true;
                           });
    if (!r) return report(r.error(), o.json_out);
    return check(*r, o.json_out);
  }
  auto got = fetch_json(client, "GET", fmt::format("{}?n={}{}", base, o.lines, window), "",
                        std::chrono::seconds(60), o.json_out);
  if (!got) return got.error();
  size_t width = 0;
  for (auto& l : (*got)["lines"]) width = std::max(width, l.value("component", "").size());
  Printer print(o, std::max<size_t>(width, 4));
  // Where each component's lines end so far (a follow prints only what comes after).
  std::map<std::string, uint64_t> seen;
  int64_t newest = 0;
  for (auto& l : (*got)["lines"]) {
    print.line(l);
    seen[l.value("component", "")] = l.value("seq", uint64_t{0});
    newest = std::max(newest, l.value("ts", int64_t{0}));
  }
  std::fflush(stdout);
  if (!o.follow) return 0;

  // Every component, including those that appear later: the merged list, asked again from
  // the newest line shown, each component's lines after the last seq printed.
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto more = fetch_json(client, "GET", fmt::format("/v1/logs?n=10000&since={}", newest), "",
                           std::chrono::seconds(60), o.json_out);
    if (!more) return more.error();
    for (auto& l : (*more)["lines"]) {
      const std::string name = l.value("component", "");
      const uint64_t seq = l.value("seq", uint64_t{0});
      if (auto it = seen.find(name); it != seen.end() && seq <= it->second) continue;
      print.line(l);
      seen[name] = seq;
      newest = std::max(newest, l.value("ts", int64_t{0}));
    }
    std::fflush(stdout);
  }
}

}  // namespace berth::cli
