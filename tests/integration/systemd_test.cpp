// Running under systemd: the notify protocol of a Type=notify unit (READY=1 once the API
// listens, STOPPING=1 when the stop begins), seen on a NOTIFY_SOCKET the test provides, and
// never passed on to components.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/unique_fd.h"
#include "harness.h"

namespace berth::testing {
namespace {

// A datagram socket bound at `path`, as systemd's.
class NotifyListener {
 public:
  explicit NotifyListener(const std::filesystem::path& path) : path_(path) {
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    timeval tv{60, 0};  // a daemon that never notifies fails the test instead of hanging it
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  std::string next() {
    char buf[4096];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
};

TEST(Systemd, NotifiesReadyWhenListeningAndStoppingWhenItStops) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  const auto path = d.work() / "notify.sock";
  NotifyListener systemd(path);
  d.set_env("NOTIFY_SOCKET", path.string());
  d.start();
  auto ready = systemd.next();
  EXPECT_NE(ready.find("READY=1"), std::string::npos) << ready;
  EXPECT_NE(ready.find("MAINPID=" + std::to_string(d.pid())), std::string::npos) << ready;
  // By READY=1 the API answers.
  EXPECT_EQ(d.api("GET", "/healthz").status, 200);
  // Its components never see the daemon's notify socket.
  auto dir = d.component(
      "env", "[run]\ncommand = " + fixture_command({"env:NOTIFY_SOCKET", "print:up", "forever"}) +
                 "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  EXPECT_NE(d.cli({"logs", "env"}).out.find("NOTIFY_SOCKET=\n"), std::string::npos);
  EXPECT_EQ(d.shutdown(), 0);
  auto stopping = systemd.next();
  EXPECT_NE(stopping.find("STOPPING=1"), std::string::npos) << stopping;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Systemd, StartupWritesANotifyUnitThatOwnsItsCgroupAndUnstartupRemovesIt) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  const auto units = d.work() / "units";
  auto r = d.cli({"startup", "--unit-dir", units.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto unit = read_text(units / "berth.service");
  for (const std::string& want : std::vector<std::string>{
           "Type=notify", "Delegate=yes", "KillMode=mixed", "Restart=on-failure",
           "ExecStart=\"" + std::string(BERTH_BIN) + "\" daemon",
           "Environment=\"BERTH_HOME=" + d.home().string() + "\"", "WantedBy=multi-user.target"})
    EXPECT_NE(unit.find(want), std::string::npos) << want << " in\n" << unit;
  EXPECT_NE(d.cli({"startup", "--user", "--print"}).out.find("WantedBy=default.target"),
            std::string::npos);
  auto gone = d.cli({"unstartup", "--unit-dir", units.string()});
  EXPECT_EQ(gone.code, 0);
  EXPECT_FALSE(std::filesystem::exists(units / "berth.service"));
  EXPECT_NE(d.cli({"unstartup", "--unit-dir", units.string()}).out.find("nothing to remove"),
            std::string::npos);
}

std::filesystem::path cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);)
    if (line.find(" - cgroup2 ") != std::string::npos) {
      std::istringstream f(line);
      std::string id, parent, dev, root, point;
      f >> id >> parent >> dev >> root >> point;
      return point;
    }
  return {};
}

// As under systemd with Delegate=yes: started in a group of its own, the daemon moves into a
// leaf, so that group holds no process and its components' groups sit beside the leaf; at
// its stop it goes back and removes the leaf.
TEST(Systemd, ADaemonStartedInItsOwnGroupMovesIntoALeaf) {
  const auto mount = cgroup2_mount();
  const auto group = mount / ("berth-delegated-" + std::to_string(::getpid()));
  if (mount.empty() || ::mkdir(group.c_str(), 0755) != 0)
    GTEST_SKIP() << "cannot create a cgroup v2 group here (needs root and a cgroup2 mount)";
  {
    TestDaemon d({}, TestDaemon::Start::kLater);
    d.start_in_cgroup(group);
    d.start();
    const auto own = read_text("/proc/" + std::to_string(d.pid()) + "/cgroup");
    const std::string prefix = "0::/" + group.filename().string() + "/berth-";
    EXPECT_NE(own.find(prefix), std::string::npos) << own;
    EXPECT_NE(own.find(".daemon\n"), std::string::npos) << own;
    EXPECT_EQ(read_text(group / "cgroup.procs"), "");  // no process left in the group itself
    auto dir = d.component("c", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n");
    ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
    const std::string cg = d.api("GET", "/v1/components/c").body.value("cgroup", "");
    EXPECT_TRUE(cg.starts_with((group / "berth-").string())) << cg;
    EXPECT_EQ(cg.find(".daemon"), std::string::npos) << cg;  // beside the leaf, not in it
    EXPECT_EQ(d.shutdown(), 0);
  }
  // Nothing of berth's is left in the group: it can be removed.
  EXPECT_EQ(::rmdir(group.c_str()), 0) << std::strerror(errno);
}

TEST(Systemd, TheUnitPassesSystemdAnalyzeVerify) {
  if (run_command({"/bin/sh", "-c", "command -v systemd-analyze"}, {}).code != 0)
    GTEST_SKIP() << "systemd-analyze is not installed";
  TestDaemon d({}, TestDaemon::Start::kLater);
  const auto units = d.work() / "units";
  ASSERT_EQ(d.cli({"startup", "--unit-dir", units.string()}).code, 0);
  auto v = run_command(
      {"/bin/sh", "-c", "systemd-analyze verify '" + (units / "berth.service").string() + "'"}, {});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_EQ(v.err, "") << v.err;
}

}  // namespace
}  // namespace berth::testing
