#include "config/manifest.h"

#include <gtest/gtest.h>

#include "core/signals.h"

namespace berth {
namespace {

Result<Manifest> parse(const std::string& text) {
  return parse_manifest(text, "app/berth.toml");
}

std::string error_of(const std::string& text) {
  auto m = parse(text);
  EXPECT_FALSE(m);
  if (m) return "";
  EXPECT_EQ(m.error().code, Code::kBadManifest);
  return m.error().message;
}

TEST(Manifest, MinimalStringCommandRunsThroughShell) {
  auto m = parse("[run]\ncommand = \"node server.js\"\n");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->run.argv, (std::vector<std::string>{"/bin/sh", "-c", "node server.js"}));
  EXPECT_EQ(m->ready.idle_timeout, Millis(10'000));
  EXPECT_EQ(m->ready.max, Millis(120'000));
  EXPECT_EQ(m->stop.signal, SIGTERM);
  EXPECT_EQ(m->stop.grace, Millis(10'000));
  EXPECT_EQ(m->restart.policy, RestartPolicy::kOnFailure);
}

TEST(Manifest, FullManifest) {
  auto m = parse(R"(
name = "api"
[run]
command = ["node", "server.js"]
env = { PORT = 8080, DEBUG = true, MODE = "prod" }
cwd = "srv"
address = "lease"
[ready]
marker = "listening"
idle_timeout = "5s"
max = "1m"
[stop]
signal = "SIGINT"
grace = "3s"
[restart]
policy = "always"
backoff = "200ms"
backoff_max = "10s"
stable = "30s"
start_limit = 7
)");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->name, "api");
  EXPECT_EQ(m->run.argv, (std::vector<std::string>{"node", "server.js"}));
  EXPECT_EQ(m->run.env.at("PORT"), "8080");
  EXPECT_EQ(m->run.env.at("DEBUG"), "true");
  EXPECT_TRUE(m->run.lease_address);
  EXPECT_EQ(*m->ready.marker, "listening");
  EXPECT_EQ(m->ready.max, Millis(60'000));
  EXPECT_EQ(m->stop.signal, SIGINT);
  EXPECT_EQ(m->restart.policy, RestartPolicy::kAlways);
  EXPECT_EQ(m->restart.start_limit, 7);
}

TEST(Manifest, ServeDefaultsToSocketModeOnLoopback) {
  auto m = parse("[run]\ncommand = \"x\"\n[serve]\nport = 8080\n");
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_TRUE(m->serve);
  EXPECT_EQ(m->serve->port, 8080);
  EXPECT_EQ(m->serve->address, "127.0.0.1");
  EXPECT_EQ(m->serve->mode, ServeMode::kSocket);
  auto v6 =
      parse("[run]\ncommand = \"x\"\n[serve]\nport = 1\naddress = \"::\"\nmode = \"socket\"\n");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->serve->address, "::");
  EXPECT_FALSE(parse("[run]\ncommand = \"x\"\n")->serve);
}

TEST(Manifest, ServeRefusals) {
  const std::string run = "[run]\ncommand = \"x\"\n";
  EXPECT_NE(error_of(run + "[serve]\n").find("serve.port: missing"), std::string::npos);
  EXPECT_NE(error_of(run + "[serve]\nport = 0\n").find("out of range"), std::string::npos);
  EXPECT_NE(error_of(run + "[serve]\nport = 80\naddress = \"localhost\"\n").find("numeric"),
            std::string::npos);
  EXPECT_NE(error_of(run + "[serve]\nport = 80\nmode = \"pipe\"\n").find("\"socket\" or"),
            std::string::npos);
  EXPECT_NE(error_of(run + "[serve]\nport = 80\ninstance_port = 81\n").find("proxy"),
            std::string::npos);
  // 0.0.0.0:80 holds 80 on the loopback addresses the instances would bind.
  EXPECT_NE(error_of(run + "[serve]\nport = 80\naddress = \"0.0.0.0\"\nmode = \"proxy\"\n")
                .find("serve.instance_port: must differ"),
            std::string::npos);
  EXPECT_NE(error_of(run + "[serve]\nport = 80\nbacklog = 5\n").find("unknown key"),
            std::string::npos);
  // berth holds that port itself: a connect there proves nothing about the app.
  EXPECT_NE(error_of(run + "[ready]\nport = 80\n[serve]\nport = 80\n").find("ready.port"),
            std::string::npos);
}

TEST(Manifest, Instances) {
  const std::string run = "[run]\ncommand = \"x\"\n";
  auto one = parse(run);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->run.instances, 1);
  auto four = parse(run + "instances = 4\n");
  ASSERT_TRUE(four.has_value()) << four.error().message;
  EXPECT_EQ(four->run.instances, 4);
  for (const char* bad : {"0", "65", "-1", "\"2\"", "1.5"})
    EXPECT_NE(error_of(run + "instances = " + bad + "\n").find("run.instances"), std::string::npos)
        << bad;
}

TEST(Manifest, ServeProxy) {
  const std::string run = "[run]\ncommand = \"x\"\n";
  auto m = *parse(run + "[serve]\nport = 80\nmode = \"proxy\"\n");
  ASSERT_TRUE(m.serve);
  EXPECT_EQ(m.serve->mode, ServeMode::kProxy);
  EXPECT_EQ(m.serve->instance_port, 80);
  // Ready once the instance accepts on its own address: only then does traffic move to it.
  EXPECT_EQ(m.ready.port, 80);
  auto wide = *parse(run + "[serve]\nport = 80\naddress = \"0.0.0.0\"\nmode = \"proxy\"\n" +
                     "instance_port = 8080\n[health]\ntcp = true\n");
  EXPECT_EQ(wide.serve->instance_port, 8080);
  EXPECT_EQ(wide.ready.port, 8080);
  EXPECT_EQ(wide.health->port, 8080);  // the instance is checked, not the proxy
  auto marked = *parse(run + "[ready]\nmarker = \"up\"\n[serve]\nport = 80\nmode = \"proxy\"\n");
  EXPECT_FALSE(marked.ready.port);  // a readiness of its own is kept
  EXPECT_EQ(parse(run + "[serve]\nport = 80\n")->serve->mode, ServeMode::kSocket);
}

TEST(Manifest, Limits) {
  auto m = parse("[run]\ncommand = \"x\"\n[limits]\nmemory = \"256MiB\"\ncpu = 0.5\npids = 100\n");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->limits.memory, 256u << 20);
  EXPECT_EQ(m->limits.cpu, 0.5);
  EXPECT_EQ(m->limits.pids, 100u);
  EXPECT_TRUE(m->limits.any());
  auto whole = parse("[run]\ncommand = \"x\"\n[limits]\ncpu = 2\nmemory = 1073741824\n");
  ASSERT_TRUE(whole) << whole.error().message;
  EXPECT_EQ(whole->limits.cpu, 2.0);
  EXPECT_EQ(whole->limits.memory, 1u << 30);
  EXPECT_FALSE(parse("[run]\ncommand = \"x\"\n")->limits.any());
  const std::string run = "[run]\ncommand = \"x\"\n[limits]\n";
  EXPECT_NE(error_of(run + "memory = \"lots\"\n").find("limits.memory"), std::string::npos);
  EXPECT_NE(error_of(run + "memory = 10\n").find("at least 1MiB"), std::string::npos);
  EXPECT_NE(error_of(run + "cpu = 0\n").find("limits.cpu"), std::string::npos);
  EXPECT_NE(error_of(run + "cpu = \"half\"\n").find("limits.cpu"), std::string::npos);
  EXPECT_NE(error_of(run + "pids = 0\n").find("limits.pids"), std::string::npos);
  EXPECT_NE(error_of(run + "swap = 1\n").find("unknown key"), std::string::npos);
}

TEST(Manifest, Health) {
  auto http = parse(
      "[run]\ncommand = \"x\"\n[ready]\nport = 3000\n[health]\nhttp = \"/healthz\"\n"
      "interval = \"5s\"\nretries = 2\nstart_period = \"30s\"\n");
  ASSERT_TRUE(http) << http.error().message;
  EXPECT_EQ(http->health->kind, HealthSpec::Kind::kHttp);
  EXPECT_EQ(http->health->path, "/healthz");
  EXPECT_EQ(http->health->port, 3000);  // [ready] port
  EXPECT_EQ(http->health->interval, Millis(5000));
  EXPECT_EQ(http->health->timeout, Millis(2000));
  EXPECT_EQ(http->health->retries, 2);
  EXPECT_EQ(http->health->start_period, Millis(30'000));
  auto tcp = parse("[run]\ncommand = \"x\"\n[serve]\nport = 80\n[health]\ntcp = true\n");
  ASSERT_TRUE(tcp) << tcp.error().message;
  EXPECT_EQ(tcp->health->port, 80);  // [serve] port
  auto cmd = parse("[run]\ncommand = \"x\"\n[health]\ncommand = [\"curl\", \"-f\", \"x\"]\n");
  ASSERT_TRUE(cmd) << cmd.error().message;
  EXPECT_EQ(cmd->health->argv, (std::vector<std::string>{"curl", "-f", "x"}));
  const std::string run = "[run]\ncommand = \"x\"\n[health]\n";
  EXPECT_NE(error_of(run + "interval = \"1s\"\n").find("exactly one"), std::string::npos);
  EXPECT_NE(error_of(run + "tcp = true\ncommand = \"x\"\nport = 1\n").find("exactly one"),
            std::string::npos);
  EXPECT_NE(error_of(run + "tcp = true\n").find("health.port: missing"), std::string::npos);
  EXPECT_NE(error_of(run + "http = \"healthz\"\nport = 1\n").find("starting with /"),
            std::string::npos);
  EXPECT_NE(error_of(run + "tcp = true\nport = 1\nretries = 0\n").find("out of range"),
            std::string::npos);
}

TEST(Manifest, ErrorsNameFileKeyAndReason) {
  auto msg = error_of("[run]\ncommand = \"x\"\n[ready]\nidle_timeout = \"soon\"\n");
  EXPECT_NE(msg.find("app/berth.toml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ready.idle_timeout"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a duration"), std::string::npos) << msg;
}

TEST(Manifest, UnknownKeysAreErrors) {
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\ncomand = \"y\"\n").find("run.comand"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\n[redy]\n").find("redy"), std::string::npos);
}

TEST(Manifest, CommandIsRequiredAndNonEmpty) {
  EXPECT_NE(error_of("name = \"x\"\n").find("run.command"), std::string::npos);
  EXPECT_NE(error_of("[run]\nenv = {}\n").find("run.command"), std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = []\n").find("run.command"), std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"  \"\n").find("run.command"), std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = 5\n").find("run.command"), std::string::npos);
}

TEST(Manifest, BadValues) {
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\n[restart]\npolicy = \"sometimes\"\n")
                .find("restart.policy"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\n[ready]\nport = 70000\n").find("ready.port"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\n[stop]\nsignal = \"SIGNOPE\"\n").find("stop.signal"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\ncwd = \"../etc\"\n").find("run.cwd"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\naddress = \"0.0.0.0\"\n").find("run.address"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\n[ready]\nmarker_regex = \"(\"\n")
                .find("ready.marker_regex"),
            std::string::npos);
  // RE2 refuses what it cannot run in linear time (backreferences, lookaround).
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\n[ready]\nmarker_regex = '(a)\\1'\n")
                .find("ready.marker_regex: not a valid RE2 regular expression"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\n[watch]\nignore = [\"ok\", \"[z-a]\"]\n")
                .find("watch.ignore[1]"),
            std::string::npos);
  EXPECT_NE(error_of("name = \"bad name\"\n[run]\ncommand = \"x\"\n").find("name"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\ncommand = \"x\"\nenv = { \"1X\" = \"y\" }\n").find("run.env.1X"),
            std::string::npos);
}

TEST(Manifest, DeployRolloutIsParallelUnlessRolling) {
  auto m = parse_manifest("[run]\ncommand = \"x\"\n", "berth.toml");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->deploy.rolling);
  m = parse_manifest("[run]\ncommand = \"x\"\n[deploy]\nrollout = \"rolling\"\nmax_parallel = 2\n",
                     "berth.toml");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->deploy.rolling);
  EXPECT_EQ(m->deploy.max_parallel, 2);
  EXPECT_NE(
      error_of("[run]\ncommand = \"x\"\n[deploy]\nrollout = \"canary\"\n").find("deploy.rollout"),
      std::string::npos);
  EXPECT_NE(
      error_of("[run]\ncommand = \"x\"\n[deploy]\nmax_parallel = 0\n").find("deploy.max_parallel"),
      std::string::npos);
}

TEST(Manifest, RestartCooldownIsADurationOrNever) {
  auto m = parse_manifest("[run]\ncommand = \"x\"\n", "berth.toml");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->restart.cooldown, Millis(120'000));
  m = parse_manifest("[run]\ncommand = \"x\"\n[restart]\ncooldown = \"never\"\n", "berth.toml");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->restart.cooldown);
  m = parse_manifest("[run]\ncommand = \"x\"\n[restart]\ncooldown = \"30s\"\n", "berth.toml");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->restart.cooldown, Millis(30'000));
  EXPECT_NE(
      error_of("[run]\ncommand = \"x\"\n[restart]\ncooldown = \"soon\"\n").find("restart.cooldown"),
      std::string::npos);
}

TEST(Manifest, SyntaxErrorsCarryLineAndColumn) {
  auto msg = error_of("[run]\ncommand = \n");
  EXPECT_NE(msg.find("app/berth.toml:2:"), std::string::npos) << msg;
}

TEST(Signals, ParseNamesAndNumbers) {
  EXPECT_EQ(parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(parse_signal("INT"), SIGINT);
  EXPECT_EQ(parse_signal("9"), SIGKILL);
  EXPECT_FALSE(parse_signal("0"));
  EXPECT_FALSE(parse_signal("SIGFOO"));
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
}

}  // namespace
}  // namespace berth
