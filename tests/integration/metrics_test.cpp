// GET /metrics, parsed by a real Prometheus text parser (Debian's python3-prometheus-client),
// so the format is proven rather than eyeballed; and its figures change as components do.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"
#include "http/client.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

// The parser's view of a scrape: {"family name": {"sample{labels}": value}}, or the parser's
// error. Skips (with why) where the parser is not installed.
const char* kParse = R"(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    fam = out.setdefault(f.name + ':' + f.type, {})
    for s in f.samples:
        labels = ','.join('%s=%s' % kv for kv in sorted(s.labels.items()))
        fam[s.name + '{' + labels + '}'] = s.value
print(json.dumps(out))
)";

bool parser_present() {
  return std::system("/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1") == 0;
}

struct Scrape {
  int status = 0;
  std::string content_type;
  json parsed;
};

Scrape scrape(TestDaemon& d, const std::string& token) {
  http::Client c("127.0.0.1", d.port(), token);
  auto r = c.request("GET", "/metrics");
  EXPECT_TRUE(r.has_value());
  if (!r) return {};
  Scrape s{r->status, "", json()};
  if (r->status != 200) return s;
  auto file = d.work() / "scrape.txt";
  std::ofstream(file) << r->body;
  auto script = d.work() / "parse.py";
  std::ofstream(script) << kParse;
  auto out = run_command({"/usr/bin/python3", script.string(), file.string()}, {});
  EXPECT_EQ(out.code, 0) << "the Prometheus parser refused the scrape:\n" << out.err << r->body;
  s.parsed = json::parse(out.out, nullptr, false);
  return s;
}

double value(const Scrape& s, const std::string& family, const std::string& sample) {
  if (!s.parsed.contains(family) || !s.parsed[family].contains(sample)) {
    ADD_FAILURE() << "no " << sample << " in " << family << ": " << s.parsed.dump();
    return -1;
  }
  return s.parsed[family][sample].get<double>();
}

TEST(Metrics, AScrapeParsesAndFollowsARestartAndADeploy) {
  if (!parser_present()) GTEST_SKIP() << "python3-prometheus-client is not installed";
  TestDaemon d;
  auto dir = d.component("app", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  auto before = scrape(d, d.token());
  ASSERT_EQ(before.status, 200);
  EXPECT_EQ(value(before, "berth_component_up:gauge", "berth_component_up{component=app}"), 1);
  EXPECT_EQ(value(before, "berth_component_state:gauge",
                  "berth_component_state{component=app,state=ready}"),
            1);
  EXPECT_EQ(value(before, "berth_component_restarts:counter",
                  "berth_component_restarts_total{component=app}"),
            0);
  EXPECT_GE(value(before, "berth_component_tasks:gauge", "berth_component_tasks{component=app}"),
            1);
  EXPECT_GT(value(before, "berth_component_memory_bytes:gauge",
                  "berth_component_memory_bytes{component=app}"),
            0);
  EXPECT_EQ(value(before, "berth_build_info:gauge", "berth_build_info{version=" BERTH_VERSION "}"),
            1);
  EXPECT_GT(value(before, "process_open_fds:gauge", "process_open_fds{}"), 0);

  ASSERT_EQ(d.cli({"restart", "app"}).code, 0);
  auto deployed =
      d.component("web", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                             "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"deploy", deployed.string()}).code, 0);
  auto after = scrape(d, d.token());
  EXPECT_EQ(value(after, "berth_component_restarts:counter",
                  "berth_component_restarts_total{component=app}"),
            1);
  EXPECT_EQ(value(after, "berth_deployments:counter", "berth_deployments_total{result=success}"),
            1);
  EXPECT_EQ(value(after, "berth_deploy_duration_seconds:histogram",
                  "berth_deploy_duration_seconds_count{}"),
            1);
  EXPECT_EQ(value(after, "berth_deploy_duration_seconds:histogram",
                  "berth_deploy_duration_seconds_bucket{le=+Inf}"),
            1);
  EXPECT_EQ(value(after, "berth_component_up:gauge", "berth_component_up{component=web}"), 1);
}

TEST(Metrics, HealthIsScrapedForComponentsThatHaveACheck) {
  if (!parser_present()) GTEST_SKIP() << "python3-prometheus-client is not installed";
  TestDaemon d;
  const auto port = std::to_string(free_port());
  auto dir = d.component(
      "h", "[run]\ncommand = " + fixture_command({"listen:" + port, "print:up", "forever"}) +
               "\n[ready]\nmarker = \"up\"\n[health]\ntcp = true\nport = " + port +
               "\ninterval = \"50ms\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  d.wait_for("h", [](const json& s) { return s["health"]["state"] == "healthy"; });
  auto s = scrape(d, d.token());
  EXPECT_EQ(value(s, "berth_component_healthy:gauge", "berth_component_healthy{component=h}"), 1);
  EXPECT_EQ(value(s, "berth_component_unhealthy_restarts:counter",
                  "berth_component_unhealthy_restarts_total{component=h}"),
            0);
}

// A component of several instances: each has its own series, labelled with its index.
TEST(Metrics, EachInstanceOfAScaledComponentHasItsSeries) {
  if (!parser_present()) GTEST_SKIP() << "python3-prometheus-client is not installed";
  TestDaemon d;
  auto dir = d.component("two", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\ninstances = 2\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  auto s = scrape(d, d.token());
  for (const std::string i : {"0", "1"}) {
    EXPECT_EQ(
        value(s, "berth_instance_up:gauge", "berth_instance_up{component=two,instance=" + i + "}"),
        1);
    EXPECT_EQ(value(s, "berth_instance_ready:gauge",
                    "berth_instance_ready{component=two,instance=" + i + "}"),
              1);
    EXPECT_GE(value(s, "berth_instance_tasks:gauge",
                    "berth_instance_tasks{component=two,instance=" + i + "}"),
              1);
  }
  EXPECT_EQ(value(s, "berth_component_tasks:gauge", "berth_component_tasks{component=two}"), 2);
  ASSERT_EQ(d.cli({"scale", "two", "1"}).code, 0);
  s = scrape(d, d.token());
  const auto& up = s.parsed.value("berth_instance_up:gauge", json::object());
  EXPECT_FALSE(up.contains("berth_instance_up{component=two,instance=1}")) << s.parsed.dump();
  EXPECT_EQ(value(s, "berth_component_tasks:gauge", "berth_component_tasks{component=two}"), 1);
}

TEST(Metrics, TheTokenIsNeededUnlessMetricsArePublic) {
  TestDaemon locked;
  EXPECT_EQ(scrape(locked, "").status, 401);
  EXPECT_EQ(scrape(locked, "wrong").status, 401);

  TestDaemon open(std::map<std::string, std::string>{}, TestDaemon::Start::kLater);
  open.write_config("[metrics]\npublic = true\n");
  open.start();
  http::Client c("127.0.0.1", open.port(), "");
  auto r = c.request("GET", "/metrics");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("berth_build_info"), std::string::npos);
  EXPECT_EQ(c.request("GET", "/v1/components")->status, 401);  // only /metrics opens
}

}  // namespace
}  // namespace berth::testing
